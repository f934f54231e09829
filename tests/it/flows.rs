//! The flows relying parties use, driven by independent client libraries.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

use crate::support::*;

fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relying_party_signs_a_user_in_with_openidconnect() {
    let app = TestApp::spawn().await;
    let user = app.add_user("alice").await;
    let web = app.web_client().await;
    let http = rp_http();

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
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    let b = browser();
    let back = sign_in(&app, &b, auth_url.as_str(), "alice").await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(param(&back, "iss").as_deref(), Some(app.issuer.as_str()));
    let code = param(&back, "code").expect("code");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    assert!(tokens.refresh_token().is_none());
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token validates");
    assert_eq!(claims.subject().as_str(), user.id.as_str());
    assert!(claims.auth_time().is_some());
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject().as_str(), user.id.as_str());
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("alice"));
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));

    // The same user and client again: signed in, consent remembered, so the
    // browser goes straight back with a code.
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let (again, _, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let resp = b.get(again.as_str()).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    let loc = location(&resp);
    assert!(
        loc.starts_with(REDIRECT) && param(&loc, "code").is_some(),
        "{loc}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_with_the_oauth2_crate() {
    use oauth2::basic::BasicClient;
    use oauth2::{AuthUrl, TokenUrl};

    let app = TestApp::spawn().await;
    let m = app.machine_client().await;
    let client = BasicClient::new(oauth2::ClientId::new(m.id().into()))
        .set_client_secret(oauth2::ClientSecret::new(m.secret().into()))
        .set_auth_uri(AuthUrl::new(app.url("/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(app.url("/token")).unwrap());
    let http = rp_http();
    let tokens = client
        .exchange_client_credentials()
        .add_scope(oauth2::Scope::new("api:read".into()))
        .request_async(&http)
        .await
        .expect("client credentials grant");
    assert!(tokens.refresh_token().is_none());
    assert_eq!(tokens.scopes().unwrap()[0].as_str(), "api:read");

    // The access token is an RFC 9068 JWT signed by a published key.
    let token = tokens.access_token().secret();
    let header = decode_segment(token, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    let jwks: serde_json::Value = api()
        .get(app.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == header["kid"]));
    let claims = decode_segment(token, 1);
    assert_eq!(claims["sub"], m.id());
    assert_eq!(claims["client_id"], m.id());
    assert_eq!(claims["iss"], app.issuer.as_str());
    assert_eq!(claims["scope"], "api:read");
    for c in ["aud", "jti", "iat", "exp"] {
        assert!(!claims[c].is_null(), "claim {c} missing");
    }
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );

    // Without a scope: everything the client may have. The ID-token scopes
    // are never given to a machine.
    let resp = api()
        .post(app.url("/token"))
        .basic_auth(m.id(), m.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "api:read api:write");
    assert!(body.get("id_token").is_none() && body.get("refresh_token").is_none());
}

pub fn decode_segment(jwt: &str, i: usize) -> serde_json::Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let seg = jwt.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_jwks_tell_the_truth() {
    let app = TestApp::spawn().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let resp = api().get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
        let m: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(m["issuer"], app.issuer.as_str());
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            m["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(
            m["id_token_signing_alg_values_supported"],
            serde_json::json!(["RS256"])
        );
        assert!(!m["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "implicit"));
    }

    let resp = api().get(app.url("/jwks")).send().await.unwrap();
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    assert!(resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age="));
    let jwks: serde_json::Value = resp.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    // The signing key, and its successor published ahead of its use.
    assert_eq!(keys.len(), 2);
    for key in keys {
        for member in ["kid", "kty", "alg", "use", "n", "e"] {
            assert!(key.get(member).is_some(), "{member} missing");
        }
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                key.get(private).is_none(),
                "private member {private} published"
            );
        }
    }
    let resp = api()
        .get(app.url("/jwks"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_none_and_prompt_login() {
    let app = TestApp::spawn().await;
    app.add_user("bob").await;
    let web = app.web_client().await;
    let b = browser();
    let (_, challenge) = pkce();

    // Not signed in: prompt=none answers login_required at once.
    let resp = b
        .get(authorize_url(
            &app,
            web.id(),
            &challenge,
            &[("prompt", "none")],
        ))
        .send()
        .await
        .unwrap();
    let loc = location(&resp);
    assert_eq!(param(&loc, "error").as_deref(), Some("login_required"));
    assert_eq!(param(&loc, "state").as_deref(), Some("st-123"));

    code_for(&app, &b, &web, &challenge, "bob").await;

    // Signed in and consented: prompt=none gives a code.
    let resp = b
        .get(authorize_url(
            &app,
            web.id(),
            &challenge,
            &[("prompt", "none")],
        ))
        .send()
        .await
        .unwrap();
    assert!(param(&location(&resp), "code").is_some());

    // More scope than consented: prompt=none answers consent_required.
    let resp = b
        .get(authorize_url(
            &app,
            web.id(),
            &challenge,
            &[("prompt", "none"), ("scope", "openid email")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&resp), "error").as_deref(),
        Some("consent_required")
    );

    // prompt=login asks for the password again even with a session.
    let resp = b
        .get(authorize_url(
            &app,
            web.id(),
            &challenge,
            &[("prompt", "login")],
        ))
        .send()
        .await
        .unwrap();
    assert!(location(&resp).starts_with("/login"));

    // max_age already passed: sign in again.
    app.clock.advance(std::time::Duration::from_secs(120));
    let resp = b
        .get(authorize_url(
            &app,
            web.id(),
            &challenge,
            &[("max_age", "60")],
        ))
        .send()
        .await
        .unwrap();
    assert!(location(&resp).starts_with("/login"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declining_consent_returns_access_denied() {
    let app = TestApp::spawn().await;
    app.add_user("carol").await;
    let web = app.web_client().await;
    let b = browser();
    let (_, challenge) = pkce();
    let resp = login_page(&app, &b, &authorize_url(&app, web.id(), &challenge, &[]))
        .await
        .sign_in(&app, &b, "carol", PASSWORD)
        .await;
    let consent = location(&resp);
    assert!(consent.starts_with("/consent"));
    let page = FormPage::read(&app, &b, &consent).await;
    assert!(page.text.contains("Web app"));
    let resp = page.decide(&app, &b, "deny").await;
    let back = location(&resp);
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
    assert!(param(&back, "code").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_clients_and_client_secret_post() {
    let app = TestApp::spawn().await;
    app.add_user("dora").await;
    let public = app
        .add_client(latchkey_core::admin::NewClient {
            name: "Native app".into(),
            redirect_uris: vec![REDIRECT.into()],
            public: true,
            ..Default::default()
        })
        .await;
    assert!(public.secret.is_none(), "public clients get no secret");
    let b = browser();
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &b, &public, &challenge, "dora").await;
    let form = |code: &str, verifier: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("code_verifier", verifier.to_owned()),
            ("client_id", public.id().to_owned()),
        ]
    };
    let resp = api()
        .post(app.url("/token"))
        .form(&form(&code, &verifier))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["id_token"].is_string());

    let post = app
        .add_client(latchkey_core::admin::NewClient {
            name: "Post app".into(),
            redirect_uris: vec![REDIRECT.into()],
            auth_method: Some(latchkey_domain::ClientAuthMethod::ClientSecretPost),
            ..Default::default()
        })
        .await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &b, &post, &challenge, "dora").await;
    let mut f = form(&code, &verifier);
    f.pop();
    f.push(("client_id", post.id().to_owned()));
    f.push(("client_secret", post.secret().to_owned()));
    let resp = api().post(app.url("/token")).form(&f).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_hint_prefills_the_username() {
    let app = TestApp::spawn().await;
    let web = app.web_client().await;
    let (_, challenge) = pkce();
    let b = browser();
    let page = login_page(
        &app,
        &b,
        &authorize_url(
            &app,
            web.id(),
            &challenge,
            &[("login_hint", "erin@example.com")],
        ),
    )
    .await
    .text;
    assert!(page.contains("value=\"erin@example.com\""), "{page}");
    assert!(page.contains("Web app"), "the page names the client");
}
