//! The `claims` request parameter (OIDC Core §5.5): claims named for
//! UserInfo and for the ID token come back beside what the scope releases,
//! only with consent and only of scopes the client may ask for; a refresh
//! keeps them; a malformed parameter, a `sub` value naming someone else
//! and an essential `acr` Latchkey cannot give are refused.

use std::collections::BTreeSet;

use latchkey_core::admin::{NewClient, UserChanges};
use latchkey_domain::GrantType;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    RedirectUrl, TokenResponse,
};
use serde_json::{json, Map, Value};

use crate::flows::decode_segment;
use crate::support::*;
use crate::tokens::refresh;

/// A user with a value for every claim the tests ask for.
async fn alice(app: &TestApp) -> latchkey_domain::User {
    app.core
        .admin(Actor::CommandLine)
        .users()
        .create(
            "alice",
            PASSWORD.into(),
            UserChanges {
                claims: json!({
                    "name": "Alice Liddell",
                    "given_name": "Alice",
                    "email": "alice@example.com",
                    "email_verified": true,
                    "phone_number": "+441865270000",
                    "address": {"locality": "Oxford"},
                })
                .as_object()
                .cloned()
                .unwrap(),
                groups: Some(vec!["staff".into()]),
            },
        )
        .await
        .expect("user created")
}

