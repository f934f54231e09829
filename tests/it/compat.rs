//! Per-client compatibility opt-outs (`pkce`, `nonce`): strict by default,
//! optional only for confidential clients and only by an operator, never
//! a way to weaken PKCE for a code that was issued with it.

use latchkey_core::admin::{ClientChanges, ClientSettings, NewClient};
use latchkey_domain::{AuditEvent, Requirement};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, RedirectUrl,
    TokenResponse,
};
use serde_json::{json, Value};

use crate::registration::{admin_token, initial_token, register, web_metadata};
use crate::support::*;

/// A confidential web client with both opt-outs.
async fn lenient_client(app: &TestApp) -> TestClient {
    app.add_client(NewClient {
        name: "Legacy app".into(),
        redirect_uris: vec![REDIRECT.into()],
        scope: Some("openid profile email".into()),
        pkce: Requirement::Optional,
        nonce: Requirement::Optional,
        ..NewClient::default()
    })
    .await
}

/// Parameters that remove PKCE from [`authorize_url`].
const NO_PKCE: [(&str, &str); 2] = [("code_challenge", ""), ("code_challenge_method", "")];

/// The error an authorization request is redirected back with.
async fn redirected_error(app: &TestApp, client_id: &str, extra: &[(&str, &str)]) -> String {
    let (_, challenge) = pkce();
    let resp = browser()
        .get(authorize_url(app, client_id, &challenge, extra))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{extra:?}");
    let loc = location(&resp);
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert!(param(&loc, "code").is_none(), "no code on error: {loc}");
    param(&loc, "error").unwrap_or_default()
}

/// Signs alice in through a hand-built request with `extra` and returns
/// the code.
async fn code_with(
    app: &TestApp,
    b: &reqwest::Client,
    client: &TestClient,
    extra: &[(&str, &str)],
) -> String {
    let back = sign_in(app, b, &authorize_url(app, client.id(), "", extra), "alice").await;
    assert!(back.starts_with(REDIRECT), "{back}");
    param(&back, "code").expect("a code")
}

