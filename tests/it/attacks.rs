//! Every security rule, from the attacker's side: the bad request is sent
//! and its refusal checked.

use std::time::Duration;

use crate::support::*;

/// Asserts an HTML error page with status 400 and no redirect.
async fn assert_error_page(resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), 400, "error page expected");
    assert!(
        resp.headers().get("location").is_none(),
        "must not redirect"
    );
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/html"), "{ct}");
    resp.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_uri_must_match_byte_for_byte() {
    let app = TestApp::spawn().await;
    let web = app.web_client().await;
    let (_, challenge) = pkce();
    for bad in [
        "http://127.0.0.1:9/callback/",
        "http://127.0.0.1:9/callback/evil",
        "http://127.0.0.1:9/callbac",
        "http://127.0.0.1:9/callback?x=1",
        "http://127.0.0.1:9/Callback",
        "HTTP://127.0.0.1:9/callback",
        "http://127.0.0.1:10/callback",
        "http://127.0.0.1:9/callback#frag",
        "http://127.0.0.1:9/callback%2F..%2Fevil",
        "https://attacker.example/callback",
    ] {
        let resp = api()
            .get(authorize_url(
                &app,
                web.id(),
                &challenge,
                &[("redirect_uri", bad)],
            ))
            .send()
            .await
            .unwrap();
        let page = assert_error_page(resp).await;
        assert!(page.contains("redirect_uri"), "{bad}: {page}");
    }
    // Missing redirect_uri: also an error page.
    let resp = api()
        .get(authorize_url(
            &app,
            web.id(),
            &challenge,
            &[("redirect_uri", "")],
        ))
        .send()
        .await
        .unwrap();
    assert_error_page(resp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_client_gets_an_error_page_not_a_redirect() {
    let app = TestApp::spawn().await;
    let (_, challenge) = pkce();
    let resp = api()
        .get(authorize_url(&app, "nosuchclient", &challenge, &[]))
        .send()
        .await
        .unwrap();
    let page = assert_error_page(resp).await;
    assert!(page.contains("unknown client_id"));
    let resp = api()
        .get(authorize_url(&app, "", &challenge, &[]))
        .send()
        .await
        .unwrap();
    assert_error_page(resp).await;
}

/// Sends an authorization request that passes the client checks and returns
/// the redirect's error code.
async fn redirected_error(
    app: &TestApp,
    client_id: &str,
    extra: &[(&str, &str)],
) -> (String, Option<String>) {
    let (_, challenge) = pkce();
    let resp = api()
        .get(authorize_url(app, client_id, &challenge, extra))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{extra:?}");
    let loc = location(&resp);
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert!(param(&loc, "code").is_none(), "no code on error: {loc}");
    assert_eq!(
        param(&loc, "iss").as_deref(),
        Some(app.issuer.as_str()),
        "{loc}"
    );
    (
        param(&loc, "error").unwrap_or_default(),
        param(&loc, "state"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_request_rules() {
    let app = TestApp::spawn().await;
    let web = app.web_client().await;
    let id = web.id();

    let (e, state) = redirected_error(&app, id, &[("state", "")]).await;
    assert_eq!(
        (e.as_str(), state),
        ("invalid_request", None),
        "state is mandatory"
    );
    let (e, state) = redirected_error(&app, id, &[("nonce", "")]).await;
    assert_eq!(
        (e.as_str(), state.as_deref()),
        ("invalid_request", Some("st-123")),
        "nonce is mandatory with openid"
    );
    let (e, _) = redirected_error(&app, id, &[("code_challenge_method", "plain")]).await;
    assert_eq!(e, "invalid_request", "plain PKCE");
    let (e, _) = redirected_error(&app, id, &[("code_challenge", "")]).await;
    assert_eq!(e, "invalid_request", "missing PKCE");
    let (e, _) = redirected_error(&app, id, &[("code_challenge_method", "")]).await;
    assert_eq!(e, "invalid_request", "missing method means plain");
    for rt in ["token", "id_token", "code id_token", "code token"] {
        let (e, _) = redirected_error(&app, id, &[("response_type", rt)]).await;
        assert_eq!(e, "unsupported_response_type", "{rt}");
    }
    let (e, _) = redirected_error(&app, id, &[("response_mode", "fragment")]).await;
    assert_eq!(e, "invalid_request");
    let (e, _) = redirected_error(&app, id, &[("scope", "openid admin")]).await;
    assert_eq!(e, "invalid_scope", "scope outside the registration");
    let (e, _) = redirected_error(&app, id, &[("request", "eyJhbGciOiJub25lIn0.e30.")]).await;
    assert_eq!(e, "request_not_supported");
    let (e, _) = redirected_error(&app, id, &[("prompt", "none login")]).await;
    assert_eq!(e, "invalid_request");

    // A machine client may not use the code flow at all.
    let m = app
        .add_client(latchkey_core::admin::NewClient {
            name: "both".into(),
            redirect_uris: vec![REDIRECT.into()],
            grant_types: vec![latchkey_domain::GrantType::ClientCredentials],
            scope: Some("openid api".into()),
            ..Default::default()
        })
        .await;
    let (e, _) = redirected_error(&app, m.id(), &[]).await;
    assert_eq!(e, "unauthorized_client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_oversized_parameters_are_refused() {
    let app = TestApp::spawn().await;
    let web = app.web_client().await;
    let (_, challenge) = pkce();
    let url = format!(
        "{}&state=second",
        authorize_url(&app, web.id(), &challenge, &[])
    );
    let resp = api().get(url).send().await.unwrap();
    let page = assert_error_page(resp).await;
    assert!(page.contains("repeated"));

    let url = format!(
        "{}&pad={}",
        authorize_url(&app, web.id(), &challenge, &[]),
        "x".repeat(10_000)
    );
    assert_error_page(api().get(url).send().await.unwrap()).await;

    let resp = api()
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .basic_auth(web.id(), web.secret.as_deref())
        .body("grant_type=client_credentials&grant_type=authorization_code")
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;

    let resp = api()
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&x={}",
            "y".repeat(40_000)
        ))
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;

    let resp = api()
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("%%%&&&===")
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_client_error(),
        "malformed body: {}",
        resp.status()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkce_verifier_must_match() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let (_, challenge) = pkce();
    let (other_verifier, _) = pkce();
    let code = code_for(&app, &browser(), &web, &challenge, "alice").await;
    let resp = redeem(&app, &web, &code, &other_verifier).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_code_is_refused_and_revokes_its_tokens() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser(), &web, &challenge, "alice").await;

    let first: serde_json::Value = redeem(&app, &web, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let access = first["access_token"]
        .as_str()
        .expect("first redemption works")
        .to_owned();
    let userinfo = || api().get(app.url("/userinfo")).bearer_auth(&access).send();
    assert_eq!(userinfo().await.unwrap().status(), 200);

    let resp = redeem(&app, &web, &code, &verifier).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
    let resp = userinfo().await.unwrap();
    assert_eq!(
        resp.status(),
        401,
        "the token issued from the replayed code is revoked"
    );
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_redemptions_of_one_code_issue_one_token() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser(), &web, &challenge, "alice").await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(10));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (b, url, id, secret, code, verifier) = (
            barrier.clone(),
            app.url("/token"),
            web.id().to_owned(),
            web.secret().to_owned(),
            code.clone(),
            verifier.clone(),
        );
        tasks.push(tokio::spawn(async move {
            b.wait().await;
            api()
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", verifier.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            400 => {}
            s => panic!("unexpected status {s}"),
        }
    }
    assert_eq!(ok, 1, "exactly one redemption wins");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_code_is_refused() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser(), &web, &challenge, "alice").await;
    app.clock.advance(Duration::from_secs(61));
    let resp = redeem(&app, &web, &code, &verifier).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_of_another_client_is_refused() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let other = app.web_client().await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser(), &web, &challenge, "alice").await;
    let resp = redeem(&app, &other, &code, &verifier).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
}

/// A code shown by the wrong client, with the wrong PKCE verifier or the
/// wrong redirect URI is refused without being spent: its own client still
/// redeems it. Once redeemed, a stranger presenting it again is refused as
/// a stranger, not taken for a replay that would revoke the client's tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_presented_by_a_stranger_is_not_spent() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let other = app.web_client().await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser(), &web, &challenge, "alice").await;
    let exchange = |client: &TestClient, redirect: &str, verifier: &str| {
        api()
            .post(app.url("/token"))
            .basic_auth(client.id().to_owned(), client.secret.clone())
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
            ])
            .send()
    };
    let (wrong_verifier, _) = pkce();
    for (who, resp) in [
        (
            "another client",
            exchange(&other, REDIRECT, &verifier).await,
        ),
        (
            "a wrong verifier",
            exchange(&web, REDIRECT, &wrong_verifier).await,
        ),
        (
            "a wrong redirect URI",
            exchange(&web, "http://127.0.0.1:9/other", &verifier).await,
        ),
    ] {
        eprintln!("presented with {who}");
        assert_oauth_error(resp.unwrap(), 400, "invalid_grant").await;
    }
    let resp = exchange(&web, REDIRECT, &verifier).await.unwrap();
    assert_eq!(
        resp.status(),
        200,
        "the code was not spent by the strangers"
    );
    let tokens: serde_json::Value = resp.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    let resp = exchange(&other, REDIRECT, &verifier).await.unwrap();
    assert_oauth_error(resp, 400, "invalid_grant").await;
    let resp = api()
        .get(app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "a stranger's presentation is no replay: the client's token lives"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_different_redirect_uri_at_the_token_endpoint_is_refused() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser(), &web, &challenge, "alice").await;
    let resp = api()
        .post(app.url("/token"))
        .basic_auth(web.id(), web.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/callback/"),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_grant").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_authentication_is_enforced() {
    let app = TestApp::spawn().await;
    let m = app.machine_client().await;
    let cc = [("grant_type", "client_credentials")];

    let resp = api()
        .post(app.url("/token"))
        .basic_auth(m.id(), Some("wrong"))
        .form(&cc)
        .send()
        .await
        .unwrap();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_oauth_error(resp, 401, "invalid_client").await;
    assert!(www.unwrap().starts_with("Basic"));

    let resp = api()
        .post(app.url("/token"))
        .basic_auth("nobody", Some("x"))
        .form(&cc)
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 401, "invalid_client").await;

    // No credentials at all.
    let resp = api()
        .post(app.url("/token"))
        .form(&cc)
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 401, "invalid_client").await;

    // A confidential client cannot pretend to be public.
    let resp = api()
        .post(app.url("/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", m.id())])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 401, "invalid_client").await;

    // Registered for client_secret_basic: the secret in the body is refused.
    let resp = api()
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", m.id()),
            ("client_secret", m.secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 401, "invalid_client").await;

    // A scope the client does not have.
    let resp = api()
        .post(app.url("/token"))
        .basic_auth(m.id(), m.secret.as_deref())
        .form(&[("grant_type", "client_credentials"), ("scope", "api:admin")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_scope").await;

    // A web client may not use client credentials.
    let web = app.web_client().await;
    let resp = api()
        .post(app.url("/token"))
        .basic_auth(web.id(), web.secret.as_deref())
        .form(&cc)
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "unauthorized_client").await;

    // Grants the client may not use, and grants nobody may use.
    let resp = api()
        .post(app.url("/token"))
        .basic_auth(m.id(), m.secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "unauthorized_client").await;
    for g in ["password", "implicit"] {
        let resp = api()
            .post(app.url("/token"))
            .basic_auth(m.id(), m.secret.as_deref())
            .form(&[("grant_type", g), ("refresh_token", "x")])
            .send()
            .await
            .unwrap();
        assert_oauth_error(resp, 400, "unsupported_grant_type").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_endpoint_takes_only_forms() {
    let app = TestApp::spawn().await;
    let m = app.machine_client().await;
    for ct in [
        Some("application/json"),
        Some("text/plain"),
        Some("multipart/form-data"),
        Some("application/x-www-form-urlencoded; charset=latin1"),
        None,
    ] {
        let mut req = api()
            .post(app.url("/token"))
            .basic_auth(m.id(), m.secret.as_deref())
            .body("grant_type=client_credentials");
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let resp = req.send().await.unwrap();
        assert_oauth_error(resp, 400, "invalid_request").await;
    }
    // GET is not a token request.
    let resp = api().get(app.url("/token")).send().await.unwrap();
    assert!(resp.status().is_client_error());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_takes_the_token_only_from_the_header() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser(), &web, &challenge, "alice").await;
    let tokens: serde_json::Value = redeem(&app, &web, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    let resp = api()
        .get(app.url(&format!("/userinfo?access_token={access}")))
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;
    let resp = api()
        .post(app.url("/userinfo"))
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;
    // Header and query together: still refused.
    let resp = api()
        .get(app.url(&format!("/userinfo?access_token={access}")))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;

    let resp = api().get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));

    let resp = api()
        .get(app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_refuses_forged_and_machine_tokens() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let app = TestApp::spawn().await;
    let m = app.machine_client().await;
    let body: serde_json::Value = api()
        .post(app.url("/token"))
        .basic_auth(m.id(), m.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap();

    // A machine token has no user and no openid scope.
    let resp = api()
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 403, "insufficient_scope").await;

    // alg none with the real kid, and a tampered payload.
    let header = crate::flows::decode_segment(token, 0);
    let mut claims = crate::flows::decode_segment(token, 1);
    claims["scope"] = "openid".into();
    let enc = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let none = format!(
        "{}.{}.",
        enc(&serde_json::json!({"alg": "none", "kid": header["kid"], "typ": "at+jwt"})),
        enc(&claims)
    );
    let sig = token.rsplit('.').next().unwrap();
    let tampered = format!(
        "{}.{}.{}",
        token.split('.').next().unwrap(),
        enc(&claims),
        sig
    );
    for forged in [none, tampered, "not.a.jwt".to_owned()] {
        let resp = api()
            .get(app.url("/userinfo"))
            .bearer_auth(&forged)
            .send()
            .await
            .unwrap();
        assert_oauth_error(resp, 401, "invalid_token").await;
    }

    // An expired token.
    app.clock.advance(Duration::from_secs(400));
    let resp = api()
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 401, "invalid_token").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_form_needs_a_csrf_token_bound_to_the_browser() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let (_, challenge) = pkce();
    let victim = browser();
    let page = login_page(
        &app,
        &victim,
        &authorize_url(&app, web.id(), &challenge, &[]),
    )
    .await;
    let req = page.req();

    // No token.
    let resp = victim
        .post(app.url("/login"))
        .form(&[
            ("req", req.as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(
        resp.headers().get("set-cookie").is_none(),
        "no session was created"
    );

    // A token taken from another browser (from its own sign-in page).
    let attacker = browser();
    let page2 = login_page(
        &app,
        &attacker,
        &authorize_url(&app, web.id(), &challenge, &[]),
    )
    .await;
    let resp = post_login(
        &app,
        &victim,
        Some(req.as_str()),
        page2.csrf().as_str(),
        "alice",
        PASSWORD,
    )
    .await;
    assert_eq!(resp.status(), 403);

    // The consent form too: a valid login, then a consent POST without a token.
    let resp = page.sign_in(&app, &victim, "alice", PASSWORD).await;
    assert_eq!(resp.status(), 303);
    let consent = location(&resp);
    let cpage = FormPage::read(&app, &victim, &consent).await;
    let resp = victim
        .post(app.url("/consent"))
        .form(&[("req", cpage.req().as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_cookies_are_hardened() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let (_, challenge) = pkce();
    let b = browser();
    let resp = b
        .get(authorize_url(&app, web.id(), &challenge, &[]))
        .send()
        .await
        .unwrap();
    // The browser cookie is set where the request is bound to the browser.
    let csrf_cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        csrf_cookie.starts_with("latchkey_csrf=")
            && csrf_cookie.contains("HttpOnly")
            && csrf_cookie.contains("SameSite=Lax"),
        "{csrf_cookie}"
    );
    assert!(
        resp.headers().get("strict-transport-security").is_none(),
        "http issuer: no HSTS"
    );
    let resp = b.get(app.url(&location(&resp))).send().await.unwrap();
    let h = resp.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    // The sign-in form posts to Latchkey and ends in a redirect to the
    // client: those two targets only.
    assert!(
        csp.ends_with("form-action 'self' http://127.0.0.1:9"),
        "{csp}"
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    let page = FormPage {
        text: resp.text().await.unwrap(),
    };
    let resp = page.sign_in(&app, &b, "alice", PASSWORD).await;
    let session = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("latchkey_session="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    assert!(!session.contains("Secure"), "http issuer: no Secure flag");

    let account = api().get(app.url("/login")).send().await.unwrap();
    let csp = account.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.ends_with("form-action 'self'"), "{csp}");

    // Unknown routes answer JSON, not a framework page.
    let resp = api().get(app.url("/nope")).send().await.unwrap();
    assert_oauth_error(resp, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_reveal_nothing_and_slow_down() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let (_, challenge) = pkce();
    let b = browser();
    let page = login_page(&app, &b, &authorize_url(&app, web.id(), &challenge, &[])).await;
    let (req, csrf) = (page.req(), page.csrf());
    let attempt = |user: &'static str, pw: &'static str| {
        b.post(app.url("/login"))
            .form(&[
                ("req", req.as_str()),
                ("csrf", csrf.as_str()),
                ("username", user),
                ("password", pw),
            ])
            .send()
    };
    let wrong_pw = attempt("alice", "not the password").await.unwrap();
    assert_eq!(wrong_pw.status(), 401);
    let wrong_pw = wrong_pw.text().await.unwrap();
    let no_user = attempt("mallory", "not the password").await.unwrap();
    assert_eq!(no_user.status(), 401);
    let no_user = no_user.text().await.unwrap();
    let msg = |p: &str| {
        p.split("class=\"message\"")
            .nth(1)
            .unwrap()
            .split("</p>")
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        msg(&wrong_pw),
        msg(&no_user),
        "the same answer whether or not the user exists"
    );

    for _ in 0..4 {
        attempt("alice", "still wrong").await.unwrap();
    }
    let resp = attempt("alice", "still wrong").await.unwrap();
    assert_eq!(resp.status(), 429, "throttled after repeated failures");
    // Even the right password waits until the delay has passed.
    let resp = attempt("alice", PASSWORD).await.unwrap();
    assert_eq!(resp.status(), 429);
    app.clock.advance(Duration::from_secs(400));
    let resp = attempt("alice", PASSWORD).await.unwrap();
    assert_eq!(resp.status(), 303, "the delay ends; the owner gets in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_user_or_ended_session_gets_no_tokens() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser(), &web, &challenge, "alice").await;
    app.core
        .admin(Actor::CommandLine)
        .users()
        .set_password("alice", "a brand new password".into())
        .await
        .unwrap();
    let resp = redeem(&app, &web, &code, &verifier).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
}

/// Session swap: a pending authorization request belongs to the browser
/// that started it. Another browser presenting its id gets an error page
/// and can neither sign in for it nor see its sign-in page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_request_belongs_to_the_browser_that_started_it() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    app.add_user("bob").await;
    let web = app.web_client().await;
    let (_, challenge) = pkce();
    let attacker = browser();
    let resp = attacker
        .get(authorize_url(&app, web.id(), &challenge, &[]))
        .send()
        .await
        .unwrap();
    let login = location(&resp);
    assert!(login.starts_with("/login?req="), "{login}");
    let req = param(&format!("http://x{login}"), "req").unwrap();

    // The victim is sent to the attacker's sign-in page.
    let victim = browser();
    let resp = victim.get(app.url(&login)).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let page = resp.text().await.unwrap();
    assert!(page.contains("another browser"), "{page}");

    // With a CSRF token of its own (from its own sign-in page), the victim
    // posts the attacker's request id: refused, and no session is created.
    let (_, own_challenge) = pkce();
    let own = login_page(
        &app,
        &victim,
        &authorize_url(&app, web.id(), &own_challenge, &[]),
    )
    .await;
    let resp = post_login(
        &app,
        &victim,
        Some(req.as_str()),
        own.csrf().as_str(),
        "bob",
        PASSWORD,
    )
    .await;
    assert_eq!(resp.status(), 403);
    assert!(
        resp.headers().get("set-cookie").is_none(),
        "no session was created"
    );
    assert!(resp.headers().get("location").is_none(), "no code issued");

    // The browser that started it still can.
    let page = FormPage::read(&app, &attacker, &login).await;
    let resp = post_login(
        &app,
        &attacker,
        Some(req.as_str()),
        page.csrf().as_str(),
        "alice",
        PASSWORD,
    )
    .await;
    assert_eq!(resp.status(), 303);
}

/// Cookie tossing: a CSRF cookie value the server did not issue (planted
/// by a sibling subdomain, or chosen by an attacker who then asked for a
/// form token for it) is refused and replaced; the form token computed
/// for it does not verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csrf_cookie_the_server_did_not_issue_is_refused() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let chosen = "attacker-chosen-value-0123456789abcdefghijklmnopqrstuvwxyz";
    let cookie = format!("latchkey_csrf={chosen}");
    let resp = api()
        .get(app.url("/login"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.starts_with("latchkey_csrf=") && !set.contains(chosen),
        "a new, server-issued cookie replaces the chosen one: {set}"
    );
    let page = resp.text().await.unwrap();
    let resp = api()
        .post(app.url("/login"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "login CSRF through a tossed cookie");
    assert!(resp.headers().get("set-cookie").is_none());
}

/// With an https issuer, cookies are `__Host-` prefixed (Secure, Path=/,
/// no Domain) and every response carries HSTS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_issuers_use_host_cookies_and_hsts() {
    let app =
        TestApp::spawn_with(|c| c.server.issuer = "https://login.example.test".parse().unwrap())
            .await;
    app.add_user("alice").await;
    let resp = api().get(app.url("/login")).send().await.unwrap();
    assert_eq!(
        resp.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.starts_with("__Host-latchkey_csrf=")
            && set.contains("Secure")
            && set.contains("Path=/")
            && !set.contains("Domain"),
        "{set}"
    );
    let value = set
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("__Host-latchkey_csrf=")
        .to_owned();
    let page = resp.text().await.unwrap();
    // The unprefixed name is not read.
    for (name, status) in [("latchkey_csrf", 403), ("__Host-latchkey_csrf", 303)] {
        let resp = api()
            .post(app.url("/login"))
            .header("cookie", format!("{name}={value}"))
            .form(&[
                ("csrf", hidden(&page, "csrf").as_str()),
                ("username", "alice"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{name}");
        if status == 303 {
            let session = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
            assert!(
                session.starts_with("__Host-latchkey_session=")
                    && session.contains("Secure")
                    && session.contains("Path=/")
                    && !session.contains("Domain"),
                "{session}"
            );
        }
    }
}

/// CORS: a browser app's origin is answered only where it needs to be
/// (token, revocation, userinfo, JWKS, discovery), only if a client
/// registered it, and at `/token` and `/revoke` only for that client's own
/// requests. No other origin and no other endpoint ever gets CORS headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_only_registered_origins_where_browsers_need_it() {
    const SPA: &str = "https://spa.example.com";
    const EVIL: &str = "https://evil.example.com";
    let app = TestApp::spawn().await;
    let spa = app
        .core
        .admin(Actor::CommandLine)
        .clients()
        .register(
            &latchkey_protocol::registration::ClientMetadata::from_json(
                serde_json::json!({
                    "client_name": "SPA",
                    "redirect_uris": ["https://spa.example.com/cb"],
                    "token_endpoint_auth_method": "none",
                    "allowed_cors_origins": [SPA],
                })
                .to_string()
                .as_bytes(),
            )
            .unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
    let web = app.web_client().await;
    let acao = |resp: &reqwest::Response| {
        resp.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };

    // Preflights.
    for (path, method) in [
        ("/token", "POST"),
        ("/revoke", "POST"),
        ("/userinfo", "GET"),
        ("/jwks", "GET"),
        ("/.well-known/openid-configuration", "GET"),
    ] {
        let pre = |origin: &'static str| {
            api()
                .request(reqwest::Method::OPTIONS, app.url(path))
                .header("origin", origin)
                .header("access-control-request-method", method)
                .header(
                    "access-control-request-headers",
                    "authorization, content-type",
                )
                .send()
        };
        let resp = pre(SPA).await.unwrap();
        assert_eq!(resp.status(), 204, "{path}");
        assert_eq!(acao(&resp).as_deref(), Some(SPA), "{path}");
        let methods = resp.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap();
        assert!(methods.contains(method), "{path}: {methods}");
        assert!(resp
            .headers()
            .get("access-control-allow-credentials")
            .is_none());
        let resp = pre(EVIL).await.unwrap();
        assert_eq!(acao(&resp), None, "{path}: unregistered origin");
    }

    // The SPA's own token request (its error included) is readable by it;
    // another client's request from the SPA's origin is not.
    let own = api()
        .post(app.url("/token"))
        .header("origin", SPA)
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", spa.client_id.as_str()),
            ("code", "nope"),
            ("redirect_uri", "https://spa.example.com/cb"),
            ("code_verifier", "a".repeat(43).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(acao(&own).as_deref(), Some(SPA));
    assert_eq!(own.headers()["vary"], "Origin");
    let other = api()
        .post(app.url("/token"))
        .header("origin", SPA)
        .basic_auth(web.id(), web.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(acao(&other), None, "another client's token answer");
    let evil = api()
        .post(app.url("/token"))
        .header("origin", EVIL)
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", spa.client_id.as_str()),
            ("code", "nope"),
            ("redirect_uri", "https://spa.example.com/cb"),
            ("code_verifier", "a".repeat(43).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(acao(&evil), None);

    for path in ["/jwks", "/.well-known/openid-configuration", "/userinfo"] {
        let resp = api()
            .get(app.url(path))
            .header("origin", SPA)
            .send()
            .await
            .unwrap();
        assert_eq!(acao(&resp).as_deref(), Some(SPA), "{path}");
        let resp = api()
            .get(app.url(path))
            .header("origin", EVIL)
            .send()
            .await
            .unwrap();
        assert_eq!(acao(&resp), None, "{path}");
    }
    // Endpoints a browser app never calls from script get nothing.
    for (method, path) in [
        (reqwest::Method::GET, "/authorize"),
        (reqwest::Method::POST, "/introspect"),
        (reqwest::Method::POST, "/register"),
        (reqwest::Method::GET, "/login"),
        (reqwest::Method::GET, "/admin/clients"),
        (reqwest::Method::OPTIONS, "/introspect"),
    ] {
        let resp = api()
            .request(method, app.url(path))
            .header("origin", SPA)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(acao(&resp), None, "{path}");
    }
}

/// One consent form, one answer: the same approval submitted many times at
/// the same instant yields exactly one code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consent_form_approved_many_times_at_once_gives_one_code() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let (_, challenge) = pkce();
    let b = browser();
    let page = login_page(&app, &b, &authorize_url(&app, web.id(), &challenge, &[])).await;
    let resp = page.sign_in(&app, &b, "alice", PASSWORD).await;
    assert_eq!(resp.status(), 303);
    let cpage = FormPage::read(&app, &b, &location(&resp)).await;
    let (req, csrf) = (cpage.req(), cpage.csrf());
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(12));
    let answers = futures_util::future::join_all((0..12).map(|_| {
        let (b, barrier) = (b.clone(), barrier.clone());
        let (url, req, csrf) = (app.url("/consent"), req.clone(), csrf.clone());
        async move {
            barrier.wait().await;
            let resp = b
                .post(url)
                .form(&[
                    ("req", req.as_str()),
                    ("csrf", csrf.as_str()),
                    ("decision", "approve"),
                ])
                .send()
                .await
                .unwrap();
            resp.headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .is_some_and(|l| l.contains("code="))
        }
    }))
    .await;
    assert_eq!(answers.iter().filter(|c| **c).count(), 1, "{answers:?}");
}

/// RFC 8252 §8.6: a public client whose redirect URI any program on the
/// device could answer on (loopback, private-use scheme) cannot prove who
/// it is, so a remembered consent does not let its requests through
/// silently; an https redirect URI, or a confidential client, can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_client_on_loopback_is_asked_every_time() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    const HTTPS: &str = "https://spa.example/cb";
    let native = app
        .add_client(latchkey_core::admin::NewClient {
            name: "Native".into(),
            public: true,
            redirect_uris: vec![REDIRECT.into()],
            ..latchkey_core::admin::NewClient::default()
        })
        .await;
    let spa = app
        .add_client(latchkey_core::admin::NewClient {
            name: "SPA".into(),
            public: true,
            redirect_uris: vec![HTTPS.into()],
            ..latchkey_core::admin::NewClient::default()
        })
        .await;
    let web = app.web_client().await;
    let b = browser();
    let (_, challenge) = pkce();
    let url = |client: &TestClient, redirect: &str, extra: &[(&str, &str)]| {
        let mut all = vec![("redirect_uri", redirect)];
        all.extend_from_slice(extra);
        authorize_url(&app, client.id(), &challenge, &all)
    };
    // Signed in and consented once, for each client.
    let back = sign_in(&app, &b, &url(&native, REDIRECT, &[]), "alice").await;
    assert!(param(&back, "code").is_some(), "{back}");
    for (client, redirect) in [(&spa, HTTPS), (&web, REDIRECT)] {
        let to = location(&b.get(url(client, redirect, &[])).send().await.unwrap());
        let back = if to.starts_with("/consent") {
            approve(&app, &b, &to).await
        } else {
            to
        };
        assert!(param(&back, "code").is_some(), "{back}");
    }

    // The native client is asked again, and prompt=none cannot skip it.
    let to = location(&b.get(url(&native, REDIRECT, &[])).send().await.unwrap());
    assert!(to.starts_with("/consent"), "{to}");
    let back = location(
        &b.get(url(&native, REDIRECT, &[("prompt", "none")]))
            .send()
            .await
            .unwrap(),
    );
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("consent_required"));
    assert!(param(&back, "code").is_none(), "{back}");

    // The https SPA and the confidential client go straight through.
    for (client, redirect) in [(&spa, HTTPS), (&web, REDIRECT)] {
        let back = location(
            &b.get(url(client, redirect, &[("prompt", "none")]))
                .send()
                .await
                .unwrap(),
        );
        assert!(back.starts_with(redirect), "{back}");
        assert!(param(&back, "code").is_some(), "{back}");
    }
}
