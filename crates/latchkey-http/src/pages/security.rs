//! `/account/security`: a signed-in user's second factors (authenticator
//! app, recovery codes). Every change needs a fresh sign-in (a stale
//! session is sent to `/login?reauth=1` first), ends the user's other
//! sessions and is audited.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use latchkey_core::account::factors::TotpEnrolment;
use latchkey_core::admin::AdminError;
use latchkey_core::authorize::SignedIn;
use latchkey_core::Latchkey;
use latchkey_protocol::{ErrorCode, OAuthError, Params};

use super::factor::RecoveryCodesPage;
use crate::browser::{browser_id, csrf_binding, csrf_ok, csrf_refused, signed_in};
use crate::error::{ApiError, ApiResult};
use crate::request::read_form;
use crate::response::{page, render, see_other};

/// The CSRF purpose of the account forms.
const PURPOSE: &str = "account";
/// Where a stale session confirms who it is.
const REAUTH: &str = "/login?reauth=1";

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage<'a> {
    csrf: &'a str,
    username: &'a str,
    notice: Option<&'a str>,
    message: Option<&'a str>,
    fresh: bool,
    totp: bool,
    recovery_codes: u64,
    passkeys_available: bool,
    passkeys: &'a [PasskeyRow],
}

/// A passkey as the security page lists it.
struct PasskeyRow {
    id: String,
    name: String,
    added: String,
    last_used: String,
}

fn date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "passkey_setup.html")]
struct PasskeySetupPage<'a> {
    csrf: &'a str,
    challenge: &'a str,
    options: &'a str,
}

#[derive(Template)]
#[template(path = "totp_setup.html")]
struct TotpSetupPage<'a> {
    csrf: &'a str,
    qr_svg: &'a str,
    secret: &'a str,
    sealed: &'a str,
    message: Option<&'a str>,
}

/// A page of this section: its response and the browser's CSRF token.
fn section_page(
    req: &HttpRequest,
    app: &Latchkey,
    status: StatusCode,
) -> (actix_web::HttpResponseBuilder, String) {
    let (browser, set) = csrf_binding(req, app);
    let mut b = page(status);
    if let Some(c) = set {
        b.cookie(c);
    }
    (b, app.csrf().token(&browser, PURPOSE))
}

fn notice(req: &HttpRequest) -> Option<&'static str> {
    let query = Params::parse(req.query_string().as_bytes()).ok()?;
    match query.get("done") {
        Some("totp-removed") => {
            Some("The authenticator app was removed. Your other sessions were signed out.")
        }
        Some("passkey-added") => {
            Some("The passkey was added. Your other sessions were signed out.")
        }
        Some("passkey-renamed") => Some("The passkey was renamed."),
        Some("passkey-removed") => {
            Some("The passkey was removed. Your other sessions were signed out.")
        }
        _ => None,
    }
}

async fn security_page(
    req: &HttpRequest,
    app: &Latchkey,
    me: &SignedIn,
    status: StatusCode,
    message: Option<&str>,
) -> ApiResult {
    let view = app
        .security()
        .view(me)
        .await
        .map_err(|e| ApiError::Page(e.to_oauth()))?;
    let (b, csrf) = section_page(req, app, status);
    Ok(render(
        b,
        &SecurityPage {
            csrf: &csrf,
            username: &view.username,
            notice: notice(req),
            message,
            fresh: view.fresh,
            totp: view.enrolled.totp,
            recovery_codes: view.enrolled.recovery_codes,
            passkeys_available: view.passkeys_available,
            passkeys: &view
                .enrolled
                .passkeys
                .iter()
                .map(|p| PasskeyRow {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    added: date(p.created_at),
                    last_used: p.last_used_at.map(date).unwrap_or_else(|| "never".into()),
                })
                .collect::<Vec<_>>(),
        },
    ))
}

pub async fn show(req: HttpRequest, app: web::Data<Latchkey>) -> ApiResult {
    let Some(me) = signed_in(&req, &app).await? else {
        return Ok(see_other("/login"));
    };
    security_page(&req, &app, &me, StatusCode::OK, None).await
}

/// A form of this section: its CSRF token, who is signed in, and a recent
/// enough sign-in. `Err(response)`: where to send the browser instead.
async fn form_user(
    req: &HttpRequest,
    app: &Latchkey,
    form: &Params,
) -> Result<Result<SignedIn, HttpResponse>, ApiError> {
    if !csrf_ok(req, app, PURPOSE, form.get("csrf")) {
        return Err(csrf_refused());
    }
    Ok(match signed_in(req, app).await? {
        None => Err(see_other("/login")),
        Some(me) if !app.security().is_fresh(&me) => Err(see_other(REAUTH)),
        Some(me) => Ok(me),
    })
}

/// A change's form read and checked ([`form_user`]): the form and who
/// sent it, or where to send the browser instead.
async fn change_form(
    req: &HttpRequest,
    app: &Latchkey,
    payload: web::Payload,
) -> Result<Result<(Params, SignedIn), HttpResponse>, ApiError> {
    let form = read_form(req, payload).await.map_err(ApiError::Page)?;
    Ok(form_user(req, app, &form).await?.map(|me| (form, me)))
}

fn setup_page(
    req: &HttpRequest,
    app: &Latchkey,
    status: StatusCode,
    e: &TotpEnrolment,
    message: Option<&str>,
) -> HttpResponse {
    let (b, csrf) = section_page(req, app, status);
    render(
        b,
        &TotpSetupPage {
            csrf: &csrf,
            qr_svg: &e.qr_svg,
            secret: &e.secret_base32,
            sealed: &e.sealed,
            message,
        },
    )
}

