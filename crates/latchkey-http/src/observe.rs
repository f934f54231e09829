//! Every request observed: a request id, a span, and its metrics.
//!
//! The id is the `X-Request-Id` a trusted proxy (`trusted_proxies`) sent,
//! kept, or a new one; it is answered in the response's `X-Request-Id`.
//! The span (`request`) wraps the whole request, so every log line of the
//! request names it; it also carries the route (`endpoint`), the client id
//! the request named, the grant type at `/token`, and the outcome, and is
//! what OpenTelemetry exports (named `METHOD /route`). Its time and status
//! are counted in `latchkey_http_requests_total` and
//! `latchkey_http_request_duration_seconds`.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web;
use latchkey_core::Latchkey;
use tracing::field::Empty;
use tracing::Instrument;

use crate::request::TrustedProxies;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// An id worth keeping: short, and nothing a log line would mangle.
fn well_formed(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The span's `outcome`: a success, a refusal the caller caused, or
/// Latchkey's own failure.
fn outcome(status: StatusCode) -> &'static str {
    if status.is_server_error() {
        "error"
    } else if status.is_client_error() {
        "refused"
    } else {
        "ok"
    }
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let from_proxy = match (req.app_data::<web::Data<TrustedProxies>>(), req.peer_addr()) {
        (Some(proxies), Some(peer)) => proxies.trusts(peer.ip().to_canonical()),
        _ => false,
    };
    let kept = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| from_proxy && well_formed(id))
        .map(str::to_owned);
    let app = req.app_data::<web::Data<Latchkey>>().cloned();
    let id = match (kept, &app) {
        (Some(id), _) => id,
        (None, Some(app)) => app.random().id(),
        (None, None) => String::from("-"),
    };
    let method = req.method().clone();
    // The route's pattern, known before routing (the span is named after it).
    let endpoint = req
        .resource_map()
        .match_pattern(req.path())
        .unwrap_or_else(|| String::from("unmatched"));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        path = %req.path(),
        endpoint = %endpoint,
        client_id = Empty,
        grant_type = Empty,
        status = Empty,
        outcome = Empty,
        otel.name = %format_args!("{method} {endpoint}"),
        otel.kind = "server",
    );
    if let Some(context) = req.app_data::<web::Data<TraceContext>>() {
        (context.0)(&span, req.headers());
    }
    let answered = next.call(req).instrument(span.clone()).await;
    let status = match &answered {
        Ok(res) => res.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    span.record("status", status.as_u16());
    span.record("outcome", outcome(status));
    if let Some(app) = &app {
        app.metrics().http_request(
            &endpoint,
            method.as_str(),
            status.as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    let mut res = answered?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID, v);
    }
    Ok(res)
}

/// Makes a request's span the child of the trace its caller named
/// (`traceparent`), when spans are exported; set by the binary, which
/// knows the exporter.
pub struct TraceContext(pub Box<AdoptParent>);

/// Sets a span's parent from a request's headers.
pub type AdoptParent = dyn Fn(&tracing::Span, &HeaderMap) + Send + Sync;

/// Names the client a request speaks for in the request's span (the id it
/// claimed; whether it proved it is the endpoint's business).
/// Anything but a plain id is left out: the field is for searching logs,
/// and a caller chooses what it claims.
pub fn name_client(client_id: &str) {
    if well_formed(client_id) {
        tracing::Span::current().record("client_id", client_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_are_kept() {
        assert!(well_formed("5f0c-42:a.b_c"));
        for bad in ["", "a b", "x\"y", "é", &"a".repeat(129)] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }

    #[test]
    fn outcomes_follow_the_status_class() {
        assert_eq!(outcome(StatusCode::OK), "ok");
        assert_eq!(outcome(StatusCode::FOUND), "ok");
        assert_eq!(outcome(StatusCode::UNAUTHORIZED), "refused");
        assert_eq!(outcome(StatusCode::SERVICE_UNAVAILABLE), "error");
    }
}
