//! The operator console: server-rendered pages under `/admin` over the
//! same services as the command line and the admin API
//! (`latchkey_core::admin`). The JSON admin API keeps its own paths and
//! stays Bearer-only; the console's pages are `/admin` and
//! `/admin/console/...`, and take the browser's session cookie only.
//!
//! Every handler takes an [`Operator`], so a page cannot forget who may
//! see it: a signed-in user with the `admin` role whose sign-in proved a
//! second factor. Anyone else is sent to sign in, refused (403), or told
//! to set up or prove a second factor, before the handler runs. Every
//! change is a POST whose form carries a CSRF token bound to the browser
//! (checked by [`Operator::form`]); pages carry the account pages' CSP,
//! framing and caching headers (`response::page`).

pub mod audit;
pub mod clients;
pub mod keys;
pub mod tokens;
pub mod users;

use actix_web::cookie::Cookie;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError};
use askama::Template;
use futures_util::future::LocalBoxFuture;
use latchkey_core::admin::{AdminError, ConsoleAccess};
use latchkey_core::authorize::SignedIn;
use latchkey_core::Latchkey;
use latchkey_protocol::{ErrorCode, OAuthError, Params};

use crate::browser::{csrf_binding, csrf_ok, csrf_refused, return_to_console, signed_in};
use crate::error::ApiError;
use crate::request::{read_form_keeping_empty, with_core};
use crate::response::{page, render, see_other};

/// The CSRF purpose of every console form.
const PURPOSE: &str = "admin";

/// An administrator using the console: signed in, `admin` role, second
/// factor proved in this session.
pub struct Operator {
    pub me: SignedIn,
    /// The CSRF token for this browser's console forms.
    pub csrf: String,
    /// The CSRF cookie to set when the browser had none.
    set_cookie: Option<Cookie<'static>>,
}

impl Operator {
    /// The operator's services, acting as this console user: the audit
    /// log records `console:<username>` on everything they change.
    pub fn admin<'a>(&'a self, app: &'a Latchkey) -> latchkey_core::admin::Admin<'a> {
        app.admin(latchkey_core::admin::Actor::Console {
            username: &self.me.user.username,
        })
    }
}

/// Why the console did not open, rendered by [`ResponseError`].
#[derive(Debug)]
pub enum Refusal {
    /// Nobody is signed in: to the sign-in page, with the cookie that
    /// brings the browser back to the console afterwards.
    SignIn(Box<Cookie<'static>>),
    /// Signed in, but not allowed now: a page saying why (and, where the
    /// way in is a sign-in, the cookie that returns it to the console).
    Door(Door, Option<Box<Cookie<'static>>>),
    /// Any other refusal (a bad form, storage trouble): the error page.
    Page(ApiError),
}

/// The console's door pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    NotAdmin,
    StepUp,
    Enrol,
}

#[derive(Template)]
#[template(path = "console_door.html")]
struct DoorPage {
    door: Door,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::SignIn(_) => f.write_str("not signed in"),
            Refusal::Door(d, _) => write!(f, "console refused: {d:?}"),
            Refusal::Page(e) => e.fmt(f),
        }
    }
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        match self {
            Refusal::SignIn(_) => StatusCode::SEE_OTHER,
            Refusal::Door(..) => StatusCode::FORBIDDEN,
            Refusal::Page(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Refusal::SignIn(back) => {
                let mut resp = see_other("/login");
                let _ = resp.add_cookie(back);
                resp
            }
            Refusal::Door(door, back) => {
                let mut resp = render(page(StatusCode::FORBIDDEN), &DoorPage { door: *door });
                if let Some(back) = back {
                    let _ = resp.add_cookie(back);
                }
                resp
            }
            Refusal::Page(e) => e.error_response(),
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Refusal {
        Refusal::Page(e)
    }
}

/// What a console handler answers.
pub type ConsoleResult = Result<HttpResponse, Refusal>;

/// A failure of the core that no form field explains: logged, and a bare
/// server error page.
pub(crate) fn internal(e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "console action failed");
    Refusal::Page(ApiError::Page(OAuthError::bare(ErrorCode::ServerError)))
}

/// What a page says after an action: a refusal the operator can correct
/// (with its status), or an internal error.
pub(crate) fn explain(e: AdminError) -> Result<(StatusCode, String), Refusal> {
    match e {
        AdminError::Invalid(m) => Ok((StatusCode::BAD_REQUEST, m)),
        AdminError::Metadata(e) => Ok((
            StatusCode::BAD_REQUEST,
            e.description
                .map(|d| d.into_owned())
                .unwrap_or_else(|| e.code.as_str().to_owned()),
        )),
        e @ AdminError::NotFound(_) => Ok((StatusCode::NOT_FOUND, e.to_string())),
        e @ AdminError::Exists(_) => Ok((StatusCode::CONFLICT, e.to_string())),
        e @ AdminError::Throttled { .. } => Ok((StatusCode::TOO_MANY_REQUESTS, e.to_string())),
        AdminError::Core(e) => match e.to_oauth() {
            // Input the store cannot hold (a NUL on Postgres) is the
            // request's fault.
            o if o.code == ErrorCode::InvalidRequest => Ok((
                StatusCode::BAD_REQUEST,
                o.description
                    .map(|d| d.into_owned())
                    .unwrap_or_else(|| "the input was refused".into()),
            )),
            _ => Err(internal(e)),
        },
    }
}

