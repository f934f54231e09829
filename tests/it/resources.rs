//! Resource indicators (RFC 8707): an access token's `aud` is the
//! resources the client named, among those every client may ask for
//! (`resources`) and those an operator gave it; anything else is
//! `invalid_target`. A grant's resources bound what its token requests
//! and refreshes may name; introspection answers each resource server for
//! its own tokens; UserInfo takes only tokens for Latchkey itself.

use latchkey_core::admin::{ClientSettings, NewClient};
use latchkey_domain::GrantType;
use serde_json::{json, Value};

use crate::proofs::jwt_claims;
use crate::support::*;

const API: &str = "https://api.example.com";
const FILES: &str = "https://files.example.com/v1";
const OWN: &str = "urn:example:reports";

async fn server() -> TestApp {
    TestApp::spawn_with(|c| {
        c.resources.allowed = [API, FILES]
            .iter()
            .map(|r| latchkey_protocol::resource::Resource::parse(r).unwrap())
            .collect();
    })
    .await
}

async fn machine(app: &TestApp, own: &[&str]) -> TestClient {
    app.add_client(NewClient {
        name: "Machine".into(),
        grant_types: vec![GrantType::ClientCredentials],
        scope: Some("api:read".into()),
        resources: own.iter().map(|r| r.to_string()).collect(),
        ..NewClient::default()
    })
    .await
}

async fn client_credentials(
    app: &TestApp,
    client: &TestClient,
    resources: &[&str],
) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend(resources.iter().map(|r| ("resource", *r)));
    api()
        .post(app.url("/token"))
        .basic_auth(client.id(), client.secret.as_deref())
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn access_token(resp: reqwest::Response) -> String {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_token_is_for_the_resources_the_client_names() {
    let app = server().await;
    let m = machine(&app, &[OWN]).await;
    let token = access_token(client_credentials(&app, &m, &[API]).await).await;
    assert_eq!(jwt_claims(&token)["aud"], API);
    let token = access_token(client_credentials(&app, &m, &[API, OWN]).await).await;
    assert_eq!(jwt_claims(&token)["aud"], json!([API, OWN]));
    // None named: Latchkey's own audience, as before.
    let token = access_token(client_credentials(&app, &m, &[]).await).await;
    assert_eq!(jwt_claims(&token)["aud"], app.issuer);

    // Another client's own resource, an unknown one, malformed ones.
    let other = machine(&app, &[]).await;
    for bad in [
        &[OWN][..],
        &["https://unknown.example.com"],
        &["api"],
        &["https://api.example.com/#frag"],
        &[API, "https://unknown.example.com"],
    ] {
        let resp = client_credentials(&app, &other, bad).await;
        assert_oauth_error(resp, 400, "invalid_target").await;
    }
    // An operator gives the other client the resource: now it may.
    app.core
        .admin(Actor::CommandLine)
        .clients()
        .update_settings(
            other.id(),
            &ClientSettings {
                resources: Some(vec![OWN.into()]),
                ..ClientSettings::default()
            },
        )
        .await
        .unwrap();
    app.clock.advance(std::time::Duration::from_secs(2));
    let token = access_token(client_credentials(&app, &other, &[OWN]).await).await;
    assert_eq!(jwt_claims(&token)["aud"], OWN);
}

/// Signs alice in with `resources` on the authorization request and
/// redeems the code with `at_token` on the token request.
async fn code_flow(
    app: &TestApp,
    client: &TestClient,
    resources: &[&str],
    at_token: &[&str],
) -> reqwest::Response {
    let (verifier, challenge) = pkce();
    let mut url = url::Url::parse(&authorize_url(
        app,
        client.id(),
        &challenge,
        &[("scope", "openid offline_access")],
    ))
    .unwrap();
    for r in resources {
        url.query_pairs_mut().append_pair("resource", r);
    }
    let back = sign_in(app, &browser(), url.as_str(), "alice").await;
    let code = param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"));
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    form.extend(at_token.iter().map(|r| ("resource", *r)));
    api()
        .post(app.url("/token"))
        .basic_auth(client.id(), client.secret.as_deref())
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn refresh(
    app: &TestApp,
    client: &TestClient,
    token: &str,
    resources: &[&str],
) -> reqwest::Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    form.extend(resources.iter().map(|r| ("resource", *r)));
    api()
        .post(app.url("/token"))
        .basic_auth(client.id(), client.secret.as_deref())
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_grant_bounds_the_resources_of_its_tokens() {
    let app = server().await;
    app.add_user("alice").await;
    let web = app
        .add_client(NewClient {
            name: "Web".into(),
            redirect_uris: vec![REDIRECT.into()],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scope: Some("openid offline_access".into()),
            ..NewClient::default()
        })
        .await;

    // The sign-in names two; the token request takes one of them.
    let resp = code_flow(&app, &web, &[API, FILES], &[FILES]).await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["aud"],
        FILES
    );
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    // A refresh may narrow within the sign-in's two, never step outside.
    let resp = refresh(&app, &web, &rt, &[API]).await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["aud"],
        API
    );
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let resp = refresh(&app, &web, &rt, &["https://unknown.example.com"]).await;
    assert_oauth_error(resp, 400, "invalid_target").await;
    // Refused without rotating: the same token still refreshes, to both.
    let resp = refresh(&app, &web, &rt, &[]).await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["aud"],
        json!([API, FILES])
    );

    // A token request naming a resource the sign-in did not.
    let resp = code_flow(&app, &web, &[API], &[FILES]).await;
    assert_oauth_error(resp, 400, "invalid_target").await;
    // An authorization request naming one the client may not have: back
    // to the client with the error.
    let (_, challenge) = pkce();
    let mut url = url::Url::parse(&authorize_url(
        &app,
        web.id(),
        &challenge,
        &[("scope", "openid")],
    ))
    .unwrap();
    url.query_pairs_mut()
        .append_pair("resource", "https://unknown.example.com");
    let resp = browser().get(url.as_str()).send().await.unwrap();
    let to = location(&resp);
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_target"));
}

