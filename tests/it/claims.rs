//! What Latchkey says about users: the OIDC Core §5.1 claims and groups,
//! set from the command line and the admin API, released at UserInfo by
//! scope (§5.4), and `acr`/`amr` in ID tokens.

use std::collections::BTreeSet;

use latchkey_core::admin::{NewClient, UserChanges};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::cli::{latchkey, run_with_stdin, stderr_line};
use crate::registration::{admin_token, initial_token, register, web_metadata};
use crate::support::*;

const ALL_SCOPES: &str = "openid profile email address phone groups";

/// Every settable claim, with a value.
pub fn full_claims() -> Value {
    json!({
        "name": "Alice Liddell",
        "given_name": "Alice",
        "family_name": "Liddell",
        "middle_name": "Pleasance",
        "nickname": "al",
        "profile": "https://alice.example/about",
        "picture": "https://example.com/alice.png",
        "website": "https://alice.example",
        "gender": "female",
        "birthdate": "1852-05-04",
        "zoneinfo": "Europe/London",
        "locale": "en-GB",
        "email": "alice@example.com",
        "email_verified": true,
        "phone_number": "+441865270000",
        "phone_number_verified": false,
        "address": {"locality": "Oxford", "country": "GB"},
    })
}

async fn full_user(app: &TestApp, username: &str) -> latchkey_domain::User {
    app.core
        .admin(Actor::CommandLine)
        .users()
        .create(
            username,
            PASSWORD.into(),
            UserChanges {
                claims: full_claims().as_object().cloned().unwrap(),
                groups: Some(vec!["staff".into(), "readers".into()]),
            },
        )
        .await
        .expect("user created")
}

async fn everything_client(app: &TestApp) -> TestClient {
    app.add_client(NewClient {
        name: "Claims app".into(),
        redirect_uris: vec![REDIRECT.into()],
        scope: Some(ALL_SCOPES.into()),
        ..NewClient::default()
    })
    .await
}

