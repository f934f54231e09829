//! `GET /openapi.json`: the OpenAPI 3.1 document of the registration and
//! admin APIs, generated from the handlers' annotations and the request and
//! response types themselves (utoipa), so it cannot drift from the code.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::admin;
use crate::error::ErrorBody;
use crate::oauth2::registration;

struct BearerSchemes;

impl Modify for BearerSchemes {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        for (name, what) in [
            (
                "initial_access_token",
                "An initial access token (`latchkey registration-token create`)",
            ),
            (
                "registration_access_token",
                "The registration access token returned by `POST /register`, and replaced by the one in each answer to `GET` and `PUT /register/{client_id}` (the presented one stops working at once)",
            ),
            (
                "admin_token",
                "An admin token (`latchkey admin-token create`)",
            ),
        ] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(what))
                        .build(),
                ),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Latchkey registration and admin APIs",
        description = "Dynamic client registration (RFC 7591), client management (RFC 7592) and the operator's admin API. Bodies are application/json only; credentials are Bearer tokens in the Authorization header, never cookies."
    ),
    paths(
        registration::register,
        registration::read,
        registration::update,
        registration::delete,
        registration::rotate_secret,
        admin::clients::list,
        admin::clients::create,
        admin::clients::show,
        admin::clients::update,
        admin::clients::delete,
        admin::clients::rotate_secret,
        admin::users::list,
        admin::users::create,
        admin::users::show,
        admin::users::update,
        admin::users::set_password,
        admin::users::delete,
        admin::users::reset_factors,
        admin::sessions::list,
        admin::sessions::delete,
        admin::tokens::list,
        admin::tokens::create,
        admin::tokens::delete,
        admin::audit::search,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerSchemes),
    tags(
        (name = "registration", description = "RFC 7591 / RFC 7592"),
        (name = "admin", description = "Operator API, authorized by an admin token"),
    )
)]
pub struct ApiDoc;

/// The document as JSON, built once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the OpenAPI document serialises")
    })
}

pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_covers_both_apis() {
        let doc: serde_json::Value = serde_json::from_str(document()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/register",
            "/register/{client_id}",
            "/register/{client_id}/secret",
            "/admin/clients",
            "/admin/clients/{id}",
            "/admin/users/{username}/sessions",
            "/admin/registration-tokens",
        ] {
            assert!(paths.contains_key(p), "{p} missing");
        }
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for s in [
            "ClientMetadata",
            "ClientInformation",
            "UserView",
            "ErrorBody",
        ] {
            assert!(schemas.contains_key(s), "{s} missing");
        }
        assert!(doc["components"]["securitySchemes"]["admin_token"].is_object());
    }
}
