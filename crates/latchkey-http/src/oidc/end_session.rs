//! `GET|POST /logout` (RP-Initiated Logout 1.0) and the confirmation form.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use latchkey_core::end_session::LogoutOutcome;
use latchkey_core::Latchkey;
use latchkey_protocol::Params;

use crate::browser::{csrf_binding, csrf_ok, csrf_refused, session_cookie_removal, signed_in};
use crate::error::{ApiError, ApiResult};
use crate::request::{query, read_form};
use crate::response::{page, page_posting_to, render, see_other};

#[derive(Template)]
#[template(path = "logout_confirm.html")]
struct ConfirmPage<'a> {
    csrf: &'a str,
    query: &'a str,
    client_name: Option<String>,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage;

const PURPOSE: &str = "logout";

pub async fn get(req: HttpRequest, app: web::Data<Latchkey>) -> ApiResult {
    let params = query(&req).map_err(ApiError::Page)?;
    run(&req, &app, params, false).await
}

pub async fn post(req: HttpRequest, app: web::Data<Latchkey>, payload: web::Payload) -> ApiResult {
    let params = read_form(&req, payload).await.map_err(ApiError::Page)?;
    run(&req, &app, params, false).await
}

/// `POST /logout/confirm`: the user pressed "Sign out".
pub async fn confirm(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let form = read_form(&req, payload).await.map_err(ApiError::Page)?;
    if !csrf_ok(&req, &app, PURPOSE, form.get("csrf")) {
        return Err(csrf_refused());
    }
    let params =
        Params::parse(form.get("query").unwrap_or("").as_bytes()).map_err(ApiError::Page)?;
    run(&req, &app, params, true).await
}

async fn run(req: &HttpRequest, app: &Latchkey, params: Params, confirmed: bool) -> ApiResult {
    let session = signed_in(req, app).await?;
    match app
        .end_session()
        .end(&params, session.as_ref(), confirmed)
        .await
    {
        LogoutOutcome::ErrorPage(e) => Err(ApiError::Page(e)),
        LogoutOutcome::Confirm {
            query,
            client_name,
            form_target,
        } => {
            let (browser, set) = csrf_binding(req, app);
            let mut b = page_posting_to(StatusCode::OK, form_target.as_deref());
            if let Some(c) = set {
                b.cookie(c);
            }
            Ok(render(
                b,
                &ConfirmPage {
                    csrf: &app.csrf().token(&browser, PURPOSE),
                    query: &query,
                    client_name,
                },
            ))
        }
        LogoutOutcome::Done { redirect } => {
            let mut resp = match redirect {
                Some(to) => see_other(&to),
                None => render(page(StatusCode::OK), &SignedOutPage),
            };
            let _ = resp.add_cookie(&session_cookie_removal(app));
            Ok(resp)
        }
    }
}
