//! What an operator sees: request ids on every answer and in the logs.

use crate::support::*;

fn request_id(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("x-request-id")
        .expect("an X-Request-Id")
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_answer_names_its_request_and_only_a_proxy_names_it_for_us() {
    let app = TestApp::spawn().await;
    let a = api().get(app.url("/healthz")).send().await.unwrap();
    let b = api().get(app.url("/no-such-page")).send().await.unwrap();
    let (a, b) = (request_id(&a), request_id(&b));
    assert_ne!(a, b, "a new id per request, errors included");
    assert!(a.len() >= 16, "{a}");
    // A client that is not a trusted proxy cannot choose the id (it could
    // make its requests look like someone else's in the logs).
    let resp = api()
        .get(app.url("/healthz"))
        .header("X-Request-Id", "chosen-by-the-client")
        .send()
        .await
        .unwrap();
    assert_ne!(request_id(&resp), "chosen-by-the-client");

    // Behind a trusted proxy its id is kept, unless malformed.
    let proxied = TestApp::spawn_with(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let resp = api()
        .get(proxied.url("/healthz"))
        .header("X-Request-Id", "lb-7f3a:42")
        .send()
        .await
        .unwrap();
    assert_eq!(request_id(&resp), "lb-7f3a:42");
    let resp = api()
        .get(proxied.url("/healthz"))
        .header("X-Request-Id", "has spaces and \"quotes\"")
        .send()
        .await
        .unwrap();
    assert_ne!(request_id(&resp), "has spaces and \"quotes\"");
}
