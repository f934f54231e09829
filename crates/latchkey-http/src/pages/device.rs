//! `GET|POST /device` and `GET|POST /device/consent`: a user enters the
//! code a device shows (RFC 8628 §3.3), signs in on the usual pages, and
//! approves or denies the device's request. The forms carry the CSRF
//! token of this browser, like the sign-in and consent pages.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use latchkey_core::device::{CodeEntry, DeviceAnswer};
use latchkey_core::Latchkey;
use latchkey_protocol::OAuthError;

use super::{pending_id, too_many_attempts};
use crate::browser::{browser_id, csrf_binding, csrf_ok, csrf_refused, respond, signed_in};
use crate::error::{ApiError, ApiResult};
use crate::request::{client_ip, query, read_form};
use crate::response::{page, render};

const PURPOSE: &str = "device";

#[derive(Template)]
#[template(path = "device.html")]
struct CodePage<'a> {
    csrf: &'a str,
    user_code: &'a str,
    message: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "device_consent.html")]
struct ConsentPage<'a> {
    req: &'a str,
    csrf: &'a str,
    client_name: &'a str,
    username: &'a str,
    scopes: &'a [String],
}

#[derive(Template)]
#[template(path = "device_done.html")]
struct DonePage<'a> {
    client_name: &'a str,
    approved: bool,
}

fn code_page(
    req: &HttpRequest,
    app: &Latchkey,
    status: StatusCode,
    user_code: &str,
    message: Option<&str>,
) -> HttpResponse {
    let (browser, set) = csrf_binding(req, app);
    let mut b = page(status);
    if let Some(c) = set {
        b.cookie(c);
    }
    render(
        b,
        &CodePage {
            csrf: &app.csrf().token(&browser, PURPOSE),
            user_code,
            message,
        },
    )
}

/// `GET /device`, pre-filled from `?user_code=` (`verification_uri_complete`).
pub async fn show(req: HttpRequest, app: web::Data<Latchkey>) -> ApiResult {
    let params = query(&req).map_err(ApiError::Page)?;
    let user_code = params.get("user_code").filter(|c| c.len() <= 64);
    Ok(code_page(
        &req,
        &app,
        StatusCode::OK,
        user_code.unwrap_or(""),
        None,
    ))
}

/// `POST /device`: the code the user typed.
pub async fn submit(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let params = read_form(&req, payload).await.map_err(ApiError::Page)?;
    if !csrf_ok(&req, &app, PURPOSE, params.get("csrf")) {
        return Err(csrf_refused());
    }
    let typed = params.get("user_code").unwrap_or("");
    let session = signed_in(&req, &app).await?;
    // The CSRF check passed, so the browser has an id this server issued.
    let browser = browser_id(&req, &app).unwrap_or_default();
    let entry = app
        .device_verification()
        .enter(typed, session.as_ref(), &browser, &client_ip(&req))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "device code entry failed");
            ApiError::Page(e.to_oauth())
        })?;
    let shown = if typed.len() <= 64 { typed } else { "" };
    Ok(match entry {
        CodeEntry::Next(outcome) => respond(outcome),
        CodeEntry::Unknown => code_page(
            &req,
            &app,
            StatusCode::BAD_REQUEST,
            shown,
            Some("That code is not valid or has expired. Check the code your device shows and try again."),
        ),
        CodeEntry::Throttled { wait_secs } => code_page(
            &req,
            &app,
            StatusCode::TOO_MANY_REQUESTS,
            shown,
            Some(&too_many_attempts(wait_secs)),
        ),
    })
}

fn required_pending_id(value: Option<&str>) -> Result<&str, ApiError> {
    pending_id(value)
        .map_err(ApiError::Page)?
        .ok_or_else(|| ApiError::Page(OAuthError::invalid_request("no device request")))
}

/// `GET /device/consent`: the client and scopes the device asks for.
pub async fn consent(req: HttpRequest, app: web::Data<Latchkey>) -> ApiResult {
    let params = query(&req).map_err(ApiError::Page)?;
    let id = required_pending_id(params.get("req"))?;
    let session = signed_in(&req, &app).await?;
    let (browser, set) = csrf_binding(&req, &app);
    let view = match app
        .device_verification()
        .consent_view(id, session.as_ref(), &browser)
        .await
    {
        Ok(v) => v,
        Err(outcome) => return Ok(respond(outcome)),
    };
    let mut b = page(StatusCode::OK);
    if let Some(c) = set {
        b.cookie(c);
    }
    Ok(render(
        b,
        &ConsentPage {
            req: &view.pending_id,
            csrf: &app.csrf().token(&browser, PURPOSE),
            client_name: &view.client_name,
            username: &view.username,
            scopes: &view.scopes,
        },
    ))
}

/// `POST /device/consent`: `decision=approve|deny`, recorded once.
pub async fn decide(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let params = read_form(&req, payload).await.map_err(ApiError::Page)?;
    if !csrf_ok(&req, &app, PURPOSE, params.get("csrf")) {
        return Err(csrf_refused());
    }
    let id = required_pending_id(params.get("req"))?;
    let approve = match params.get("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return Err(ApiError::Page(OAuthError::invalid_request(
                "decision must be approve or deny",
            )))
        }
    };
    let session = signed_in(&req, &app).await?;
    let browser = browser_id(&req, &app).unwrap_or_default();
    let answer = app
        .device_verification()
        .decide(id, session.as_ref(), approve, &browser, &client_ip(&req))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "device answer failed");
            ApiError::Page(e.to_oauth())
        })?;
    let (client_name, approved) = match answer {
        DeviceAnswer::Approved { client_name } => (client_name, true),
        DeviceAnswer::Denied { client_name } => (client_name, false),
        DeviceAnswer::Next(outcome) => return Ok(respond(outcome)),
    };
    Ok(render(
        page(StatusCode::OK),
        &DonePage {
            client_name: &client_name,
            approved,
        },
    ))
}