/// Signs `username` in with `scope` and returns the token response.
async fn tokens_for(
    app: &TestApp,
    b: &reqwest::Client,
    client: &TestClient,
    username: &str,
    scope: &str,
) -> Value {
    let (verifier, challenge) = pkce();
    let back = sign_in(
        app,
        b,
        &authorize_url(app, client.id(), &challenge, &[("scope", scope)]),
        username,
    )
    .await;
    let code = param(&back, "code").unwrap_or_else(|| panic!("a code: {back}"));
    let resp = redeem(app, client, &code, &verifier).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn userinfo(app: &TestApp, access_token: &str) -> serde_json::Map<String, Value> {
    let resp = api()
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn names(m: &serde_json::Map<String, Value>) -> BTreeSet<&str> {
    m.keys().map(String::as_str).collect()
}

/// What every ID token from the code flow says about the sign-in itself.
const ID_TOKEN_PROTOCOL_CLAIMS: [&str; 11] = [
    "iss",
    "aud",
    "azp",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "sid",
    "acr",
    "amr",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_releases_exactly_the_claims_of_each_scope() {
    let app = TestApp::spawn().await;
    let user = full_user(&app, "alice").await;
    app.core
        .admin(Actor::CommandLine)
        .users()
        .create("bob", PASSWORD.into(), UserChanges::default())
        .await
        .unwrap();
    let client = everything_client(&app).await;
    let b = browser();
    let profile = [
        "sub",
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "updated_at",
    ];
    for (scope, expected) in [
        ("openid", &["sub"][..]),
        ("openid profile", &profile[..]),
        ("openid email", &["sub", "email", "email_verified"][..]),
        ("openid address", &["sub", "address"][..]),
        (
            "openid phone",
            &["sub", "phone_number", "phone_number_verified"][..],
        ),
        ("openid groups", &["sub", "groups"][..]),
    ] {
        let t = tokens_for(&app, &b, &client, "alice", scope).await;
        let info = userinfo(&app, t["access_token"].as_str().unwrap()).await;
        assert_eq!(names(&info), expected.iter().copied().collect(), "{scope}");
        assert_eq!(info["sub"], user.id.as_str());
        for (name, value) in full_claims().as_object().unwrap() {
            if let Some(got) = info.get(name) {
                assert_eq!(got, value, "{scope}: {name}");
            }
        }
        if scope == "openid groups" {
            assert_eq!(info["groups"], json!(["staff", "readers"]));
        }
        // The ID token carries the same claims, but for the groups, which
        // only a claims request puts there.
        let id = crate::flows::decode_segment(t["id_token"].as_str().unwrap(), 1);
        let id = id.as_object().unwrap();
        let about_user: BTreeSet<&str> = names(id)
            .into_iter()
            .filter(|n| !ID_TOKEN_PROTOCOL_CLAIMS.contains(n))
            .collect();
        let expected_in_id: BTreeSet<&str> = expected
            .iter()
            .copied()
            .filter(|n| *n != "groups")
            .collect();
        assert_eq!(about_user, expected_in_id, "{scope}: the ID token");
        for name in &expected_in_id {
            assert_eq!(id[*name], info[*name], "{scope}: {name} in the ID token");
        }
        if scope == "openid profile" {
            assert_eq!(info["updated_at"], user.updated_at);
            assert_eq!(info["preferred_username"], "alice");
        }
    }

    // A user with no claims: only what the account itself says.
    let b = browser();
    let t = tokens_for(&app, &b, &client, "bob", ALL_SCOPES).await;
    let info = userinfo(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(
        names(&info),
        ["sub", "preferred_username", "updated_at"]
            .into_iter()
            .collect()
    );
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Groups {
    #[serde(default)]
    groups: Vec<String>,
}
impl AdditionalClaims for Groups {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relying_party_reads_every_claim_with_openidconnect() {
    let app = TestApp::spawn().await;
    let user = full_user(&app, "alice").await;
    let web = everything_client(&app).await;
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(web.id().into()),
        Some(ClientSecret::new(web.secret().into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for s in ["profile", "email", "address", "phone", "groups"] {
        req = req.add_scope(Scope::new(s.into()));
    }
    let (auth_url, _, nonce) = req.set_pkce_challenge(challenge).url();
    let back = sign_in(&app, &browser(), auth_url.as_str(), "alice").await;
    let code = param(&back, "code").expect("code");
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");

    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("ID token validates");
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("urn:latchkey:acr:pwd")
    );
    assert_eq!(
        claims
            .auth_method_refs()
            .map(|m| m.iter().map(|r| r.as_str()).collect::<Vec<_>>()),
        Some(vec!["pwd"])
    );
    // The scope's claims are in the ID token too, for relying parties that
    // read nothing else.
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(
        claims
            .given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("Alice")
    );

    let info: UserInfoClaims<Groups, CoreGenderClaim> = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject().as_str(), user.id.as_str());
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert_eq!(info.email_verified(), Some(true));
    assert_eq!(
        info.phone_number().map(|p| p.as_str()),
        Some("+441865270000")
    );
    assert_eq!(info.phone_number_verified(), Some(false));
    assert_eq!(
        info.given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("Alice")
    );
    assert_eq!(
        info.picture().and_then(|p| p.get(None)).map(|p| p.as_str()),
        Some("https://example.com/alice.png")
    );
    assert_eq!(info.birthdate().map(|b| b.as_str()), Some("1852-05-04"));
    assert_eq!(info.locale().map(|l| l.as_str()), Some("en-GB"));
    assert_eq!(info.zoneinfo().map(|z| z.as_str()), Some("Europe/London"));
    assert_eq!(
        info.updated_at().map(|t| t.timestamp()),
        Some(user.updated_at)
    );
    let address = info.address().expect("address");
    assert_eq!(
        address.locality.as_ref().map(|l| l.as_str()),
        Some("Oxford")
    );
    assert_eq!(address.country.as_ref().map(|c| c.as_str()), Some("GB"));
    assert_eq!(info.additional_claims().groups, ["staff", "readers"]);
}

#[tokio::test]
async fn discovery_lists_the_scopes_claims_and_acr_values() {
    let app = TestApp::spawn().await;
    let meta: Value = api()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = |name: &str| -> BTreeSet<String> {
        meta[name]
            .as_array()
            .unwrap_or_else(|| panic!("{name} in {meta}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let scopes = list("scopes_supported");
    for s in ["openid", "profile", "email", "address", "phone", "groups"] {
        assert!(scopes.contains(s), "{s} in {scopes:?}");
    }
    let claims = list("claims_supported");
    for c in [
        "sub",
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "updated_at",
        "email",
        "email_verified",
        "address",
        "phone_number",
        "phone_number_verified",
        "groups",
        "acr",
        "amr",
        "auth_time",
    ] {
        assert!(claims.contains(c), "{c} in {claims:?}");
    }
    assert_eq!(
        meta["acr_values_supported"],
        json!([
            "urn:latchkey:acr:pwd",
            "urn:latchkey:acr:mfa",
            "urn:latchkey:acr:phr"
        ])
    );
}

/// A client registered (RFC 7591) with the new scopes may ask for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_client_may_ask_for_address_phone_and_groups() {
    let app = TestApp::spawn().await;
    full_user(&app, "alice").await;
    let mut metadata = web_metadata();
    metadata["scope"] = "openid phone address groups".into();
    let info = register(&app, &initial_token(&app, 1).await, metadata).await;
    let granted: BTreeSet<&str> = info["scope"].as_str().unwrap().split(' ').collect();
    assert_eq!(
        granted,
        ["openid", "phone", "address", "groups"]
            .into_iter()
            .collect()
    );
    let client = crate::registration::test_client(&app, &info).await;
    let b = browser();
    let t = tokens_for(&app, &b, &client, "alice", "openid phone address groups").await;
    let info = userinfo(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(
        names(&info),
        [
            "sub",
            "address",
            "groups",
            "phone_number",
            "phone_number_verified"
        ]
        .into_iter()
        .collect()
    );
}

async fn admin(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = api().request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_admin_api_sets_changes_and_keeps_claims() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let mut new = full_claims();
    new["username"] = "alice".into();
    new["password"] = PASSWORD.into();
    new["groups"] = json!(["staff"]);
    let (status, created) = admin(
        &app,
        &token,
        reqwest::Method::POST,
        "/admin/users",
        Some(new),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    for (name, value) in full_claims().as_object().unwrap() {
        assert_eq!(&created[name], value, "{name}");
    }
    assert_eq!(created["groups"], json!(["staff"]));
    assert!(created.get("password_hash").is_none());

    app.clock.advance(std::time::Duration::from_secs(30));
    let (status, updated) = admin(
        &app,
        &token,
        reqwest::Method::PATCH,
        "/admin/users/alice",
        Some(json!({
            "email_verified": false,
            "nickname": null,
            "locale": "fr-FR",
            "groups": ["admins", "staff"],
        })),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    let (status, shown) = admin(
        &app,
        &token,
        reqwest::Method::GET,
        "/admin/users/alice",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(shown, updated);
    assert_eq!(shown["email_verified"], false);
    assert_eq!(shown["locale"], "fr-FR");
    assert!(shown.get("nickname").is_none(), "cleared: {shown}");
    assert_eq!(shown["groups"], json!(["admins", "staff"]));
    assert_eq!(
        shown["updated_at"],
        created["updated_at"].as_i64().unwrap() + 30
    );
    // What the change did not name is kept.
    for name in [
        "name",
        "email",
        "address",
        "birthdate",
        "phone_number",
        "picture",
    ] {
        assert_eq!(shown[name], created[name], "{name}");
    }

    let (status, _) = admin(
        &app,
        &token,
        reqwest::Method::PATCH,
        "/admin/users/nobody",
        Some(json!({"name": "X"})),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_admin_api_refuses_each_kind_of_bad_claim() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    app.core
        .admin(Actor::CommandLine)
        .users()
        .create("alice", PASSWORD.into(), UserChanges::default())
        .await
        .unwrap();
    for (member, value, says) in [
        ("picture", json!("ftp://example.com/a.png"), "http or https"),
        ("website", json!("example.com"), "http or https"),
        ("birthdate", json!("1990-13-01"), "month"),
        ("birthdate", json!("4 May 1852"), "YYYY"),
        ("locale", json!("english please"), "BCP 47"),
        ("zoneinfo", json!(""), "empty"),
        ("phone_number", json!("01865 270000"), "E.164"),
        ("email", json!("alice"), "e-mail"),
        ("email_verified", json!("yes"), "true or false"),
        ("name", json!("n".repeat(300)), "at most"),
        ("address", json!({"city": "Oxford"}), "city"),
        ("address", json!("Oxford"), "JSON object"),
        ("favourite_colour", json!("blue"), "favourite_colour"),
        ("updated_at", json!(0), "updated_at"),
        ("groups", json!([""]), "empty"),
        ("groups", json!(["a", "a"]), "twice"),
    ] {
        let mut body = json!({"username": "bob", "password": PASSWORD});
        body[member] = value.clone();
        let (status, err) = admin(
            &app,
            &token,
            reqwest::Method::POST,
            "/admin/users",
            Some(body),
        )
        .await;
        assert_eq!(status, 400, "{member} = {value}: {err}");
        let description = err["error_description"].as_str().unwrap_or_default();
        assert!(
            description.contains(says),
            "{member} = {value}: {description:?} should say {says:?}"
        );
        let (status, err) = admin(
            &app,
            &token,
            reqwest::Method::PATCH,
            "/admin/users/alice",
            Some(json!({ member: value })),
        )
        .await;
        assert_eq!(status, 400, "update {member} = {value}: {err}");
    }
    let (status, _) = admin(&app, &token, reqwest::Method::GET, "/admin/users/bob", None).await;
    assert_eq!(status, 404, "no user was created");
    let alice = app
        .core
        .admin(Actor::CommandLine)
        .users()
        .show("alice")
        .await
        .unwrap();
    assert_eq!(alice.claims, Default::default(), "nothing was changed");
}

fn json_out(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_command_line_sets_updates_and_shows_claims() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = latchkey(dir.path());
    cmd.args([
        "user",
        "add",
        "carol",
        "--password-stdin",
        "--email",
        "carol@example.com",
        "--email-verified",
        "--name",
        "Carol Example",
        "--given-name",
        "Carol",
        "--family-name",
        "Example",
        "--phone-number",
        "+15551234567",
        "--group",
        "staff",
        "--group",
        "ops",
        "--claim",
        r#"address={"locality":"London","country":"GB"}"#,
        "--claim",
        "locale=en-GB",
        "--json",
    ]);
    let added = json_out(&run_with_stdin(cmd, "a long enough password\n"));
    assert_eq!(added["email_verified"], true);
    assert_eq!(
        added["address"],
        json!({"locality": "London", "country": "GB"})
    );

    let show = || {
        json_out(
            &latchkey(dir.path())
                .args(["user", "show", "carol", "--json"])
                .output()
                .unwrap(),
        )
    };
    let shown = show();
    assert_eq!(shown, added);
    assert_eq!(shown["groups"], json!(["staff", "ops"]));
    assert_eq!(shown["phone_number"], "+15551234567");
    assert_eq!(shown["given_name"], "Carol");
    assert_eq!(shown["family_name"], "Example");

    let out = latchkey(dir.path())
        .args([
            "user",
            "update",
            "carol",
            "--email-verified",
            "false",
            "--group",
            "admins",
            "--claim",
            "zoneinfo=Europe/London",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let updated = show();
    assert_eq!(updated["email_verified"], false);
    assert_eq!(updated["groups"], json!(["admins"]));
    assert_eq!(updated["zoneinfo"], "Europe/London");
    for kept in ["name", "email", "address", "locale", "phone_number"] {
        assert_eq!(updated[kept], added[kept], "{kept} kept");
    }

    // Each refusal: non-zero, one line naming the claim, nothing changed.
    for (args, says) in [
        (
            &["--claim", "picture=ftp://example.com/p.png"][..],
            "picture",
        ),
        (&["--claim", "birthdate=1990-02-30"][..], "birthdate"),
        (&["--claim", "address=London"][..], "address"),
        (&["--claim", r#"address={"town":"London"}"#][..], "address"),
        (
            &["--claim", "favourite_colour=blue"][..],
            "favourite_colour",
        ),
        (&["--claim", "no-equals-sign"][..], "NAME=VALUE"),
        (&["--phone-number", "555-1234"][..], "phone_number"),
        (&["--email", "carol"][..], "email"),
        (&["--group", ""][..], "groups"),
    ] {
        let out = latchkey(dir.path())
            .args(["user", "update", "carol"])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} accepted");
        let line = stderr_line(&out);
        assert!(line.contains(says), "{args:?}: {line}");
    }
    // Refused before the password is read, and no user is created.
    let mut cmd = latchkey(dir.path());
    cmd.args([
        "user",
        "add",
        "dave",
        "--password-stdin",
        "--claim",
        "locale=??",
    ]);
    let out = run_with_stdin(cmd, "a long enough password\n");
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("locale"));
    assert_eq!(show(), updated);
    let out = latchkey(dir.path())
        .args(["user", "show", "dave", "--json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
