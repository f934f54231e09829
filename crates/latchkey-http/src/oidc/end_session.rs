//! `GET|POST /logout` (RP-Initiated Logout 1.0) and the confirmation form.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use latchkey_core::end_session::LogoutOutcome;
use latchkey_core::Latchkey;
use latchkey_protocol::Params;

use crate::pages::{
    csrf_binding, csrf_ok, csrf_refused, error_page, page, page_posting_to, render,
    session_cookie_removal, signed_in,
};
use crate::request::{query, read_form};

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

pub async fn get(req: HttpRequest, app: web::Data<Latchkey>) -> HttpResponse {
    match query(&req) {
        Ok(p) => run(&req, &app, p, false).await,
        Err(e) => error_page(&e),
    }
}

pub async fn post(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> HttpResponse {
    match read_form(&req, payload).await {
        Ok(p) => run(&req, &app, p, false).await,
        Err(e) => error_page(&e),
    }
}

/// `POST /logout/confirm`: the user pressed "Sign out".
pub async fn confirm(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> HttpResponse {
    let form = match read_form(&req, payload).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    if !csrf_ok(&req, &app, PURPOSE, form.get("csrf")) {
        return csrf_refused();
    }
    let params = match Params::parse(form.get("query").unwrap_or("").as_bytes()) {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    run(&req, &app, params, true).await
}

async fn run(req: &HttpRequest, app: &Latchkey, params: Params, confirmed: bool) -> HttpResponse {
    let session = match signed_in(req, app).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    match app.end_session(&params, session.as_ref(), confirmed).await {
        LogoutOutcome::ErrorPage(e) => error_page(&e),
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
            render(
                b,
                &ConfirmPage {
                    csrf: &app.csrf.token(&browser, PURPOSE),
                    query: &query,
                    client_name,
                },
            )
        }
        LogoutOutcome::Done { redirect } => {
            let mut resp = match redirect {
                Some(to) => HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, to))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .finish(),
                None => render(page(StatusCode::OK), &SignedOutPage),
            };
            let _ = resp.add_cookie(&session_cookie_removal(app));
            resp
        }
    }
}