fn codes_page(req: &HttpRequest, app: &Latchkey, codes: &[String]) -> HttpResponse {
    let (b, csrf) = section_page(req, app, StatusCode::OK);
    render(
        b,
        &RecoveryCodesPage {
            csrf: &csrf,
            codes,
            challenge: None,
        },
    )
}

/// An error of a change the page can say, or a server error.
async fn refused(req: &HttpRequest, app: &Latchkey, me: &SignedIn, e: AdminError) -> ApiResult {
    match e {
        AdminError::Invalid(m) => {
            security_page(req, app, me, StatusCode::BAD_REQUEST, Some(&m)).await
        }
        AdminError::NotFound(what) => {
            let m = format!("There is no {what} to remove.");
            security_page(req, app, me, StatusCode::NOT_FOUND, Some(&m)).await
        }
        e => {
            tracing::error!(error = %e, "security change failed");
            Err(ApiError::Page(OAuthError::bare(ErrorCode::ServerError)))
        }
    }
}

/// `POST /account/security/totp`: a new secret to scan.
pub async fn start_totp(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let (_, me) = match change_form(&req, &app, payload).await? {
        Ok(x) => x,
        Err(resp) => return Ok(resp),
    };
    match app.security().start_totp(&me) {
        Ok(e) => Ok(setup_page(&req, &app, StatusCode::OK, &e, None)),
        Err(e) => refused(&req, &app, &me, e).await,
    }
}

/// `POST /account/security/totp/confirm`: the app's first code.
pub async fn confirm_totp(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let (form, me) = match change_form(&req, &app, payload).await? {
        Ok(x) => x,
        Err(resp) => return Ok(resp),
    };
    let sealed = form.get("enrolment").unwrap_or("");
    let code = form.get("code").unwrap_or("");
    let security = app.security();
    match security.confirm_totp(&me, sealed, code).await {
        Ok(codes) => Ok(codes_page(&req, &app, &codes)),
        Err(AdminError::Invalid(m)) => match security.resume_totp(&me, sealed) {
            Ok(e) => Ok(setup_page(
                &req,
                &app,
                StatusCode::BAD_REQUEST,
                &e,
                Some(&m),
            )),
            Err(e) => refused(&req, &app, &me, e).await,
        },
        Err(e) => refused(&req, &app, &me, e).await,
    }
}

/// `POST /account/security/totp/remove`.
pub async fn remove_totp(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let (_, me) = match change_form(&req, &app, payload).await? {
        Ok(x) => x,
        Err(resp) => return Ok(resp),
    };
    match app.security().remove_totp(&me).await {
        Ok(()) => Ok(see_other("/account/security?done=totp-removed")),
        Err(e) => refused(&req, &app, &me, e).await,
    }
}

/// `POST /account/security/recovery-codes`: new codes, shown once.
pub async fn recovery_codes(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let (_, me) = match change_form(&req, &app, payload).await? {
        Ok(x) => x,
        Err(resp) => return Ok(resp),
    };
    match app.security().new_recovery_codes(&me).await {
        Ok(codes) => Ok(codes_page(&req, &app, &codes)),
        Err(e) => refused(&req, &app, &me, e).await,
    }
}

/// `POST /account/security/passkeys/start`: the page whose button asks
/// the browser for a new passkey.
pub async fn start_passkey(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let (_, me) = match change_form(&req, &app, payload).await? {
        Ok(x) => x,
        Err(resp) => return Ok(resp),
    };
    let browser = browser_id(&req, &app).unwrap_or_default();
    match app.security().start_passkey(&me, &browser).await {
        Ok(r) => {
            let (mut b, csrf) = section_page(&req, &app, StatusCode::OK);
            crate::response::runs_passkeys(&mut b, None);
            Ok(render(
                b,
                &PasskeySetupPage {
                    csrf: &csrf,
                    challenge: &r.challenge,
                    options: &r.options,
                },
            ))
        }
        Err(e) => refused(&req, &app, &me, e).await,
    }
}

/// `POST /account/security/passkeys`: the browser's new passkey.
pub async fn finish_passkey(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let (form, me) = match change_form(&req, &app, payload).await? {
        Ok(x) => x,
        Err(resp) => return Ok(resp),
    };
    let browser = browser_id(&req, &app).unwrap_or_default();
    match app
        .security()
        .finish_passkey(
            &me,
            &browser,
            form.get("c").unwrap_or(""),
            form.get("credential").unwrap_or(""),
            form.get("name").unwrap_or(""),
        )
        .await
    {
        Ok(()) => Ok(see_other("/account/security?done=passkey-added")),
        Err(e) => refused(&req, &app, &me, e).await,
    }
}

/// `POST /account/security/passkeys/rename`.
pub async fn rename_passkey(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let (form, me) = match change_form(&req, &app, payload).await? {
        Ok(x) => x,
        Err(resp) => return Ok(resp),
    };
    let id = form.get("id").unwrap_or("");
    let name = form.get("name").unwrap_or("");
    match app.security().rename_passkey(&me, id, name).await {
        Ok(()) => Ok(see_other("/account/security?done=passkey-renamed")),
        Err(e) => refused(&req, &app, &me, e).await,
    }
}

/// `POST /account/security/passkeys/remove`.
pub async fn remove_passkey(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let (form, me) = match change_form(&req, &app, payload).await? {
        Ok(x) => x,
        Err(resp) => return Ok(resp),
    };
    match app
        .security()
        .remove_passkey(&me, form.get("id").unwrap_or(""))
        .await
    {
        Ok(()) => Ok(see_other("/account/security?done=passkey-removed")),
        Err(e) => refused(&req, &app, &me, e).await,
    }
}