/// A client that may refresh, allowed `scope`.
async fn client_with(app: &TestApp, scope: &str) -> TestClient {
    app.add_client(NewClient {
        name: "Claims app".into(),
        redirect_uris: vec![REDIRECT.into()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scope: Some(scope.into()),
        ..NewClient::default()
    })
    .await
}

/// Follows `auth_url` with a browser already signed in: where Latchkey
/// sends it.
async fn straight_back(browser: &reqwest::Client, auth_url: &str) -> String {
    let resp = browser.get(auth_url).send().await.unwrap();
    assert_eq!(resp.status(), 303, "authorize redirects");
    location(&resp)
}

async fn tokens_for(app: &TestApp, client: &TestClient, back: &str, verifier: &str) -> Value {
    let code = param(back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    let resp = redeem(app, client, &code, verifier).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn userinfo(app: &TestApp, access_token: &str) -> Map<String, Value> {
    let resp = api()
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn names(m: &Map<String, Value>) -> BTreeSet<&str> {
    m.keys().map(String::as_str).collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

/// The claims of the ID token in a token response.
fn id_claims(tokens: &Value) -> Map<String, Value> {
    match decode_segment(tokens["id_token"].as_str().expect("an ID token"), 1) {
        Value::Object(m) => m,
        other => panic!("ID token claims: {other}"),
    }
}

/// The ID token's own claims, whatever the request named.
const ID_TOKEN_BASE: [&str; 12] = [
    "iss",
    "sub",
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

fn beyond_base(claims: &Map<String, Value>) -> BTreeSet<&str> {
    names(claims)
        .into_iter()
        .filter(|n| !ID_TOKEN_BASE.contains(n))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_named_for_userinfo_come_back_and_a_refresh_keeps_them() {
    let app = TestApp::spawn().await;
    let user = alice(&app).await;
    let client = client_with(&app, "openid profile email offline_access").await;
    let b = browser();
    let (verifier, challenge) = pkce();
    let claims = json!({"userinfo": {"name": null, "email": {"essential": true}}}).to_string();
    let back = sign_in(
        &app,
        &b,
        &authorize_url(
            &app,
            client.id(),
            &challenge,
            &[("scope", "openid offline_access"), ("claims", &claims)],
        ),
        "alice",
    )
    .await;
    let tokens = tokens_for(&app, &client, &back, &verifier).await;
    // The scope of the tokens is what was asked for, not what the claims
    // request adds.
    assert_eq!(tokens["scope"], "offline_access openid");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        decode_segment(access, 1)["ucl"],
        "email email_verified name",
        "the access token carries the names"
    );
    let info = userinfo(&app, access).await;
    assert_eq!(
        names(&info),
        set(&["sub", "name", "email", "email_verified"])
    );
    assert_eq!(info["sub"], user.id.as_str());
    assert_eq!(info["name"], "Alice Liddell");
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["email_verified"], true);
    // Named for UserInfo only: the ID token has none of them.
    assert_eq!(beyond_base(&id_claims(&tokens)), BTreeSet::new());

    // A refresh keeps them, twice over.
    let mut refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let resp = refresh(&app, &client, &refresh_token).await;
        assert_eq!(resp.status(), 200);
        let again: Value = resp.json().await.unwrap();
        assert_eq!(again["scope"], "offline_access openid");
        let info = userinfo(&app, again["access_token"].as_str().unwrap()).await;
        assert_eq!(
            names(&info),
            set(&["sub", "name", "email", "email_verified"])
        );
        refresh_token = again["refresh_token"].as_str().unwrap().to_owned();
    }

    // Without a claims request, the same scope releases `sub` only.
    let (verifier, challenge) = pkce();
    let back = straight_back(
        &b,
        &authorize_url(
            &app,
            client.id(),
            &challenge,
            &[("scope", "openid offline_access")],
        ),
    )
    .await;
    let plain = tokens_for(&app, &client, &back, &verifier).await;
    let access = plain["access_token"].as_str().unwrap();
    assert!(decode_segment(access, 1).get("ucl").is_none());
    assert_eq!(names(&userinfo(&app, access).await), set(&["sub"]));
}

/// The claims request sent with POST /authorize and carried through the
/// sign-in page (the pending request) is the same request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claims_request_posted_to_authorize_survives_the_sign_in() {
    let app = TestApp::spawn().await;
    alice(&app).await;
    let client = client_with(&app, "openid profile email phone groups").await;
    let b = browser();
    let (verifier, challenge) = pkce();
    let claims = json!({
        "userinfo": {"phone_number": null, "groups": null},
        "id_token": {"given_name": {"essential": true}},
    })
    .to_string();
    let url = authorize_url(
        &app,
        client.id(),
        &challenge,
        &[("scope", "openid"), ("claims", &claims)],
    );
    let resp = b
        .post(app.url("/authorize"))
        .form(
            &url::Url::parse(&url)
                .unwrap()
                .query_pairs()
                .collect::<Vec<_>>(),
        )
        .send()
        .await
        .unwrap();
    let to = location(&resp);
    assert!(to.starts_with("/login"), "{to}");
    let resp = FormPage::read(&app, &b, &to)
        .await
        .sign_in(&app, &b, "alice", PASSWORD)
        .await;
    let to = location(&resp);
    assert!(to.starts_with("/consent"), "{to}");
    let back = approve(&app, &b, &to).await;
    let tokens = tokens_for(&app, &client, &back, &verifier).await;
    let info = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(
        names(&info),
        set(&["sub", "phone_number", "phone_number_verified", "groups"])
    );
    assert_eq!(info["groups"], json!(["staff"]));
    let id = id_claims(&tokens);
    assert_eq!(beyond_base(&id), set(&["given_name"]));
    assert_eq!(id["given_name"], "Alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_named_for_the_id_token_land_in_it_for_a_relying_party() {
    let app = TestApp::spawn().await;
    let user = alice(&app).await;
    let web = client_with(&app, "openid profile email phone groups").await;
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    assert_eq!(meta.claims_parameter_supported(), Some(true));
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(web.id().into()),
        Some(ClientSecret::new(web.secret().into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let claims = json!({
        "id_token": {
            "email": {"essential": true},
            "name": null,
            "phone_number": null,
            "groups": null,
            "favourite_colour": {"essential": true},
            "acr": {"values": ["urn:example:mfa"]},
        }
    })
    .to_string();
    let (auth_url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_extra_param("claims", claims)
        .set_pkce_challenge(challenge)
        .url();
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
    let verified = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the ID token validates");
    assert_eq!(verified.subject().as_str(), user.id.as_str());
    assert_eq!(
        verified.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    assert_eq!(verified.email_verified(), Some(true));
    assert_eq!(
        verified
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("Alice Liddell")
    );
    assert_eq!(
        verified.phone_number().map(|p| p.as_str()),
        Some("+441865270000")
    );
    // A voluntary acr Latchkey cannot give is only a preference.
    assert_eq!(
        verified.auth_context_ref().map(|a| a.as_str()),
        Some("urn:latchkey:acr:pwd")
    );
    let raw = decode_segment(&id_token.to_string(), 1);
    let raw = raw.as_object().unwrap();
    assert_eq!(
        beyond_base(raw),
        set(&[
            "email",
            "email_verified",
            "name",
            "phone_number",
            "phone_number_verified",
            "groups"
        ])
    );
    assert_eq!(raw["groups"], json!(["staff"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_claims_request_is_refused_at_the_clients_redirect() {
    let app = TestApp::spawn().await;
    alice(&app).await;
    let client = app.web_client().await;
    let (_, challenge) = pkce();
    let too_many: Map<String, Value> = (0..100).map(|i| (format!("c{i}"), Value::Null)).collect();
    let too_many = json!({ "userinfo": too_many }).to_string();
    for bad in [
        "email",
        "{",
        "[]",
        "null",
        r#"{"userinfo": ["email"]}"#,
        r#"{"id_token": "email"}"#,
        r#"{"userinfo": {"email": true}}"#,
        r#"{"userinfo": {"email": {"essential": "yes"}}}"#,
        r#"{"id_token": {"acr": {"values": "urn:x"}}}"#,
        &too_many,
    ] {
        // A fresh browser and a signed-in one get the same answer.
        let resp = browser()
            .get(authorize_url(
                &app,
                client.id(),
                &challenge,
                &[("claims", bad)],
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "{bad}");
        let back = location(&resp);
        assert!(back.starts_with(REDIRECT), "{bad}: {back}");
        assert_eq!(
            param(&back, "error").as_deref(),
            Some("invalid_request"),
            "{bad}"
        );
        assert!(
            param(&back, "error_description")
                .unwrap_or_default()
                .contains("claims"),
            "{bad}: {back}"
        );
        assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
        assert_eq!(param(&back, "iss").as_deref(), Some(app.issuer.as_str()));
        assert!(param(&back, "code").is_none());
    }
    // Over the size cap (3072 bytes), though within what any parameter
    // may carry: refused to the client too.
    let huge = format!(
        r#"{{"userinfo":{{"name":{{"value":"{}"}}}}}}"#,
        "x".repeat(3500)
    );
    let resp = browser()
        .get(authorize_url(
            &app,
            client.id(),
            &challenge,
            &[("claims", &huge)],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(
        param(&location(&resp), "error").as_deref(),
        Some("invalid_request")
    );
    // Before the redirect URI is trusted, nothing goes to it.
    let resp = browser()
        .get(authorize_url(
            &app,
            client.id(),
            &challenge,
            &[
                ("claims", "email"),
                ("redirect_uri", "https://attacker.example/cb"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_of_a_scope_the_client_may_not_ask_for_is_not_released() {
    let app = TestApp::spawn().await;
    alice(&app).await;
    let client = client_with(&app, "openid profile").await;
    let b = browser();
    let (verifier, challenge) = pkce();
    let claims = json!({
        "userinfo": {"email": {"essential": true}, "phone_number": null, "groups": null, "name": null},
        "id_token": {"email": null, "address": null, "given_name": null},
    })
    .to_string();
    let url = authorize_url(
        &app,
        client.id(),
        &challenge,
        &[("scope", "openid"), ("claims", &claims)],
    );
    let login = login_page(&app, &b, &url).await;
    let resp = login.sign_in(&app, &b, "alice", PASSWORD).await;
    let to = location(&resp);
    assert!(to.starts_with("/consent"), "{to}");
    // The consent page lists what may be released, nothing else.
    let page = FormPage::read(&app, &b, &to).await;
    for shown in ["<code>name</code>", "<code>given_name</code>"] {
        assert!(page.text.contains(shown), "{shown}: {}", page.text);
    }
    for hidden in ["email", "phone_number", "groups", "address"] {
        assert!(
            !page.text.contains(&format!("<code>{hidden}</code>")),
            "{hidden}: {}",
            page.text
        );
    }
    let resp = page.decide(&app, &b, "approve").await;
    let tokens = tokens_for(&app, &client, &location(&resp), &verifier).await;
    let info = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(names(&info), set(&["sub", "name"]));
    assert_eq!(beyond_base(&id_claims(&tokens)), set(&["given_name"]));
    // The consent covers the profile data asked for, no more.
    let user = app
        .core
        .admin(Actor::CommandLine)
        .users()
        .show("alice")
        .await
        .unwrap();
    let consent = app
        .store
        .find_consent(&user.id, &client.client.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(consent.scope.to_string(), "openid profile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remembered_consent_must_cover_the_claims_request() {
    let app = TestApp::spawn().await;
    alice(&app).await;
    let client = app.web_client().await;
    let b = browser();
    let (verifier, challenge) = pkce();
    let url = |extra: &[(&str, &str)]| {
        let mut all = vec![("scope", "openid")];
        all.extend_from_slice(extra);
        authorize_url(&app, client.id(), &challenge, &all)
    };
    // Consent to `openid` alone.
    let back = sign_in(&app, &b, &url(&[]), "alice").await;
    assert!(param(&back, "code").is_some(), "{back}");
    let back = straight_back(&b, &url(&[("prompt", "none")])).await;
    assert!(param(&back, "code").is_some(), "{back}");

    // The same scope, with e-mail named: consent does not cover it.
    let email = json!({"userinfo": {"email": {"essential": true}}}).to_string();
    let back = straight_back(&b, &url(&[("prompt", "none"), ("claims", &email)])).await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("consent_required"));
    assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
    let to = straight_back(&b, &url(&[("claims", &email)])).await;
    assert!(to.starts_with("/consent"), "{to}");
    let page = FormPage::read(&app, &b, &to).await;
    assert!(
        page.text
            .contains("<code>email</code> (<code>email</code>)"),
        "{}",
        page.text
    );
    // Declined: nothing is remembered.
    let resp = page.decide(&app, &b, "deny").await;
    assert_eq!(
        param(&location(&resp), "error").as_deref(),
        Some("access_denied")
    );
    let back = straight_back(&b, &url(&[("prompt", "none"), ("claims", &email)])).await;
    assert_eq!(param(&back, "error").as_deref(), Some("consent_required"));

    // Approved: the e-mail is released, and remembered.
    let to = straight_back(&b, &url(&[("claims", &email)])).await;
    let back = approve(&app, &b, &to).await;
    let tokens = tokens_for(&app, &client, &back, &verifier).await;
    let info = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(names(&info), set(&["sub", "email", "email_verified"]));
    let back = straight_back(&b, &url(&[("prompt", "none"), ("claims", &email)])).await;
    assert!(param(&back, "code").is_some(), "{back}");

    // Profile data named for the ID token is not covered by that.
    let name = json!({"id_token": {"name": null}}).to_string();
    let back = straight_back(&b, &url(&[("prompt", "none"), ("claims", &name)])).await;
    assert_eq!(param(&back, "error").as_deref(), Some("consent_required"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_value_names_the_user_as_id_token_hint_does() {
    let app = TestApp::spawn().await;
    let alice = alice(&app).await;
    let bob = app.add_user("bob").await;
    let client = app.web_client().await;
    let b = browser();
    let (verifier, challenge) = pkce();
    let back = sign_in(
        &app,
        &b,
        &authorize_url(&app, client.id(), &challenge, &[]),
        "alice",
    )
    .await;
    assert!(param(&back, "code").is_some(), "{back}");
    let sub_is = |id: &str| json!({"id_token": {"sub": {"value": id}}}).to_string();
    let url = |extra: &[(&str, &str)]| authorize_url(&app, client.id(), &challenge, extra);

    // The signed-in user's own sub goes through.
    let own = sub_is(alice.id.as_str());
    let back = straight_back(&b, &url(&[("prompt", "none"), ("claims", &own)])).await;
    assert!(param(&back, "code").is_some(), "{back}");
    // `values` with the user among them, too.
    let either = json!({"id_token": {"sub": {"values": ["nobody", alice.id.as_str()]}}});
    let back = straight_back(
        &b,
        &url(&[("prompt", "none"), ("claims", &either.to_string())]),
    )
    .await;
    assert!(param(&back, "code").is_some(), "{back}");

    // Another user's: login_required under prompt=none ...
    let other = sub_is(bob.id.as_str());
    let back = straight_back(&b, &url(&[("prompt", "none"), ("claims", &other)])).await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("login_required"));
    assert!(param(&back, "code").is_none());
    // ... a fresh sign-in otherwise, whose user gets the code.
    let to = straight_back(&b, &url(&[("claims", &other)])).await;
    assert!(to.starts_with("/login"), "{to}");
    let resp = FormPage::read(&app, &b, &to)
        .await
        .sign_in(&app, &b, "bob", PASSWORD)
        .await;
    let mut back = location(&resp);
    if back.starts_with("/consent") {
        back = approve(&app, &b, &back).await;
    }
    let tokens = tokens_for(&app, &client, &back, &verifier).await;
    assert_eq!(id_claims(&tokens)["sub"], bob.id.as_str());
    // Whoever signs in must be the user named: the browser is bob's now,
    // the request names alice, and bob signs in again.
    let to = straight_back(&b, &url(&[("claims", &own)])).await;
    assert!(to.starts_with("/login"), "{to}");
    let resp = FormPage::read(&app, &b, &to)
        .await
        .sign_in(&app, &b, "bob", PASSWORD)
        .await;
    let back = location(&resp);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("login_required"));
    assert!(param(&back, "code").is_none(), "{back}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_essential_acr_latchkey_cannot_give_is_access_denied() {
    let app = TestApp::spawn().await;
    alice(&app).await;
    let client = app.web_client().await;
    let (_, challenge) = pkce();
    let acr = |ask: Value| json!({"id_token": {"acr": ask}}).to_string();
    let url = |claims: &str, extra: &[(&str, &str)]| {
        let mut all = vec![("claims", claims)];
        all.extend_from_slice(extra);
        authorize_url(&app, client.id(), &challenge, &all)
    };
    for unmet in [
        acr(json!({"essential": true, "values": ["urn:example:mfa"]})),
        acr(json!({"essential": true, "value": "urn:example:mfa"})),
        json!({"userinfo": {"acr": {"essential": true, "value": "urn:example:mfa"}}}).to_string(),
    ] {
        for extra in [&[][..], &[("prompt", "none")][..]] {
            // Refused before anyone is asked to sign in.
            let back = straight_back(&browser(), &url(&unmet, extra)).await;
            assert!(back.starts_with(REDIRECT), "{unmet}: {back}");
            assert_eq!(
                param(&back, "error").as_deref(),
                Some("access_denied"),
                "{unmet}"
            );
            assert!(
                param(&back, "error_description")
                    .unwrap_or_default()
                    .contains("acr"),
                "{back}"
            );
            assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
        }
    }
    // What a password sign-in gives, or a voluntary wish, goes through.
    let b = browser();
    for met in [
        acr(json!({"essential": true, "values": ["urn:example:mfa", "urn:latchkey:acr:pwd"]})),
        acr(json!({"essential": true})),
        acr(json!({"values": ["urn:example:mfa"]})),
        acr(json!({"essential": false, "value": "urn:example:mfa"})),
    ] {
        let back = sign_in(&app, &b, &url(&met, &[]), "alice").await;
        assert!(param(&back, "code").is_some(), "{met}: {back}");
    }
}
