//! `/account/*`: a signed-in user's own pages: their sessions, with a
//! sign-out button for each, a password change, and their profile (the
//! claims the operator lets users edit). Every form carries a CSRF token
//! bound to the browser.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use latchkey_core::account::profile::ProfileUpdateError;
use latchkey_core::admin::AdminError;
use latchkey_core::authorize::SignedIn;
use latchkey_core::sessions::SessionView;
use latchkey_core::Latchkey;
use latchkey_domain::SessionId;
use latchkey_protocol::profile::{ProfileError, ADDRESS_MEMBERS};
use latchkey_protocol::user_claims::{ClaimError, UserClaim};
use latchkey_protocol::{ErrorCode, OAuthError, Params};

use super::too_many_attempts;
use crate::browser::{
    csrf_binding, csrf_ok, csrf_refused, session_cookie, session_cookie_removal, signed_in,
};
use crate::error::{ApiError, ApiResult};
use crate::request::{client_ip, read_form, read_form_keeping_empty};
use crate::response::{page, render, see_other};

const PURPOSE: &str = "account";

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage<'a> {
    csrf: &'a str,
    username: &'a str,
    /// Set on success (green), or why the request was refused (red).
    notice: Option<&'a str>,
    message: Option<&'a str>,
    sessions: Vec<SessionRow>,
    /// Whether any session but the current one is listed.
    others: bool,
}

/// One session as the page shows it.
struct SessionRow {
    id: String,
    /// "Chrome on Linux", or "Unknown browser".
    device: String,
    /// The stored user agent, for the tooltip.
    user_agent: Option<String>,
    ip: Option<String>,
    signed_in: Moment,
    last_used: Moment,
    clients: Vec<String>,
    current: bool,
}

/// A point in time: relative for reading, exact on hover, RFC 3339 for
/// machines.
struct Moment {
    /// `2026-12-03T19:35:47Z`, for `<time datetime>`.
    datetime: String,
    /// `2026-12-03 19:35:47 UTC`, for the tooltip.
    exact: String,
    /// "3 hours ago", "just now".
    relative: String,
}

impl Moment {
    fn new(unix: i64, now: i64) -> Moment {
        let at = chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default();
        Moment {
            datetime: at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            exact: at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            relative: relative_time(now - unix),
        }
    }
}

