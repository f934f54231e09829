//! `GET|POST /authorize` (RFC 6749 §4.1.1, OIDC Core §3.1.2.1).

use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_core::Latchkey;
use latchkey_protocol::Params;

use crate::pages;
use crate::request::{query, read_form};

pub async fn get(req: HttpRequest, app: web::Data<Latchkey>) -> HttpResponse {
    match query(&req) {
        Ok(params) => run(&req, &app, params).await,
        Err(e) => pages::error_page(&e),
    }
}

pub async fn post(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> HttpResponse {
    match read_form(&req, payload).await {
        Ok(params) => run(&req, &app, params).await,
        Err(e) => pages::error_page(&e),
    }
}

async fn run(req: &HttpRequest, app: &Latchkey, params: Params) -> HttpResponse {
    let signed_in = match pages::signed_in(req, app).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    // A request that needs the user is bound to this browser: the CSRF
    // cookie is set here if it had none. Worked out only when needed.
    let minted = std::cell::RefCell::new(None);
    let browser = || {
        let (id, set) = pages::csrf_binding(req, app);
        *minted.borrow_mut() = set;
        id
    };
    let mut resp = pages::respond(app.authorize(&params, signed_in.as_ref(), &browser).await);
    if let Some(c) = minted.into_inner() {
        if let Err(e) = resp.add_cookie(&c) {
            tracing::error!(error = %e, "could not set the browser cookie");
        }
    }
    resp
}
