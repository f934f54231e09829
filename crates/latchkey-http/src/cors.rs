//! CORS for browser clients (single-page apps): only the endpoints a
//! browser app needs answer it, and only for origins that clients
//! registered (`allowed_cors_origins`). `/token` and `/revoke` answer only
//! the origins of the client named in the request; `/userinfo`, `/jwks` and
//! discovery those of any client. Everything else never carries a CORS
//! header. Tokens travel in headers, never cookies, so credentials are
//! never allowed.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use latchkey_core::Latchkey;
use latchkey_protocol::ClientId;

/// The client a token or revocation request names, for its CORS answer.
#[derive(Clone)]
pub struct CorsClient(pub ClientId);

/// Records the client a request names (before it is authenticated: its
/// error answers must be readable by its own app too).
pub fn name_client(req: &HttpRequest, id: Option<&ClientId>) {
    if let Some(id) = id {
        req.extensions_mut().insert(CorsClient(id.clone()));
    }
}

fn origin(headers: &header::HeaderMap) -> Option<String> {
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| o.len() <= 256)
        .map(str::to_owned)
}

async fn allowed(
    app: &Latchkey,
    origin: &str,
    client: Option<&ClientId>,
    per_client: bool,
) -> bool {
    let answer = match (per_client, client) {
        (true, Some(c)) => app.cors().origin_of_client(c, origin).await,
        (true, None) => Ok(false),
        (false, _) => app.cors().origin_known(origin).await,
    };
    answer.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "CORS origin lookup failed; no CORS headers");
        false
    })
}

async fn decorate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
    per_client: bool,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // A preflight is answered by `preflight` alone.
    let origin = origin(req.headers()).filter(|_| req.method() != actix_web::http::Method::OPTIONS);
    let app = req.app_data::<web::Data<Latchkey>>().cloned();
    let mut res = next.call(req).await?;
    if let (Some(origin), Some(app)) = (origin, app) {
        let client = res.request().extensions().get::<CorsClient>().cloned();
        if allowed(&app, &origin, client.as_ref().map(|c| &c.0), per_client).await {
            let h = res.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&origin) {
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                h.insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static("WWW-Authenticate, DPoP-Nonce"),
                );
            }
        }
        res.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
    }
    Ok(res)
}

/// Middleware for `/token`, `/par` and `/revoke`: the requesting client's
/// origins.
pub async fn per_client(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    decorate(req, next, true).await
}

/// Middleware for `/userinfo`, `/jwks` and discovery: any client's origins.
pub async fn any_client(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    decorate(req, next, false).await
}

/// `OPTIONS` (a preflight) on a CORS endpoint allowing `methods`. The
/// preflight names no client, so any registered origin is answered; the
/// real request is then answered per client where that applies.
pub async fn preflight(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    methods: &'static str,
) -> HttpResponse {
    let mut resp = HttpResponse::build(StatusCode::NO_CONTENT);
    resp.insert_header((header::VARY, "Origin"));
    let Some(origin) = origin(req.headers()) else {
        return resp.finish();
    };
    let method_ok = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|m| methods.split(", ").any(|allowed| allowed == m));
    if method_ok && allowed(&app, &origin, None, false).await {
        resp.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, methods))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Authorization, Content-Type, DPoP",
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
    }
    resp.finish()
}