/// `POST /token` for a code, with or without a verifier.
async fn redeem_with(
    app: &TestApp,
    client: &TestClient,
    code: &str,
    verifier: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    api()
        .post(app.url("/token"))
        .basic_auth(client.id(), client.secret.as_deref())
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_client_still_needs_pkce_and_nonce() {
    let app = TestApp::spawn().await;
    let web = app.web_client().await;
    assert_eq!(
        redirected_error(&app, web.id(), &NO_PKCE).await,
        "invalid_request"
    );
    assert_eq!(
        redirected_error(&app, web.id(), &[("nonce", "")]).await,
        "invalid_request"
    );
    // At the token endpoint, no verifier is still a malformed request.
    app.add_user("alice").await;
    let b = browser();
    let (_, challenge) = pkce();
    let code = code_for(&app, &b, &web, &challenge, "alice").await;
    let body = assert_oauth_error(
        redeem_with(&app, &web, &code, None).await,
        400,
        "invalid_request",
    )
    .await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("code_verifier"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opted_out_client_signs_in_without_pkce_or_nonce() {
    let app = TestApp::spawn().await;
    let user = app.add_user("alice").await;
    let legacy = lenient_client(&app).await;
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let rp = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(legacy.id().into()),
        Some(ClientSecret::new(legacy.secret().into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());

    // As Authlib and the conformance suite do: state and nonce, no PKCE.
    let (auth_url, csrf, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .url();
    assert!(!auth_url.as_str().contains("code_challenge"));
    let b = browser();
    let back = sign_in(&app, &b, auth_url.as_str(), "alice").await;
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    let code = param(&back, "code").unwrap_or_else(|| panic!("a code: {back}"));
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .request_async(&http)
        .await
        .expect("code exchange without a verifier");
    let verifier = rp.id_token_verifier();
    let claims = tokens
        .id_token()
        .expect("an ID token")
        .claims(&verifier, &nonce)
        .expect("ID token validates");
    assert_eq!(claims.subject().as_str(), user.id.as_str());

    // Neither PKCE nor nonce (the library always sends a nonce, so the
    // request is built by hand): the ID token carries no nonce.
    let mut no_nonce = NO_PKCE.to_vec();
    no_nonce.push(("nonce", ""));
    let code = code_with(&app, &b, &legacy, &no_nonce).await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .request_async(&http)
        .await
        .expect("code exchange");
    let claims = tokens
        .id_token()
        .expect("an ID token")
        .claims(&verifier, |n: Option<&Nonce>| match n {
            None => Ok(()),
            Some(_) => Err("a nonce nobody sent".to_owned()),
        })
        .expect("ID token validates without a nonce");
    assert_eq!(claims.subject().as_str(), user.id.as_str());

    // Optional is never weak: plain PKCE is still refused.
    assert_eq!(
        redirected_error(&app, legacy.id(), &[("code_challenge_method", "plain")]).await,
        "invalid_request"
    );
    assert_eq!(
        redirected_error(&app, legacy.id(), &[("code_challenge_method", "")]).await,
        "invalid_request"
    );
}

/// RFC 9700 §2.1.1: PKCE cannot be dropped or added between the
/// authorization request and the token request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkce_cannot_be_downgraded_at_the_token_endpoint() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let legacy = lenient_client(&app).await;
    let b = browser();

    // Issued without a challenge: any verifier is refused, and the code
    // stays redeemable by its client as it was issued.
    let code = code_with(&app, &b, &legacy, &NO_PKCE).await;
    let (verifier, _) = pkce();
    assert_oauth_error(
        redeem_with(&app, &legacy, &code, Some(&verifier)).await,
        400,
        "invalid_grant",
    )
    .await;
    let resp = redeem_with(&app, &legacy, &code, None).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    // Issued with a challenge: the verifier is required, and must match.
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &b, &legacy, &challenge, "alice").await;
    assert_oauth_error(
        redeem_with(&app, &legacy, &code, None).await,
        400,
        "invalid_grant",
    )
    .await;
    let (other, _) = pkce();
    assert_oauth_error(
        redeem_with(&app, &legacy, &code, Some(&other)).await,
        400,
        "invalid_grant",
    )
    .await;
    let resp = redeem_with(&app, &legacy, &code, Some(&verifier)).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_clients_cannot_opt_out() {
    let app = TestApp::spawn().await;
    let clients = app.core.admin(Actor::CommandLine).clients();
    for (pkce, nonce) in [
        (Requirement::Optional, Requirement::Required),
        (Requirement::Required, Requirement::Optional),
    ] {
        let e = clients
            .create(NewClient {
                name: "SPA".into(),
                redirect_uris: vec![REDIRECT.into()],
                public: true,
                pkce,
                nonce,
                ..NewClient::default()
            })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("confidential"), "{e}");
    }
    let spa = app
        .add_client(NewClient {
            name: "SPA".into(),
            redirect_uris: vec![REDIRECT.into()],
            public: true,
            ..NewClient::default()
        })
        .await;
    let e = clients
        .update_settings(
            spa.id(),
            &ClientSettings {
                pkce: Some(Requirement::Optional),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("confidential"), "{e}");

    // The admin API: refused before anything is written.
    let admin = admin_token(&app).await;
    let before = clients.list().await.unwrap().len();
    let mut public = web_metadata();
    public["token_endpoint_auth_method"] = json!("none");
    for field in ["pkce", "nonce"] {
        let mut body = public.clone();
        body[field] = json!("optional");
        let resp = api()
            .post(app.url("/admin/clients"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        let body = assert_oauth_error(resp, 400, "invalid_request").await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("confidential"),
            "{body}"
        );
    }
    assert_eq!(
        clients.list().await.unwrap().len(),
        before,
        "nothing written"
    );
    let resp = api()
        .put(app.url(&format!("/admin/clients/{}", spa.id())))
        .bearer_auth(&admin)
        .json(&json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "nonce": "optional"}))
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;
    // An unknown value is named.
    let mut body = web_metadata();
    body["pkce"] = json!("plain");
    let resp = api()
        .post(app.url("/admin/clients"))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_client_metadata").await;

    // A confidential client that turns public loses its opt-outs.
    let legacy = lenient_client(&app).await;
    let resp = api()
        .put(app.url(&format!("/admin/clients/{}", legacy.id())))
        .bearer_auth(&admin)
        .json(&json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let info: Value = resp.json().await.unwrap();
    assert_eq!(
        (info["pkce"].as_str(), info["nonce"].as_str()),
        (Some("required"), Some("required"))
    );
    let c = clients.show(legacy.id()).await.unwrap();
    assert_eq!(
        (c.pkce, c.nonce),
        (Requirement::Required, Requirement::Required)
    );
    assert_eq!(
        redirected_error(&app, legacy.id(), &NO_PKCE).await,
        "invalid_request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_sets_shows_and_audits_the_opt_outs() {
    let app = TestApp::spawn().await;
    let admin = admin_token(&app).await;
    let mut body = web_metadata();
    body["pkce"] = json!("optional");
    let resp = api()
        .post(app.url("/admin/clients"))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let info: Value = resp.json().await.unwrap();
    let id = info["client_id"].as_str().unwrap().to_owned();
    assert_eq!(info["pkce"], "optional");
    assert_eq!(info["nonce"], "required");
    let warnings = info["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{info}");
    assert!(warnings[0].as_str().unwrap().starts_with("pkce=optional"));

    // PUT: an omitted setting stays; a given one changes. (The clock moves
    // so that the audit records are in order.)
    app.clock.advance(std::time::Duration::from_secs(1));
    let mut body = web_metadata();
    body["nonce"] = json!("optional");
    let resp = api()
        .put(app.url(&format!("/admin/clients/{id}")))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let shown: Value = api()
        .get(app.url(&format!("/admin/clients/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (shown["pkce"].as_str(), shown["nonce"].as_str()),
        (Some("optional"), Some("optional"))
    );
    assert_eq!(shown["warnings"].as_array().unwrap().len(), 2);

    // Back to strict.
    app.clock.advance(std::time::Duration::from_secs(1));
    let mut body = web_metadata();
    body["pkce"] = json!("required");
    body["nonce"] = json!("required");
    let resp = api()
        .put(app.url(&format!("/admin/clients/{id}")))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    let info: Value = resp.json().await.unwrap();
    assert_eq!(info["warnings"], json!([]));

    let details: Vec<String> = app
        .store
        .recent(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.kind == AuditEvent::ClientCompatChanged && r.client_id.as_deref() == Some(&id)
        })
        .map(|r| r.detail)
        .rev()
        .collect();
    assert_eq!(
        details,
        [
            "pkce=optional",
            "nonce=optional",
            "pkce=required, nonce=required"
        ]
    );

    // The OpenAPI document names the fields.
    let doc: Value = api()
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let props = &doc["components"]["schemas"]["ClientInformation"]["properties"];
    for field in ["pkce", "nonce", "warnings"] {
        assert!(props.get(field).is_some(), "{field} in {props}");
    }
}

/// RFC 7591 metadata named `pkce` or `nonce` is not Latchkey's setting: a
/// registrant cannot opt itself out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_cannot_opt_out() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let mut body = web_metadata();
    body["pkce"] = json!("optional");
    body["nonce"] = json!("optional");
    let info = register(&app, &initial_token(&app, 1).await, body).await;
    assert!(
        info.get("pkce").is_none() && info.get("warnings").is_none(),
        "{info}"
    );
    let id = info["client_id"].as_str().unwrap();
    let c = app
        .core
        .admin(Actor::CommandLine)
        .clients()
        .show(id)
        .await
        .unwrap();
    assert_eq!(
        (c.pkce, c.nonce),
        (Requirement::Required, Requirement::Required)
    );
    assert_eq!(
        redirected_error(&app, id, &NO_PKCE).await,
        "invalid_request"
    );
    assert_eq!(
        redirected_error(&app, id, &[("nonce", "")]).await,
        "invalid_request"
    );

    // Nor through RFC 7592: an operator's opt-out survives a registrant's
    // update, and the registrant's own `pkce` member changes nothing.
    app.core
        .admin(Actor::CommandLine)
        .clients()
        .update_settings(
            id,
            &ClientSettings {
                pkce: Some(Requirement::Optional),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut body = web_metadata();
    body["client_id"] = json!(id);
    body["pkce"] = json!("required");
    body["nonce"] = json!("optional");
    let resp = api()
        .put(app.url(&format!("/register/{id}")))
        .bearer_auth(info["registration_access_token"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let c = app
        .core
        .admin(Actor::CommandLine)
        .clients()
        .show(id)
        .await
        .unwrap();
    assert_eq!(
        (c.pkce, c.nonce),
        (Requirement::Optional, Requirement::Required)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_update_changes_each_setting() {
    let app = TestApp::spawn().await;
    let web = app.web_client().await;
    let clients = app.core.admin(Actor::CommandLine).clients();
    let c = clients
        .update(
            web.id(),
            &ClientChanges {
                name: Some("Renamed".into()),
                scope: Some("openid email".into()),
                redirect_uris: Some(vec!["https://app.example.com/cb".into()]),
                auth_method: Some(latchkey_domain::ClientAuthMethod::ClientSecretPost),
                post_logout_redirect_uris: Some(vec!["https://app.example.com/bye".into()]),
                backchannel_logout_uri: Some("https://app.example.com/bcl".into()),
                grant_types: Some(vec![
                    latchkey_domain::GrantType::AuthorizationCode,
                    latchkey_domain::GrantType::RefreshToken,
                ]),
                settings: ClientSettings {
                    introspect: Some(true),
                    pkce: Some(Requirement::Optional),
                    nonce: None,
                    require_mfa: None,
                    require_par: None,
                    dpop_bound: None,
                    resources: None,
                    fapi2: None,
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let stored = clients.show(web.id()).await.unwrap();
    assert_eq!(c, stored);
    assert_eq!(stored.name, "Renamed");
    assert_eq!(stored.scope.to_string(), "email openid");
    assert_eq!(
        stored.redirect_uris[0].as_str(),
        "https://app.example.com/cb"
    );
    assert_eq!(
        stored.auth_method,
        latchkey_domain::ClientAuthMethod::ClientSecretPost
    );
    assert_eq!(stored.post_logout_redirect_uris.len(), 1);
    assert_eq!(
        stored.backchannel_logout_uri.as_deref(),
        Some("https://app.example.com/bcl")
    );
    assert_eq!(stored.grant_types.len(), 2);
    assert!(stored.introspect);
    assert_eq!(
        (stored.pkce, stored.nonce),
        (Requirement::Optional, Requirement::Required)
    );
    assert_eq!(
        stored.secret_hash, web.client.secret_hash,
        "the secret is kept"
    );

    // Wrong values are refused and change nothing.
    for bad in [
        ClientChanges {
            scope: Some("openid  email".into()),
            ..Default::default()
        },
        ClientChanges {
            redirect_uris: Some(vec!["http://app.example.com/cb".into()]),
            ..Default::default()
        },
        ClientChanges {
            redirect_uris: Some(vec![]),
            ..Default::default()
        },
        ClientChanges {
            auth_method: Some(latchkey_domain::ClientAuthMethod::None),
            ..Default::default()
        },
    ] {
        assert!(clients.update(web.id(), &bad).await.is_err(), "{bad:?}");
    }
    assert_eq!(clients.show(web.id()).await.unwrap(), stored);

    // Every change is audited; the opt-out under its own event.
    let kinds: Vec<(AuditEvent, String)> = app
        .store
        .recent(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.client_id.as_deref() == Some(web.id()))
        .map(|r| (r.kind, r.detail))
        .collect();
    assert!(
        kinds.contains(&(AuditEvent::ClientCompatChanged, "pkce=optional".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(AuditEvent::ClientSettingsChanged, "introspect=true".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|(k, d)| *k == AuditEvent::ClientUpdated
            && d.contains("name")
            && d.contains("scope")),
        "{kinds:?}"
    );
}

/// What `latchkey serve` warns about at start-up: one entry per client
/// with an opt-out, none for strict clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_lists_every_opt_out() {
    let app = TestApp::spawn().await;
    app.web_client().await;
    let legacy = lenient_client(&app).await;
    let warned = app
        .core
        .admin(Actor::CommandLine)
        .clients()
        .compat_warnings()
        .await
        .unwrap();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(warned[0].client_id.as_str(), legacy.id());
    assert_eq!(warned[0].warnings.len(), 2);
    // A client created with an opt-out is audited too.
    let audited = app.store.recent(100).await.unwrap().into_iter().any(|r| {
        r.kind == AuditEvent::ClientCompatChanged
            && r.client_id.as_deref() == Some(legacy.id())
            && r.detail == "pkce=optional, nonce=optional"
    });
    assert!(audited);
}

mod cli {
    use std::process::{Command, Output};

    fn latchkey(dir: &std::path::Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .current_dir(dir)
            .env_remove("LATCHKEY_ISSUER")
            .env_remove("LATCHKEY_BIND")
            .env_remove("LATCHKEY_DATABASE_URL")
            .args(args)
            .output()
            .unwrap()
    }

    fn json(out: &Output) -> serde_json::Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    #[test]
    fn the_command_line_sets_and_updates_the_opt_outs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // Public: refused, with the reason.
        for flag in ["--pkce", "--nonce"] {
            let out = latchkey(
                d,
                &[
                    "client",
                    "add",
                    "--name",
                    "SPA",
                    "--public",
                    "--redirect-uri",
                    "http://127.0.0.1:3000/cb",
                    flag,
                    "optional",
                ],
            );
            assert!(!out.status.success());
            assert!(String::from_utf8_lossy(&out.stderr).contains("confidential"));
        }
        let out = latchkey(
            d,
            &[
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "http://127.0.0.1:3000/cb",
                "--pkce",
                "sometimes",
            ],
        );
        assert!(!out.status.success());

        let c = json(&latchkey(
            d,
            &[
                "client",
                "add",
                "--name",
                "Legacy",
                "--redirect-uri",
                "http://127.0.0.1:3000/cb",
                "--pkce",
                "optional",
                "--json",
            ],
        ));
        let id = c["client_id"].as_str().unwrap().to_owned();
        assert_eq!(
            (c["pkce"].as_str(), c["nonce"].as_str()),
            (Some("optional"), Some("required"))
        );
        let shown = json(&latchkey(d, &["client", "show", &id, "--json"]));
        assert_eq!(shown["pkce"], "optional");
        assert_eq!(shown["warnings"].as_array().unwrap().len(), 1);

        let updated = json(&latchkey(
            d,
            &[
                "client",
                "update",
                &id,
                "--name",
                "Renamed",
                "--scope",
                "openid email",
                "--pkce",
                "required",
                "--nonce",
                "optional",
                "--json",
            ],
        ));
        assert_eq!(updated["client_name"], "Renamed");
        assert_eq!(updated["scope"], "email openid");
        assert_eq!(
            (updated["pkce"].as_str(), updated["nonce"].as_str()),
            (Some("required"), Some("optional"))
        );
        // An omitted flag leaves its setting; list flags replace the list.
        let updated = json(&latchkey(
            d,
            &[
                "client",
                "update",
                &id,
                "--redirect-uri",
                "https://app.example.com/a",
                "--redirect-uri",
                "https://app.example.com/b",
                "--json",
            ],
        ));
        assert_eq!(updated["client_name"], "Renamed");
        assert_eq!(updated["nonce"], "optional");
        assert_eq!(
            updated["redirect_uris"],
            serde_json::json!(["https://app.example.com/a", "https://app.example.com/b"])
        );
        // What `add` can set, `update` can take back.
        let updated = json(&latchkey(
            d,
            &[
                "client",
                "update",
                &id,
                "--post-logout-redirect-uri",
                "https://app.example.com/bye",
                "--id-token-alg",
                "RS256",
                "--json",
            ],
        ));
        assert_eq!(
            updated["post_logout_redirect_uris"],
            serde_json::json!(["https://app.example.com/bye"])
        );
        assert_eq!(updated["id_token_signed_response_alg"], "RS256");
        let out = latchkey(
            d,
            &[
                "client",
                "update",
                &id,
                "--no-post-logout-redirect-uris",
                "--post-logout-redirect-uri",
                "https://app.example.com/bye",
            ],
        );
        assert!(!out.status.success(), "contradictory flags are refused");
        let updated = json(&latchkey(
            d,
            &[
                "client",
                "update",
                &id,
                "--no-post-logout-redirect-uris",
                "--default-id-token-alg",
                "--json",
            ],
        ));
        assert_eq!(updated["post_logout_redirect_uris"], serde_json::json!([]));
        assert!(
            updated["id_token_signed_response_alg"].is_null(),
            "{updated}"
        );
        assert_eq!(updated["redirect_uris"].as_array().unwrap().len(), 2);

        let spa = json(&latchkey(
            d,
            &[
                "client",
                "add",
                "--name",
                "SPA",
                "--public",
                "--redirect-uri",
                "http://127.0.0.1:3000/cb",
                "--json",
            ],
        ));
        let out = latchkey(
            d,
            &[
                "client",
                "update",
                spa["client_id"].as_str().unwrap(),
                "--nonce",
                "optional",
            ],
        );
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("confidential"));
    }
}