#[tokio::test]
async fn userinfo_and_introspection_answer_by_audience() {
    let app = server().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser(), &web, &challenge, "alice").await;
    let own: Value = redeem(&app, &web, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let own = own["access_token"].as_str().unwrap();
    let m = machine(&app, &[]).await;
    let for_api = access_token(client_credentials(&app, &m, &[API]).await).await;
    let for_files = access_token(client_credentials(&app, &m, &[FILES]).await).await;

    // UserInfo is Latchkey's: a token for the API is refused there.
    let userinfo = |token: String| api().get(app.url("/userinfo")).bearer_auth(token).send();
    assert_eq!(userinfo(own.to_owned()).await.unwrap().status(), 200);
    let resp = userinfo(for_api.clone()).await.unwrap();
    assert_eq!(resp.status(), 401);

    // A resource server sees the tokens for its own resource only.
    let api_server = app
        .add_client(NewClient {
            name: "API".into(),
            grant_types: vec![GrantType::ClientCredentials],
            scope: Some("api:read".into()),
            resources: vec![API.into()],
            ..NewClient::default()
        })
        .await;
    let introspect = |client: &TestClient, token: &str| {
        api()
            .post(app.url("/introspect"))
            .basic_auth(client.id(), client.secret.as_deref())
            .form(&[("token", token)])
            .send()
    };
    let seen: Value = introspect(&api_server, &for_api)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["aud"], API);
    for other in [&for_files, own] {
        let seen: Value = introspect(&api_server, other)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(seen, json!({"active": false}));
    }
    // One an administrator lets introspect anything sees them all.
    let rs = app.resource_server().await;
    let seen: Value = introspect(&rs, &for_files)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["active"], true);
    assert_eq!(seen["aud"], FILES);
}
