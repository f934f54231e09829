//! The FAPI 2.0 Security Profile, per client and for every client: pushed
//! requests only, PKCE with `nonce` optional, DPoP-bound tokens, and
//! `private_key_jwt` signed with PS256, ES256 or EdDSA (docs/fapi.md maps
//! each requirement to these tests).

use latchkey_core::admin::ClientSettings;
use latchkey_domain::Clock;
use serde_json::{json, Value};

use crate::proofs::{jwt_claims, jwt_header, random_jti, EcKeyPair};
use crate::registration::{initial_token, next_rat, register, ClientKey};
use crate::support::*;

const FAPI_REDIRECT: &str = "https://app.example.com/cb";

struct FapiClient {
    id: String,
    /// The registration access token (RFC 7592).
    rat: String,
    /// Signs its assertions (ES256).
    key: EcKeyPair,
    /// An RS256 key it registered too.
    rsa: ClientKey,
}

impl FapiClient {
    fn assertion(&self, app: &TestApp) -> String {
        let now = Clock::unix(&*app.clock);
        self.key.sign(
            &json!({"alg": "ES256", "kid": self.key.kid}),
            &json!({"iss": self.id, "sub": self.id, "aud": app.issuer,
                    "exp": now + 60, "jti": random_jti()}),
        )
    }

    fn rs256_assertion(&self, app: &TestApp) -> String {
        let now = Clock::unix(&*app.clock);
        self.rsa
            .sign(&json!({"iss": self.id, "sub": self.id, "aud": app.issuer,
                               "exp": now + 60, "jti": random_jti()}))
    }
}

/// A `private_key_jwt` client with an https redirect URI, registered
/// through `/register`, put on the profile by an operator.
async fn fapi_client(app: &TestApp) -> FapiClient {
    let key = EcKeyPair::new("es");
    let rsa = ClientKey::new("rs");
    let token = initial_token(app, 1).await;
    let info = register(
        app,
        &token,
        json!({
            "client_name": "Bank app",
            "redirect_uris": [FAPI_REDIRECT],
            "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["authorization_code", "refresh_token"],
            "jwks": {"keys": [key.registered_jwk(), rsa.jwk()]},
            "scope": "openid profile offline_access",
        }),
    )
    .await;
    let id = info["client_id"].as_str().unwrap().to_owned();
    let rat = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.core
        .admin(Actor::CommandLine)
        .clients()
        .update_settings(
            &id,
            &ClientSettings {
                fapi2: Some(true),
                ..ClientSettings::default()
            },
        )
        .await
        .unwrap();
    FapiClient { id, rat, key, rsa }
}

