//! `GET|POST /authorize` (RFC 6749 §4.1.1, OIDC Core §3.1.2.1).

use actix_web::{web, HttpRequest};
use latchkey_core::Latchkey;
use latchkey_protocol::Params;

use crate::browser;
use crate::error::{ApiError, ApiResult};
use crate::request::{query, read_form};

pub async fn get(req: HttpRequest, app: web::Data<Latchkey>) -> ApiResult {
    let params = query(&req).map_err(ApiError::Page)?;
    run(&req, &app, params).await
}

pub async fn post(req: HttpRequest, app: web::Data<Latchkey>, payload: web::Payload) -> ApiResult {
    let params = read_form(&req, payload).await.map_err(ApiError::Page)?;
    run(&req, &app, params).await
}

async fn run(req: &HttpRequest, app: &Latchkey, params: Params) -> ApiResult {
    if let Some(id) = params.get("client_id") {
        crate::observe::name_client(id);
    }
    let signed_in = browser::signed_in(req, app).await?;
    // A request that needs the user is bound to this browser: the CSRF
    // cookie is set here if it had none. Worked out only when needed.
    let minted = std::cell::RefCell::new(None);
    let browser = || {
        let (id, set) = browser::csrf_binding(req, app);
        *minted.borrow_mut() = set;
        id
    };
    let mut resp = browser::respond(
        app.authorize()
            .start(&params, signed_in.as_ref(), &browser)
            .await,
    );
    if let Some(c) = minted.into_inner() {
        if let Err(e) = resp.add_cookie(&c) {
            tracing::error!(error = %e, "could not set the browser cookie");
        }
    }
    Ok(resp)
}
