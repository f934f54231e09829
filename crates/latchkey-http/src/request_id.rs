//! A request id for every request: the `X-Request-Id` a trusted proxy
//! (`trusted_proxies`) sent, kept, or a new one. It is answered in the
//! response's `X-Request-Id` and carried by a span around the whole
//! request, so every log line of the request names it.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use latchkey_core::Latchkey;
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

pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
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
    let id = match kept {
        Some(id) => id,
        None => match req.app_data::<web::Data<Latchkey>>() {
            Some(app) => app.random().id(),
            None => String::from("-"),
        },
    };
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let mut res = next.call(req).instrument(span).await?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID, v);
    }
    Ok(res)
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
}