fn request(client: &FapiClient, challenge: &str) -> Vec<(String, String)> {
    [
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", FAPI_REDIRECT),
        ("scope", "openid profile offline_access"),
        ("state", "st-fapi"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Posts `form` to `path` with a fresh ES256 assertion and, if given, a
/// DPoP proof with `nonce`.
async fn post(
    app: &TestApp,
    client: &FapiClient,
    path: &str,
    form: &[(String, String)],
    assertion: String,
    proof: Option<String>,
) -> reqwest::Response {
    let mut form = form.to_vec();
    if !form.iter().any(|(k, _)| k == "client_id") {
        form.push(("client_id".into(), client.id.clone()));
    }
    form.extend([
        (
            "client_assertion_type".into(),
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
        ),
        ("client_assertion".into(), assertion),
    ]);
    let mut req = api().post(app.url(path)).form(&form);
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await.unwrap()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn a_fapi2_client_signs_in_with_par_dpop_and_private_key_jwt() {
    // RS256 first, as most servers have it: the client's tokens use the
    // first algorithm the profile allows all the same.
    let app = TestApp::spawn_with(|c| {
        c.keys.algorithms = vec![
            latchkey_protocol::SigningAlg::RS256,
            latchkey_protocol::SigningAlg::ES256,
        ]
    })
    .await;
    app.add_user("alice").await;
    let client = fapi_client(&app).await;
    let dpop = EcKeyPair::new("dpop");
    let (verifier, challenge) = pkce();
    let now = Clock::unix(&*app.clock);

    // The push: no nonce in the request (PKCE binds it), a proof at the
    // push after the nonce dance.
    let par = app.url("/par");
    let resp = post(
        &app,
        &client,
        "/par",
        &request(&client, &challenge),
        client.assertion(&app),
        Some(dpop.proof("POST", &par, now, None)),
    )
    .await;
    let nonce = resp.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_oauth_error(resp, 400, "use_dpop_nonce").await;
    let resp = post(
        &app,
        &client,
        "/par",
        &request(&client, &challenge),
        client.assertion(&app),
        Some(dpop.proof("POST", &par, now, Some(&nonce))),
    )
    .await;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &client.id)
        .append_pair("request_uri", body["request_uri"].as_str().unwrap());
    let back = sign_in(&app, &browser(), url.as_str(), "alice").await;
    assert!(back.starts_with(FAPI_REDIRECT), "{back}");
    assert_eq!(param(&back, "iss").as_deref(), Some(app.issuer.as_str()));
    let code = param(&back, "code").unwrap();

    let token_url = app.url("/token");
    let form = owned(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", FAPI_REDIRECT),
        ("code_verifier", &verifier),
    ]);
    let resp = post(
        &app,
        &client,
        "/token",
        &form,
        client.assertion(&app),
        Some(dpop.proof("POST", &token_url, now, Some(&nonce))),
    )
    .await;
    let status = resp.status();
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");
    assert_eq!(
        jwt_claims(tokens["access_token"].as_str().unwrap())["cnf"]["jkt"],
        dpop.thumbprint()
    );
    assert!(jwt_claims(tokens["id_token"].as_str().unwrap())
        .get("nonce")
        .is_none());
    for token in ["access_token", "id_token"] {
        assert_eq!(
            jwt_header(tokens[token].as_str().unwrap())["alg"],
            "ES256",
            "{token}"
        );
    }
    // A refresh: the same key, and the old token still usable were the
    // answer lost (FAPI 2.0 §5.3.2.1 on rotation).
    let refresh = owned(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ]);
    let resp = post(
        &app,
        &client,
        "/token",
        &refresh,
        client.assertion(&app),
        Some(dpop.proof("POST", &token_url, now, Some(&nonce))),
    )
    .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn what_the_profile_refuses() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let client = fapi_client(&app).await;
    let (_, challenge) = pkce();

    // A plain authorization request.
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .extend_pairs(request(&client, &challenge));
    let resp = browser().get(url.as_str()).send().await.unwrap();
    let to = location(&resp);
    assert!(to.starts_with(FAPI_REDIRECT), "{to}");
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"));
    // A push without PKCE.
    let mut no_pkce = request(&client, &challenge);
    no_pkce.retain(|(k, _)| !k.starts_with("code_challenge"));
    let resp = post(
        &app,
        &client,
        "/par",
        &no_pkce,
        client.assertion(&app),
        None,
    )
    .await;
    assert_oauth_error(resp, 400, "invalid_request").await;
    // An RS256 assertion, though the key is registered.
    let resp = post(
        &app,
        &client,
        "/par",
        &request(&client, &challenge),
        client.rs256_assertion(&app),
        None,
    )
    .await;
    assert_oauth_error(resp, 401, "invalid_client").await;
    // A token request without a DPoP proof.
    let resp = post(
        &app,
        &client,
        "/token",
        &owned(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", FAPI_REDIRECT),
            ("code_verifier", "a".repeat(43).as_str()),
        ]),
        client.assertion(&app),
        None,
    )
    .await;
    assert_oauth_error(resp, 400, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn the_profile_fits_only_private_key_jwt_clients() {
    let app = TestApp::spawn().await;
    let web = app.web_client().await;
    let err = app
        .core
        .admin(Actor::CommandLine)
        .clients()
        .update_settings(
            web.id(),
            &ClientSettings {
                fapi2: Some(true),
                ..ClientSettings::default()
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("private_key_jwt"), "{err}");
    // Through the admin API, nothing is created when it does not fit.
    let before = app
        .core
        .admin(Actor::CommandLine)
        .clients()
        .list()
        .await
        .unwrap()
        .len();
    let admin = crate::registration::admin_token(&app).await;
    let resp = api()
        .post(app.url("/admin/clients"))
        .bearer_auth(&admin)
        .json(&json!({"redirect_uris": [FAPI_REDIRECT], "client_name": "Secret", "fapi2": true}))
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;
    assert_eq!(
        app.core
            .admin(Actor::CommandLine)
            .clients()
            .list()
            .await
            .unwrap()
            .len(),
        before
    );
}

#[tokio::test]
async fn the_profile_for_every_client() {
    let app = TestApp::spawn_with(|c| c.fapi2.required = true).await;
    let meta = metadata(&app).await;
    assert_eq!(meta["require_pushed_authorization_requests"], true);
    // A client with a secret no longer authenticates.
    let machine = app.machine_client().await;
    let resp = api()
        .post(app.url("/token"))
        .basic_auth(machine.id(), machine.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 401, "invalid_client").await;
}

/// What an operator set stays set when the registrant replaces its
/// metadata (RFC 7592): the profile, the resources given, and the
/// protections it asked for; metadata that no longer fits the profile is
/// refused.
#[tokio::test]
async fn a_registrant_cannot_take_its_client_off_the_profile() {
    let app = TestApp::spawn_with(|c| {
        c.resources.allowed = vec![];
    })
    .await;
    let client = fapi_client(&app).await;
    app.core
        .admin(Actor::CommandLine)
        .clients()
        .update_settings(
            &client.id,
            &ClientSettings {
                resources: Some(vec!["https://api.example.com".into()]),
                require_par: Some(true),
                dpop_bound: Some(true),
                ..ClientSettings::default()
            },
        )
        .await
        .unwrap();
    let put = |rat: &str, body: Value| {
        api()
            .put(app.url(&format!("/register/{}", client.id)))
            .bearer_auth(rat)
            .json(&body)
            .send()
    };
    let same = json!({
        "client_id": client.id,
        "client_name": "Bank app",
        "redirect_uris": [FAPI_REDIRECT],
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["authorization_code", "refresh_token"],
        "jwks": {"keys": [client.key.registered_jwk(), client.rsa.jwk()]},
        "scope": "openid profile offline_access",
    });
    let resp = put(&client.rat, same.clone()).await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let rat = next_rat(&resp.json().await.unwrap(), &client.rat);
    let after = app
        .core
        .admin(Actor::CommandLine)
        .clients()
        .show(&client.id)
        .await
        .unwrap();
    assert!(after.fapi2 && after.require_par && after.dpop_bound);
    assert_eq!(after.resources.to_stored(), "https://api.example.com");
    // Off the profile's requirements: refused, and nothing changes.
    for (member, value) in [
        ("token_endpoint_auth_method", json!("client_secret_basic")),
        ("redirect_uris", json!(["http://127.0.0.1:9/cb"])),
    ] {
        let mut body = same.clone();
        body[member] = value;
        if member == "token_endpoint_auth_method" {
            body.as_object_mut().unwrap().remove("jwks");
        }
        let resp = put(&rat, body).await.unwrap();
        assert_oauth_error(resp, 400, "invalid_client_metadata").await;
    }
    let after = app
        .core
        .admin(Actor::CommandLine)
        .clients()
        .show(&client.id)
        .await
        .unwrap();
    assert_eq!(
        after.auth_method,
        latchkey_domain::ClientAuthMethod::PrivateKeyJwt
    );
    assert!(after.fapi2);
}
