//! `/admin/console/clients`: list, create (the secret shown once), view
//! every setting with the opt-outs from the strict defaults as warnings,
//! edit, rotate the secret, delete. Through `latchkey_core::admin::clients`,
//! as the command line and the admin API.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use latchkey_core::admin::{ClientChanges, ClientSettings, NewClient};
use latchkey_core::Latchkey;
use latchkey_domain::{Client, ClientAuthMethod, GrantType, Requirement};
use latchkey_protocol::{Params, SigningAlg};

use super::{encode, explain, field, internal, lines, notice, when, ConsoleResult, Operator};
use crate::response::see_other;

/// A client as the list shows it.
struct Row {
    id: String,
    name: String,
    kind: String,
    warnings: usize,
}

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct ListPage<'a> {
    notice: Option<&'a str>,
    clients: Vec<Row>,
}

fn kind(c: &Client) -> String {
    if c.is_public() {
        "public".into()
    } else {
        format!("confidential ({})", c.auth_method)
    }
}

/// `GET /admin/console/clients`.
pub async fn list(op: Operator, req: HttpRequest, app: web::Data<Latchkey>) -> ConsoleResult {
    let clients = op.admin(&app).clients().list().await.map_err(internal)?;
    let rows = clients
        .iter()
        .map(|c| Row {
            id: c.id.to_string(),
            name: c.name.clone(),
            kind: kind(c),
            warnings: c.compat_warnings().len(),
        })
        .collect();
    Ok(op.render(
        StatusCode::OK,
        &ListPage {
            notice: notice(&req, &[("deleted", "The client was deleted.")]),
            clients: rows,
        },
    ))
}

/// The values of the client form, as shown (posted or stored).
#[derive(Default)]
struct FormValues {
    name: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    cors_origins: String,
    grants: Vec<(&'static str, bool)>,
    scope: String,
    /// `client_secret_basic`, `client_secret_post`, or `none` (public).
    auth_method: String,
    /// Whether the form may change the authentication method.
    auth_editable: bool,
    backchannel_logout_uri: String,
    id_token_alg: String,
    introspect: bool,
    pkce_optional: bool,
    nonce_optional: bool,
    require_mfa: bool,
    require_par: bool,
    dpop_bound: bool,
    fapi2: bool,
    resources: String,
}

const GRANTS: [GrantType; 4] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::ClientCredentials,
    GrantType::DeviceCode,
];

fn grant_field(g: GrantType) -> String {
    format!("grant.{}", g.as_str())
}