/// How long ago something happened, `elapsed` seconds before now: "just
/// now" under a minute (and for the future a skewed clock could give),
/// then whole minutes, hours or days.
fn relative_time(elapsed: i64) -> String {
    let (n, unit) = match elapsed {
        ..60 => return "just now".to_owned(),
        60..3600 => (elapsed / 60, "minute"),
        3600..86_400 => (elapsed / 3600, "hour"),
        _ => (elapsed / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// The sessions page's notice for `?done=`, from a fixed list.
fn sessions_notice(req: &HttpRequest) -> Option<&'static str> {
    let query = Params::parse(req.query_string().as_bytes()).ok()?;
    match query.get("done") {
        Some("others") => Some("Your other sessions were signed out."),
        Some("none") => Some("There were no other sessions to sign out."),
        _ => None,
    }
}

async fn sessions_page(
    req: &HttpRequest,
    app: &Latchkey,
    me: &SignedIn,
    status: StatusCode,
    notice: Option<&str>,
    message: Option<&str>,
) -> ApiResult {
    let list: Vec<SessionView> = app
        .sessions()
        .list_sessions(&me.user.id, Some(&me.session.id))
        .await
        .map_err(|e| ApiError::Page(e.to_oauth()))?;
    let now = app.clock().unix();
    let rows: Vec<SessionRow> = list
        .into_iter()
        .map(|s| SessionRow {
            id: s.id.to_string(),
            device: s.device.to_string(),
            user_agent: s.user_agent,
            ip: s.ip,
            signed_in: Moment::new(s.created_at, now),
            last_used: Moment::new(s.last_seen_at, now),
            clients: s.clients,
            current: s.current,
        })
        .collect();
    let (browser, set) = csrf_binding(req, app);
    let mut b = page(status);
    if let Some(c) = set {
        b.cookie(c);
    }
    Ok(render(
        b,
        &SessionsPage {
            csrf: &app.csrf().token(&browser, PURPOSE),
            username: &me.user.username,
            notice,
            message,
            others: rows.iter().any(|r| !r.current),
            sessions: rows,
        },
    ))
}

pub async fn sessions(req: HttpRequest, app: web::Data<Latchkey>) -> ApiResult {
    let Some(me) = signed_in(&req, &app).await? else {
        return Ok(see_other("/login"));
    };
    sessions_page(&req, &app, &me, StatusCode::OK, sessions_notice(&req), None).await
}

/// What every account form checks first: its CSRF token (refused with
/// 403), then who is signed in (`None`: the browser must sign in).
async fn form_user(
    req: &HttpRequest,
    app: &Latchkey,
    form: &Params,
) -> Result<Option<SignedIn>, ApiError> {
    if !csrf_ok(req, app, PURPOSE, form.get("csrf")) {
        return Err(csrf_refused());
    }
    signed_in(req, app).await
}

/// `POST /account/sessions/end`: sign one session out.
pub async fn end_session(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let form = read_form(&req, payload).await.map_err(ApiError::Page)?;
    let Some(me) = form_user(&req, &app, &form).await? else {
        return Ok(see_other("/login"));
    };
    let Some(sid) = form.get("session") else {
        return Err(ApiError::Page(OAuthError::invalid_request(
            "no session given",
        )));
    };
    let sid = SessionId::new(sid);
    let ended = app
        .sessions()
        .end_own_session(&me.user.id, &sid)
        .await
        .map_err(|e| ApiError::Page(e.to_oauth()))?;
    if !ended {
        return sessions_page(
            &req,
            &app,
            &me,
            StatusCode::NOT_FOUND,
            None,
            Some(
                "That session was not signed out: it is not one of yours, or it has already ended.",
            ),
        )
        .await;
    }
    if sid == me.session.id {
        let mut resp = see_other("/login");
        let _ = resp.add_cookie(&session_cookie_removal(&app));
        return Ok(resp);
    }
    Ok(see_other("/account/sessions"))
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage<'a> {
    csrf: &'a str,
    message: Option<&'a str>,
}

/// `POST /account/sessions/end-others`: sign out every session of the
/// user but this browser's.
pub async fn end_other_sessions(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let form = read_form(&req, payload).await.map_err(ApiError::Page)?;
    let Some(me) = form_user(&req, &app, &form).await? else {
        return Ok(see_other("/login"));
    };
    let ended = app
        .sessions()
        .end_other_sessions(&me.user.id, &me.session.id)
        .await
        .map_err(|e| ApiError::Page(e.to_oauth()))?;
    Ok(see_other(if ended == 0 {
        "/account/sessions?done=none"
    } else {
        "/account/sessions?done=others"
    }))
}

fn password_page(
    req: &HttpRequest,
    app: &Latchkey,
    status: StatusCode,
    message: Option<&str>,
) -> HttpResponse {
    let (browser, set) = csrf_binding(req, app);
    let mut b = page(status);
    if let Some(c) = set {
        b.cookie(c);
    }
    render(
        b,
        &PasswordPage {
            csrf: &app.csrf().token(&browser, PURPOSE),
            message,
        },
    )
}

pub async fn password_form(req: HttpRequest, app: web::Data<Latchkey>) -> ApiResult {
    if signed_in(&req, &app).await?.is_none() {
        return Ok(see_other("/login"));
    }
    Ok(password_page(&req, &app, StatusCode::OK, None))
}

pub async fn change_password(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let form = read_form(&req, payload).await.map_err(ApiError::Page)?;
    let Some(me) = form_user(&req, &app, &form).await? else {
        return Ok(see_other("/login"));
    };
    let current = form.get("current").unwrap_or("").to_owned();
    let new = form.get("new").unwrap_or("").to_owned();
    let changed = app
        .password_change()
        .change_own_password(&me, &client_ip(&req), current, new)
        .await;
    let (status, message) = match changed {
        Ok(cookie) => {
            let mut resp = password_page(
                &req,
                &app,
                StatusCode::OK,
                Some("Password changed. Your other sessions were signed out."),
            );
            if let Err(e) = resp.add_cookie(&session_cookie(&app, cookie)) {
                tracing::error!(error = %e, "could not set the session cookie");
            }
            return Ok(resp);
        }
        Err(AdminError::Invalid(m)) => (StatusCode::BAD_REQUEST, m),
        Err(AdminError::Throttled { wait_secs }) => {
            (StatusCode::TOO_MANY_REQUESTS, too_many_attempts(wait_secs))
        }
        Err(e) => {
            tracing::error!(error = %e, "password change failed");
            return Err(ApiError::Page(OAuthError::bare(ErrorCode::ServerError)));
        }
    };
    Ok(password_page(&req, &app, status, Some(&message)))
}

/// One claim on the profile page: an input when the user may edit it,
/// text otherwise.
struct Field {
    /// The form field's name (and the input's id).
    name: String,
    label: &'static str,
    value: String,
    kind: &'static str,
    autocomplete: &'static str,
    multiline: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage<'a> {
    csrf: &'a str,
    username: &'a str,
    /// Set on success (green), or why the form was refused (red).
    notice: Option<&'a str>,
    message: Option<&'a str>,
    editable: Vec<Field>,
    /// The address members, when the address is editable.
    address: Vec<Field>,
    address_error: Option<String>,
    /// (label, value) of what only an operator changes.
    fixed: Vec<(&'static str, String)>,
}

/// How the page names a claim, the input it takes, and the browser's
/// autofill hint.
fn describe(claim: UserClaim) -> (&'static str, &'static str, &'static str) {
    use UserClaim::*;
    match claim {
        Name => ("Full name", "text", "name"),
        GivenName => ("Given name", "text", "given-name"),
        FamilyName => ("Family name", "text", "family-name"),
        MiddleName => ("Middle name", "text", "additional-name"),
        Nickname => ("Nickname", "text", "nickname"),
        Profile => ("Profile page (URL)", "url", "url"),
        Picture => ("Picture (URL)", "url", "photo"),
        Website => ("Website", "url", "url"),
        Email => ("E-mail", "email", "email"),
        EmailVerified => ("E-mail verified", "text", "off"),
        Gender => ("Gender", "text", "sex"),
        Birthdate => ("Birthdate (YYYY-MM-DD or YYYY)", "text", "bday"),
        Zoneinfo => ("Time zone (such as Europe/Paris)", "text", "off"),
        Locale => ("Locale (such as en-GB)", "text", "language"),
        PhoneNumber => ("Phone number (such as +441234567890)", "tel", "tel"),
        PhoneNumberVerified => ("Phone number verified", "text", "off"),
        Address => ("Address", "text", "off"),
    }
}

fn address_member(member: &str) -> (&'static str, &'static str) {
    match member {
        "formatted" => ("Full address", "street-address"),
        "street_address" => ("Street", "address-line1"),
        "locality" => ("City or locality", "address-level2"),
        "region" => ("Region", "address-level1"),
        "postal_code" => ("Postal code", "postal-code"),
        _ => ("Country", "country-name"),
    }
}

/// What the profile page says besides the claims.
#[derive(Default)]
struct Said<'a> {
    /// The form as posted, when it is shown again.
    posted: Option<&'a Params>,
    errors: &'a [ClaimError],
    notice: Option<&'a str>,
    message: Option<&'a str>,
}

/// The profile page of `me`: editable claims as inputs holding the posted
/// values when the form is shown again, else the stored ones.
fn profile_page(
    req: &HttpRequest,
    app: &Latchkey,
    me: &SignedIn,
    status: StatusCode,
    said: Said<'_>,
) -> HttpResponse {
    let Said {
        posted,
        errors,
        notice,
        message,
    } = said;
    let stored = me.user.claims.to_json();
    let text = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Bool(true)) => "yes".into(),
        Some(serde_json::Value::Bool(false)) => "no".into(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let error_of = |claim: &str| {
        errors
            .iter()
            .find(|e| e.claim == claim)
            .map(|e| e.reason.clone())
    };
    let editable = app.profile().editable().clone();
    let mut fields = Vec::new();
    let mut fixed = vec![("Username", me.user.username.clone())];
    for claim in UserClaim::ALL {
        let (label, kind, autocomplete) = describe(claim);
        let name = claim.as_str();
        if claim == UserClaim::Address {
            if !editable.contains(claim) {
                if let Some(a) = stored.get(name).and_then(|a| a.as_object()) {
                    let lines: Vec<String> = ADDRESS_MEMBERS
                        .iter()
                        .filter_map(|m| a.get(*m).map(|v| text(Some(v))))
                        .collect();
                    fixed.push((label, lines.join(", ")));
                }
            }
            continue;
        }
        if editable.contains(claim) {
            let value = match posted {
                Some(form) => form.get(name).unwrap_or_default().to_owned(),
                None => text(stored.get(name)),
            };
            fields.push(Field {
                name: name.to_owned(),
                label,
                value,
                kind,
                autocomplete,
                multiline: false,
                error: error_of(name),
            });
        } else if let Some(v) = stored.get(name) {
            fixed.push((label, text(Some(v))));
        }
    }
    let mut address = Vec::new();
    if editable.contains(UserClaim::Address) {
        let stored = stored.get("address");
        for member in ADDRESS_MEMBERS {
            let (label, autocomplete) = address_member(member);
            let name = format!("address.{member}");
            let value = match posted {
                Some(form) => form.get(&name).unwrap_or_default().to_owned(),
                None => text(stored.and_then(|a| a.get(member))),
            };
            address.push(Field {
                name,
                label,
                value,
                kind: "text",
                autocomplete,
                multiline: matches!(member, "formatted" | "street_address"),
                error: None,
            });
        }
    }
    let groups: Vec<&str> = me.user.groups.names().collect();
    if !groups.is_empty() {
        fixed.push(("Groups", groups.join(", ")));
    }
    fixed.push(("Last updated (Unix time)", me.user.updated_at.to_string()));
    let (browser, set) = csrf_binding(req, app);
    let mut b = page(status);
    if let Some(c) = set {
        b.cookie(c);
    }
    render(
        b,
        &ProfilePage {
            csrf: &app.csrf().token(&browser, PURPOSE),
            username: &me.user.username,
            notice,
            message,
            editable: fields,
            address,
            address_error: error_of("address"),
            fixed,
        },
    )
}

/// `GET /account/profile`; `?done=saved` or `?done=unchanged` after a
/// save.
pub async fn profile_form(req: HttpRequest, app: web::Data<Latchkey>) -> ApiResult {
    let Some(me) = signed_in(&req, &app).await? else {
        return Ok(see_other("/login"));
    };
    let done = Params::parse(req.query_string().as_bytes()).ok();
    let notice = match done.as_ref().and_then(|q| q.get("done")) {
        Some("saved") => Some("Your profile was saved."),
        Some("unchanged") => Some("Nothing changed."),
        _ => None,
    };
    Ok(profile_page(
        &req,
        &app,
        &me,
        StatusCode::OK,
        Said {
            notice,
            ..Said::default()
        },
    ))
}

/// `POST /account/profile`: every editable claim posted is set (an empty
/// field clears it); a field the form does not have is refused whole.
pub async fn update_profile(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let form = read_form_keeping_empty(&req, payload)
        .await
        .map_err(ApiError::Page)?;
    let Some(me) = form_user(&req, &app, &form).await? else {
        return Ok(see_other("/login"));
    };
    let fields = form.iter().filter(|(name, _)| *name != "csrf");
    let refused = |status, errors: &[ClaimError], message: &str| {
        profile_page(
            &req,
            &app,
            &me,
            status,
            Said {
                posted: Some(&form),
                errors,
                notice: None,
                message: Some(message),
            },
        )
    };
    match app
        .profile()
        .update_own_claims(&me, &client_ip(&req), fields)
        .await
    {
        Ok((_, changed)) if changed.is_empty() => Ok(see_other("/account/profile?done=unchanged")),
        Ok(_) => Ok(see_other("/account/profile?done=saved")),
        Err(ProfileUpdateError::Refused(ProfileError::NotEditable(field))) => Err(ApiError::Page(
            OAuthError::invalid_request(format!("{field} cannot be changed on this page")),
        )),
        Err(ProfileUpdateError::Refused(ProfileError::Invalid(errors))) => Ok(refused(
            StatusCode::BAD_REQUEST,
            &errors,
            "Nothing was saved: correct the fields marked below.",
        )),
        Err(e @ ProfileUpdateError::Conflict) => {
            Ok(refused(StatusCode::CONFLICT, &[], &e.to_string()))
        }
        Err(ProfileUpdateError::Core(e)) => {
            tracing::error!(error = %e, "profile update failed");
            Err(ApiError::Page(OAuthError::bare(ErrorCode::ServerError)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::relative_time;

    #[test]
    fn times_read_as_how_long_ago() {
        assert_eq!(relative_time(-30), "just now");
        assert_eq!(relative_time(59), "just now");
        assert_eq!(relative_time(60), "1 minute ago");
        assert_eq!(relative_time(3599), "59 minutes ago");
        assert_eq!(relative_time(3600), "1 hour ago");
        assert_eq!(relative_time(3 * 3600 + 59), "3 hours ago");
        assert_eq!(relative_time(86_400), "1 day ago");
        assert_eq!(relative_time(10 * 86_400), "10 days ago");
    }
}
