//! `GET|POST /login/factor`: the second step of a sign-in (a code from an
//! authenticator app or a recovery code, or setting up an app when the
//! user has no second factor and needs one), and the step-up of a
//! signed-in session.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use latchkey_core::login::{FactorView, LoginOutcome};
use latchkey_core::Latchkey;
use latchkey_protocol::{ErrorCode, OAuthError};

use super::login::signed_in_response;
use super::too_many_attempts;
use crate::browser::{browser_id, csrf_binding, csrf_ok, csrf_refused, respond, signed_in};
use crate::error::{ApiError, ApiResult};
use crate::request::{client_ip, header_str, query, read_form};
use crate::response::{page_posting_to, render, see_other};

/// The CSRF purpose of the sign-in forms.
const PURPOSE: &str = "login";

#[derive(Template)]
#[template(path = "factor.html")]
struct FactorPage<'a> {
    csrf: &'a str,
    challenge: &'a str,
    username: &'a str,
    client_name: Option<&'a str>,
    message: Option<&'a str>,
    totp: bool,
    recovery_codes: bool,
    passkey_only: bool,
    passkey_options: Option<&'a str>,
    enrol: Option<&'a latchkey_core::account::factors::TotpEnrolment>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub(crate) struct RecoveryCodesPage<'a> {
    pub csrf: &'a str,
    pub codes: &'a [String],
    /// The sign-in to continue afterwards, if any.
    pub challenge: Option<&'a str>,
}

/// The challenge a request names (`c`), checked for shape.
fn challenge_id(value: Option<&str>) -> Result<&str, ApiError> {
    match super::pending_id(value) {
        Ok(Some(id)) => Ok(id),
        _ => Err(ApiError::Page(OAuthError::invalid_request(
            "no sign-in in progress; start again",
        ))),
    }
}

fn factor_page(
    req: &HttpRequest,
    app: &Latchkey,
    status: StatusCode,
    view: &FactorView,
    message: Option<&str>,
) -> HttpResponse {
    let (browser, set) = csrf_binding(req, app);
    let mut b = page_posting_to(status, view.form_target.as_deref());
    if let Some(c) = set {
        b.cookie(c);
    }
    if view.passkey_options.is_some() {
        crate::response::runs_passkeys(&mut b, view.form_target.as_deref());
    }
    render(
        b,
        &FactorPage {
            csrf: &app.csrf().token(&browser, PURPOSE),
            challenge: &view.challenge,
            username: &view.username,
            client_name: view.client_name.as_deref(),
            message,
            totp: view.totp,
            recovery_codes: view.recovery_codes,
            passkey_only: view.passkey_only,
            passkey_options: view.passkey_options.as_deref(),
            enrol: view.enrol.as_ref(),
        },
    )
}

async fn view(req: &HttpRequest, app: &Latchkey, id: &str) -> Result<FactorView, HttpResponse> {
    let browser = browser_id(req, app).unwrap_or_default();
    app.login().factor_view(id, &browser).await.map_err(respond)
}

pub async fn show(req: HttpRequest, app: web::Data<Latchkey>) -> ApiResult {
    let params = query(&req).map_err(ApiError::Page)?;
    let id = challenge_id(params.get("c"))?;
    Ok(match view(&req, &app, id).await {
        Ok(v) => factor_page(&req, &app, StatusCode::OK, &v, None),
        Err(resp) => resp,
    })
}

pub async fn submit(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let params = read_form(&req, payload).await.map_err(ApiError::Page)?;
    if !csrf_ok(&req, &app, PURPOSE, params.get("csrf")) {
        return Err(csrf_refused());
    }
    let id = challenge_id(params.get("c"))?;
    let previous = signed_in(&req, &app).await?;
    let browser = browser_id(&req, &app).unwrap_or_default();
    let ip = client_ip(&req);
    let user_agent = header_str(&req, header::USER_AGENT).ok().flatten();
    let login = app.login();
    let outcome = if params.get("continue") == Some("1") {
        login
            .resume_challenge(id, previous.as_ref(), &browser, &ip, user_agent)
            .await
    } else if let Some(credential) = params.get("credential").filter(|c| !c.is_empty()) {
        login
            .submit_passkey(id, credential, previous.as_ref(), &browser, &ip, user_agent)
            .await
    } else {
        let code = params.get("code").unwrap_or("");
        login
            .submit_code(id, code, previous.as_ref(), &browser, &ip, user_agent)
            .await
    }
    .map_err(|e| {
        tracing::error!(error = %e, "second factor failed");
        ApiError::Page(e.to_oauth())
    })?;
    let (status, message) = match outcome {
        LoginOutcome::SignedIn { cookie, next } => {
            return Ok(signed_in_response(&req, &app, cookie, next))
        }
        LoginOutcome::Refused(outcome) => return Ok(respond(outcome)),
        LoginOutcome::SecondFactor { challenge } => {
            return Ok(see_other(&format!("/login/factor?c={challenge}")))
        }
        LoginOutcome::Enrolled {
            challenge,
            recovery_codes,
        } => {
            let v = match view(&req, &app, &challenge).await {
                Ok(v) => v,
                Err(resp) => return Ok(resp),
            };
            let (browser, set) = csrf_binding(&req, &app);
            let mut b = page_posting_to(StatusCode::OK, v.form_target.as_deref());
            if let Some(c) = set {
                b.cookie(c);
            }
            return Ok(render(
                b,
                &RecoveryCodesPage {
                    csrf: &app.csrf().token(&browser, PURPOSE),
                    codes: &recovery_codes,
                    challenge: Some(&challenge),
                },
            ));
        }
        LoginOutcome::Failed if params.get("credential").is_some_and(|c| !c.is_empty()) => (
            StatusCode::UNAUTHORIZED,
            "The passkey could not be verified. Try again.".to_owned(),
        ),
        LoginOutcome::Failed => (
            StatusCode::UNAUTHORIZED,
            "That code is not right. Check it and try again.".to_owned(),
        ),
        LoginOutcome::Throttled { wait_secs } => {
            (StatusCode::TOO_MANY_REQUESTS, too_many_attempts(wait_secs))
        }
    };
    Ok(match view(&req, &app, id).await {
        Ok(v) => factor_page(&req, &app, status, &v, Some(&message)),
        // Too many wrong codes end the challenge: the password again.
        Err(_) if status == StatusCode::UNAUTHORIZED => {
            return Err(ApiError::Page(OAuthError::new(
                ErrorCode::AccessDenied,
                "too many wrong codes; start signing in again",
            )))
        }
        Err(resp) => resp,
    })
}