impl FormValues {
    fn of(c: &Client) -> FormValues {
        let join = |v: &[latchkey_protocol::RedirectUri]| {
            v.iter().map(|u| u.as_str()).collect::<Vec<_>>().join("\n")
        };
        FormValues {
            name: c.name.clone(),
            redirect_uris: join(&c.redirect_uris),
            post_logout_redirect_uris: join(&c.post_logout_redirect_uris),
            cors_origins: c.allowed_cors_origins.join("\n"),
            grants: GRANTS
                .iter()
                .map(|g| (g.as_str(), c.grant_types.contains(g)))
                .collect(),
            scope: c.scope.to_string(),
            auth_method: c.auth_method.as_str().to_owned(),
            auth_editable: c.auth_method.uses_secret(),
            backchannel_logout_uri: c.backchannel_logout_uri.clone().unwrap_or_default(),
            id_token_alg: c
                .id_token_signed_response_alg
                .map(|a| a.as_str().to_owned())
                .unwrap_or_default(),
            introspect: c.introspect,
            pkce_optional: c.pkce.is_optional(),
            nonce_optional: c.nonce.is_optional(),
            require_mfa: c.require_mfa,
            require_par: c.require_par,
            dpop_bound: c.dpop_bound,
            fapi2: c.fapi2,
            resources: c
                .resources
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    fn posted(form: &Params, auth_editable: bool) -> FormValues {
        let text = |n: &str| form.get(n).unwrap_or_default().to_owned();
        let on = |n: &str| form.get(n).is_some_and(|v| !v.is_empty());
        FormValues {
            name: text("name"),
            redirect_uris: text("redirect_uris"),
            post_logout_redirect_uris: text("post_logout_redirect_uris"),
            cors_origins: text("cors_origins"),
            grants: GRANTS
                .iter()
                .map(|g| (g.as_str(), on(&grant_field(*g))))
                .collect(),
            scope: text("scope"),
            auth_method: text("auth_method"),
            auth_editable,
            backchannel_logout_uri: text("backchannel_logout_uri"),
            id_token_alg: text("id_token_alg"),
            introspect: on("introspect"),
            pkce_optional: optional(form, "pkce"),
            nonce_optional: optional(form, "nonce"),
            require_mfa: on("require_mfa"),
            require_par: on("require_par"),
            dpop_bound: on("dpop_bound"),
            fapi2: on("fapi2"),
            resources: text("resources"),
        }
    }
}

/// Whether the form asks for the opt-out `name` (`pkce`, `nonce`).
fn optional(form: &Params, name: &str) -> bool {
    form.get(name)
        .and_then(|v| Requirement::parse(v).ok())
        .is_some_and(Requirement::is_optional)
}

/// What the form's fields say, parsed; a wrong name is a message for the
/// page.
struct Parsed {
    grants: Vec<GrantType>,
    auth_method: Option<ClientAuthMethod>,
    id_token_alg: Option<SigningAlg>,
    pkce: Requirement,
    nonce: Requirement,
}

fn parse(form: &Params) -> Result<Parsed, String> {
    let grants = GRANTS
        .iter()
        .copied()
        .filter(|g| form.get(&grant_field(*g)).is_some_and(|v| !v.is_empty()))
        .collect();
    let auth_method = field(form, "auth_method")
        .map(ClientAuthMethod::parse)
        .transpose()
        .map_err(|e| e.to_string())?;
    let id_token_alg = field(form, "id_token_alg")
        .map(SigningAlg::parse)
        .transpose()
        .map_err(|e| e.to_string())?;
    let requirement = |name: &str| {
        field(form, name)
            .map(Requirement::parse)
            .transpose()
            .map(Option::unwrap_or_default)
            .map_err(|e| e.to_string())
    };
    Ok(Parsed {
        grants,
        auth_method,
        id_token_alg,
        pkce: requirement("pkce")?,
        nonce: requirement("nonce")?,
    })
}

#[derive(Template)]
#[template(path = "admin/client_new.html")]
struct NewPage<'a> {
    csrf: &'a str,
    message: Option<&'a str>,
    f: FormValues,
}

/// `GET /admin/console/clients/new`.
pub async fn new_form(op: Operator) -> ConsoleResult {
    let f = FormValues {
        scope: "openid profile email".into(),
        auth_method: ClientAuthMethod::ClientSecretBasic.as_str().into(),
        auth_editable: true,
        grants: GRANTS
            .iter()
            .map(|g| (g.as_str(), *g == GrantType::AuthorizationCode))
            .collect(),
        ..FormValues::default()
    };
    Ok(op.render(
        StatusCode::OK,
        &NewPage {
            csrf: &op.csrf,
            message: None,
            f,
        },
    ))
}

#[derive(Template)]
#[template(path = "admin/secret.html")]
pub(crate) struct SecretPage<'a> {
    pub heading: &'a str,
    pub what: &'a str,
    /// The value shown this once.
    pub secret: Option<&'a str>,
    /// (label, value) shown beside it.
    pub facts: Vec<(&'static str, String)>,
    pub back: String,
}

/// `POST /admin/console/clients`: registers a client; its secret is shown
/// once, on the answer.
pub async fn create(
    op: Operator,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ConsoleResult {
    let form = op.form(&req, &app, payload).await?;
    let refused = |status, message: &str| {
        op.render(
            status,
            &NewPage {
                csrf: &op.csrf,
                message: Some(message),
                f: FormValues::posted(&form, true),
            },
        )
    };
    let p = match parse(&form) {
        Ok(p) => p,
        Err(m) => return Ok(refused(StatusCode::BAD_REQUEST, &m)),
    };
    let public = p.auth_method == Some(ClientAuthMethod::None);
    let new = NewClient {
        name: form.get("name").unwrap_or_default().trim().to_owned(),
        redirect_uris: lines(&form, "redirect_uris"),
        public,
        grant_types: p.grants,
        scope: field(&form, "scope").map(str::to_owned),
        auth_method: p.auth_method.filter(|_| !public),
        id_token_alg: p.id_token_alg,
        post_logout_redirect_uris: lines(&form, "post_logout_redirect_uris"),
        backchannel_logout_uri: field(&form, "backchannel_logout_uri").map(str::to_owned),
        allowed_cors_origins: lines(&form, "cors_origins"),
        introspect: form.get("introspect").is_some_and(|v| !v.is_empty()),
        pkce: p.pkce,
        nonce: p.nonce,
        require_mfa: form.get("require_mfa").is_some_and(|v| !v.is_empty()),
        require_par: form.get("require_par").is_some_and(|v| !v.is_empty()),
        dpop_bound: form.get("dpop_bound").is_some_and(|v| !v.is_empty()),
        resources: lines(&form, "resources"),
    };
    match op.admin(&app).clients().create(new).await {
        Ok((client, secret)) => {
            let mut facts = vec![
                ("Client ID", client.id.to_string()),
                ("Name", client.name.clone()),
            ];
            if let Some(at) = client.secret_expires_at {
                facts.push(("Secret expires", when(at)));
            }
            Ok(op.render(
                StatusCode::OK,
                &SecretPage {
                    heading: "Client created",
                    what: "client secret",
                    secret: secret.as_deref(),
                    facts,
                    back: format!("/admin/console/clients/{}", encode(client.id.as_str())),
                },
            ))
        }
        Err(e) => {
            let (status, message) = explain(e)?;
            Ok(refused(status, &message))
        }
    }
}

#[derive(Template)]
#[template(path = "admin/client.html")]
struct ClientPage<'a> {
    csrf: &'a str,
    notice: Option<&'a str>,
    message: Option<&'a str>,
    id: String,
    path: String,
    /// Every setting, as (label, value).
    facts: Vec<(&'static str, String)>,
    warnings: Vec<&'static str>,
    uses_secret: bool,
    f: FormValues,
}

fn facts(c: &Client) -> Vec<(&'static str, String)> {
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    let yes = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let mut out = vec![
        ("Client ID", c.id.to_string()),
        ("Name", c.name.clone()),
        ("Type", kind(c)),
    ];
    if c.auth_method.uses_secret() {
        out.push((
            "Secret expires",
            c.secret_expires_at.map(when).unwrap_or("never".into()),
        ));
        if let Some(at) = c.previous_secret_expires_at {
            out.push(("Previous secret accepted until", when(at)));
        }
    }
    out.extend([
        (
            "Redirect URIs",
            list(
                c.redirect_uris
                    .iter()
                    .map(|u| u.as_str().to_owned())
                    .collect(),
            ),
        ),
        (
            "Post-logout redirect URIs",
            list(
                c.post_logout_redirect_uris
                    .iter()
                    .map(|u| u.as_str().to_owned())
                    .collect(),
            ),
        ),
        (
            "Grant types",
            list(
                c.grant_types
                    .iter()
                    .map(|g| g.as_str().to_owned())
                    .collect(),
            ),
        ),
        ("Scope", c.scope.to_string()),
        (
            "Back-channel logout URI",
            c.backchannel_logout_uri.clone().unwrap_or("none".into()),
        ),
        (
            "ID token algorithm",
            c.id_token_signed_response_alg
                .map(|a| a.as_str().to_owned())
                .unwrap_or("server default".into()),
        ),
        ("CORS origins", list(c.allowed_cors_origins.clone())),
        ("May introspect any token", yes(c.introspect)),
        ("PKCE", c.pkce.to_string()),
        ("Nonce", c.nonce.to_string()),
        ("Second factor required", yes(c.require_mfa)),
        ("Pushed requests (PAR) required", yes(c.require_par)),
        ("DPoP-bound tokens required", yes(c.dpop_bound)),
        (
            "Resources",
            list(c.resources.iter().map(|r| r.as_str().to_owned()).collect()),
        ),
        ("FAPI 2.0 profile", yes(c.fapi2)),
        ("Created", when(c.created_at)),
        ("Updated", when(c.updated_at)),
    ]);
    out
}

fn client_page(
    op: &Operator,
    status: StatusCode,
    c: &Client,
    notice: Option<&str>,
    message: Option<&str>,
    f: FormValues,
) -> actix_web::HttpResponse {
    op.render(
        status,
        &ClientPage {
            csrf: &op.csrf,
            notice,
            message,
            id: c.id.to_string(),
            path: format!("/admin/console/clients/{}", encode(c.id.as_str())),
            facts: facts(c),
            warnings: c.compat_warnings(),
            uses_secret: c.auth_method.uses_secret(),
            f,
        },
    )
}

/// The client a path names; unknown is a 404 page.
async fn find(admin: latchkey_core::admin::Admin<'_>, id: &str) -> Result<Client, super::Refusal> {
    admin.clients().show(id).await.map_err(|e| {
        let (_, message) = match explain(e) {
            Ok(x) => x,
            Err(r) => return r,
        };
        super::Refusal::Page(crate::error::ApiError::Page(
            latchkey_protocol::OAuthError::new(latchkey_protocol::ErrorCode::NotFound, message),
        ))
    })
}

/// `GET /admin/console/clients/{id}`.
pub async fn show(
    op: Operator,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    id: web::Path<String>,
) -> ConsoleResult {
    let c = find(op.admin(&app), &id).await?;
    let notice = notice(
        &req,
        &[
            ("saved", "The client was saved."),
            ("unchanged", "Nothing changed."),
        ],
    );
    Ok(client_page(
        &op,
        StatusCode::OK,
        &c,
        notice,
        None,
        FormValues::of(&c),
    ))
}

/// `POST /admin/console/clients/{id}`: every setting of the form.
pub async fn update(
    op: Operator,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    id: web::Path<String>,
    payload: web::Payload,
) -> ConsoleResult {
    let form = op.form(&req, &app, payload).await?;
    let c = find(op.admin(&app), &id).await?;
    let uses_secret = c.auth_method.uses_secret();
    let refused = |status, message: &str| {
        client_page(
            &op,
            status,
            &c,
            None,
            Some(message),
            FormValues::posted(&form, uses_secret),
        )
    };
    let p = match parse(&form) {
        Ok(p) => p,
        Err(m) => return Ok(refused(StatusCode::BAD_REQUEST, &m)),
    };
    let on = |n: &str| Some(form.get(n).is_some_and(|v| !v.is_empty()));
    let changes = ClientChanges {
        name: Some(form.get("name").unwrap_or_default().trim().to_owned()),
        redirect_uris: Some(lines(&form, "redirect_uris")),
        grant_types: Some(p.grants),
        scope: Some(form.get("scope").unwrap_or_default().trim().to_owned()),
        auth_method: p.auth_method.filter(|_| uses_secret),
        post_logout_redirect_uris: Some(lines(&form, "post_logout_redirect_uris")),
        allowed_cors_origins: Some(lines(&form, "cors_origins")),
        backchannel_logout_uri: Some(
            form.get("backchannel_logout_uri")
                .unwrap_or_default()
                .trim()
                .to_owned(),
        ),
        id_token_alg: Some(p.id_token_alg),
        settings: ClientSettings {
            introspect: on("introspect"),
            pkce: Some(p.pkce),
            nonce: Some(p.nonce),
            require_mfa: on("require_mfa"),
            require_par: on("require_par"),
            dpop_bound: on("dpop_bound"),
            resources: Some(lines(&form, "resources")),
            fapi2: on("fapi2"),
        },
    };
    match op
        .admin(&app)
        .clients()
        .update(c.id.as_str(), &changes)
        .await
    {
        Ok(after) => {
            let done = if after == c { "unchanged" } else { "saved" };
            Ok(see_other(&format!(
                "/admin/console/clients/{}?done={done}",
                encode(c.id.as_str())
            )))
        }
        Err(e) => {
            let (status, message) = explain(e)?;
            Ok(refused(status, &message))
        }
    }
}

/// `POST /admin/console/clients/{id}/secret`: a new secret, shown once;
/// the old one keeps working for the grace period.
pub async fn rotate_secret(
    op: Operator,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    id: web::Path<String>,
    payload: web::Payload,
) -> ConsoleResult {
    let _ = op.form(&req, &app, payload).await?;
    let c = find(op.admin(&app), &id).await?;
    match op.admin(&app).clients().rotate_secret(c.id.as_str()).await {
        Ok((after, secret)) => {
            let mut facts = vec![
                ("Client ID", after.id.to_string()),
                ("Name", after.name.clone()),
            ];
            if let Some(at) = after.previous_secret_expires_at {
                facts.push(("Previous secret accepted until", when(at)));
            }
            if let Some(at) = after.secret_expires_at {
                facts.push(("Secret expires", when(at)));
            }
            Ok(op.render(
                StatusCode::OK,
                &SecretPage {
                    heading: "New client secret",
                    what: "client secret",
                    secret: Some(&secret),
                    facts,
                    back: format!("/admin/console/clients/{}", encode(after.id.as_str())),
                },
            ))
        }
        Err(e) => {
            let (status, message) = explain(e)?;
            Ok(client_page(
                &op,
                status,
                &c,
                None,
                Some(&message),
                FormValues::of(&c),
            ))
        }
    }
}

/// `POST /admin/console/clients/{id}/delete`: the client and every token
/// it holds.
pub async fn delete(
    op: Operator,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    id: web::Path<String>,
    payload: web::Payload,
) -> ConsoleResult {
    let _ = op.form(&req, &app, payload).await?;
    let c = find(op.admin(&app), &id).await?;
    match op.admin(&app).clients().delete(c.id.as_str()).await {
        Ok(()) => Ok(see_other("/admin/console/clients?done=deleted")),
        Err(e) => {
            let (status, message) = explain(e)?;
            Ok(client_page(
                &op,
                status,
                &c,
                None,
                Some(&message),
                FormValues::of(&c),
            ))
        }
    }
}