impl FromRequest for Operator {
    type Error = Refusal;
    type Future = LocalBoxFuture<'static, Result<Operator, Refusal>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let checked = with_core(&req, |req, app| async move {
                Ok(Operator::check(&req, &app).await)
            });
            checked.await.map_err(Refusal::Page)?
        })
    }
}

impl Operator {
    async fn check(req: &HttpRequest, app: &Latchkey) -> Result<Operator, Refusal> {
        let Some(me) = signed_in(req, app).await? else {
            return Err(Refusal::SignIn(Box::new(return_to_console(app))));
        };
        let access = app.admin_doors().console(&me).await.map_err(internal)?;
        let door = match access {
            ConsoleAccess::Granted => {
                let (browser, set_cookie) = csrf_binding(req, app);
                return Ok(Operator {
                    me,
                    csrf: app.csrf().token(&browser, PURPOSE),
                    set_cookie,
                });
            }
            ConsoleAccess::NotAdmin => Door::NotAdmin,
            ConsoleAccess::StepUp => Door::StepUp,
            ConsoleAccess::Enrol => Door::Enrol,
        };
        tracing::info!(user = %me.user.id.as_str(), ?door, "console refused");
        // Confirming the sign-in comes back here.
        let back = (door == Door::StepUp).then(|| Box::new(return_to_console(app)));
        Err(Refusal::Door(door, back))
    }

    /// A console form, read and checked: its CSRF token must fit this
    /// browser (else 403). Empty fields are kept (an empty field clears).
    pub async fn form(
        &self,
        req: &HttpRequest,
        app: &Latchkey,
        payload: web::Payload,
    ) -> Result<Params, Refusal> {
        let form = read_form_keeping_empty(req, payload)
            .await
            .map_err(|e| Refusal::Page(ApiError::Page(e)))?;
        if !csrf_ok(req, app, PURPOSE, form.get("csrf")) {
            tracing::info!(user = %self.me.user.id.as_str(), "console form with a wrong CSRF token");
            return Err(Refusal::Page(csrf_refused()));
        }
        Ok(form)
    }

    /// A page builder with the page headers (and the CSRF cookie, when
    /// the browser had none).
    pub fn page(&self, status: StatusCode) -> HttpResponseBuilder {
        let mut b = page(status);
        if let Some(c) = &self.set_cookie {
            b.cookie(c.clone());
        }
        b
    }

    /// Renders a console page.
    pub fn render<T: Template>(&self, status: StatusCode, t: &T) -> HttpResponse {
        render(self.page(status), t)
    }
}

/// A non-empty trimmed form field.
pub(crate) fn field<'a>(form: &'a Params, name: &str) -> Option<&'a str> {
    form.get(name).map(str::trim).filter(|v| !v.is_empty())
}

/// The lines of a textarea, trimmed, blank ones dropped.
pub(crate) fn lines(form: &Params, name: &str) -> Vec<String> {
    form.get(name)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A notice from a fixed list, chosen by `?done=`.
pub(crate) fn notice(req: &HttpRequest, notices: &[(&str, &'static str)]) -> Option<&'static str> {
    let query = Params::parse(req.query_string().as_bytes()).ok()?;
    let done = query.get("done")?;
    notices.iter().find(|(k, _)| *k == done).map(|(_, v)| *v)
}

/// A Unix time as the console shows it: `2026-12-03 19:35 UTC`.
pub(crate) fn when(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| unix.to_string())
}

/// Percent-encodes a path segment or query value.
pub(crate) fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[derive(Template)]
#[template(path = "admin/home.html")]
struct HomePage<'a> {
    username: &'a str,
    clients: usize,
    users: usize,
    warnings: usize,
}

/// `GET /admin`: what the console holds.
pub async fn home(op: Operator, app: web::Data<Latchkey>) -> ConsoleResult {
    let admin = op.admin(&app);
    let clients = admin.clients().list().await.map_err(internal)?;
    let users = admin.users().list().await.map_err(internal)?;
    Ok(op.render(
        StatusCode::OK,
        &HomePage {
            username: &op.me.user.username,
            clients: clients.len(),
            users: users.len(),
            warnings: clients
                .iter()
                .filter(|c| !c.compat_warnings().is_empty())
                .count(),
        },
    ))
}

/// Mounts the console's pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let get = web::get;
    let post = web::post;
    cfg.service(web::resource("/admin").route(get().to(home)))
        .service(
            web::resource("/admin/console/clients")
                .route(get().to(clients::list))
                .route(post().to(clients::create)),
        )
        .service(web::resource("/admin/console/clients/new").route(get().to(clients::new_form)))
        .service(
            web::resource("/admin/console/clients/{id}")
                .route(get().to(clients::show))
                .route(post().to(clients::update)),
        )
        .service(
            web::resource("/admin/console/clients/{id}/secret")
                .route(post().to(clients::rotate_secret)),
        )
        .service(
            web::resource("/admin/console/clients/{id}/delete").route(post().to(clients::delete)),
        )
        .service(
            web::resource("/admin/console/users")
                .route(get().to(users::list))
                .route(post().to(users::create)),
        )
        .service(
            web::resource("/admin/console/users/{username}")
                .route(get().to(users::show))
                .route(post().to(users::update)),
        )
        .service(
            web::resource("/admin/console/users/{username}/{action}").route(post().to(users::act)),
        )
        .service(
            web::resource("/admin/console/keys")
                .route(get().to(keys::list))
                .route(post().to(keys::act)),
        )
        .service(
            web::resource("/admin/console/tokens")
                .route(get().to(tokens::list))
                .route(post().to(tokens::act)),
        )
        .service(web::resource("/admin/console/audit").route(get().to(audit::search)));
}
