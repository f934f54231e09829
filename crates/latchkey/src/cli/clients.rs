//! `latchkey client ...`: relying parties and machine clients, registered
//! and managed by the operator.

use clap::{Args, Subcommand};
use latchkey_core::admin::Actor;
use latchkey_core::admin::{ClientChanges, ClientSettings, NewClient};
use latchkey_core::Latchkey;
use latchkey_domain::keys::SigningAlg;
use latchkey_domain::Client;
use latchkey_domain::{ClientAuthMethod, GrantType, Requirement};
use serde_json::json;

use super::{print_list, time};

#[derive(Args)]
pub struct ClientAdd {
    /// Display name shown on the consent page.
    #[arg(long)]
    name: String,
    /// A redirect URI, matched byte for byte (repeat for several).
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// A public client (no secret; PKCE only).
    #[arg(long)]
    public: bool,
    /// authorization_code (default), refresh_token, client_credentials, or
    /// device_code (RFC 8628, for TVs and command-line tools; no redirect
    /// URI needed); repeat for several.
    #[arg(long = "grant-type", value_name = "T", value_parser = GrantType::parse_short)]
    grant_types: Vec<GrantType>,
    /// Space-separated scopes the client may request (default "openid profile email").
    #[arg(long)]
    scope: Option<String>,
    /// client_secret_basic (default) or client_secret_post.
    #[arg(long)]
    auth_method: Option<ClientAuthMethod>,
    /// Where RP-initiated logout may return the browser (repeat for several).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// A browser origin that may call /token and /revoke for this client
    /// (CORS; repeat for several), e.g. https://app.example.com.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Where back-channel logout tokens are POSTed.
    #[arg(long, value_name = "URI")]
    backchannel_logout_uri: Option<String>,
    /// The client's ID-token algorithm (id_token_signed_response_alg),
    /// among the enabled `[keys] algorithms`; default RS256.
    #[arg(long, value_name = "ALG")]
    id_token_alg: Option<SigningAlg>,
    /// A resource server: may introspect any token (other clients only
    /// their own).
    #[arg(long)]
    introspect: bool,
    /// required (default) or optional: whether authorization requests must
    /// carry PKCE (S256). optional only for confidential clients.
    #[arg(long, value_name = "REQUIREMENT", default_value_t = Requirement::Required)]
    pkce: Requirement,
    /// required (default) or optional: whether OpenID requests must carry
    /// a nonce. optional only for confidential clients.
    #[arg(long, value_name = "REQUIREMENT", default_value_t = Requirement::Required)]
    nonce: Requirement,
    /// Every sign-in to this client needs a second factor (users without
    /// one set up an authenticator app after their password).
    #[arg(long)]
    require_mfa: bool,
    /// Its authorization requests must be pushed (RFC 9126
    /// `require_pushed_authorization_requests`).
    #[arg(long)]
    require_par: bool,
    /// Its access tokens must be DPoP-bound (RFC 9449
    /// `dpop_bound_access_tokens`).
    #[arg(long)]
    dpop_bound: bool,
    /// A resource (RFC 8707) it may ask tokens for beyond every client's
    /// `resources`; repeat for several.
    #[arg(long = "resource", value_name = "URI")]
    resources: Vec<String>,
    #[arg(long)]
    json: bool,
}

/// `client update`: every setting `client add` takes but `--public`; an
/// omitted flag leaves its setting as it is, and a repeated one replaces
/// the whole list.
#[derive(Args)]
pub struct ClientUpdate {
    #[arg(allow_hyphen_values = true)]
    client_id: String,
    #[arg(long)]
    name: Option<String>,
    /// Replaces the redirect URIs (repeat for several).
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Option<Vec<String>>,
    /// Replaces the grant types (repeat for several; `device_code` for
    /// the device grant).
    #[arg(long = "grant-type", value_name = "T", value_parser = GrantType::parse_short)]
    grant_types: Option<Vec<GrantType>>,
    /// Space-separated scopes the client may request.
    #[arg(long)]
    scope: Option<String>,
    /// client_secret_basic or client_secret_post (clients with a secret).
    #[arg(long)]
    auth_method: Option<ClientAuthMethod>,
    /// Replaces the post-logout redirect URIs (repeat for several).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Option<Vec<String>>,
    /// Removes every post-logout redirect URI.
    #[arg(long, conflicts_with = "post_logout_redirect_uris")]
    no_post_logout_redirect_uris: bool,
    /// Replaces the CORS origins (repeat for several).
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Option<Vec<String>>,
    /// Removes every CORS origin.
    #[arg(long, conflicts_with = "cors_origins")]
    no_cors_origins: bool,
    /// Where back-channel logout tokens are POSTed ("" removes it).
    #[arg(long, value_name = "URI")]
    backchannel_logout_uri: Option<String>,
    #[arg(long, value_name = "ALG")]
    id_token_alg: Option<SigningAlg>,
    /// Goes back to the server's default ID-token algorithm.
    #[arg(long, conflicts_with = "id_token_alg")]
    default_id_token_alg: bool,
    /// Whether it may introspect any token (a resource server).
    #[arg(long, value_name = "BOOL")]
    introspect: Option<bool>,
    /// required or optional (confidential clients only).
    #[arg(long, value_name = "REQUIREMENT")]
    pkce: Option<Requirement>,
    /// required or optional (confidential clients only).
    #[arg(long, value_name = "REQUIREMENT")]
    nonce: Option<Requirement>,
    /// Whether every sign-in to it needs a second factor.
    #[arg(long, value_name = "BOOL")]
    require_mfa: Option<bool>,
    /// Whether its authorization requests must be pushed (PAR).
    #[arg(long, value_name = "BOOL")]
    require_par: Option<bool>,
    /// Whether its access tokens must be DPoP-bound.
    #[arg(long, value_name = "BOOL")]
    dpop_bound: Option<bool>,
    /// The resources (RFC 8707) it may ask tokens for beyond every
    /// client's: replaces the list; repeat for several.
    #[arg(long = "resource", value_name = "URI", conflicts_with = "no_resources")]
    resources: Option<Vec<String>>,
    /// Takes every resource of its own away.
    #[arg(long)]
    no_resources: bool,
    /// Whether it follows the FAPI 2.0 Security Profile (a private_key_jwt
    /// client with https redirect URIs: register it through /register or
    /// the admin API).
    #[arg(long, value_name = "BOOL")]
    fapi2: Option<bool>,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register a client; a confidential client's secret is printed once.
    Add(ClientAdd),
    /// List clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a client's settings (those `add` takes, but `--public`).
    Update(ClientUpdate),
    /// Delete a client (every token it holds is revoked).
    Delete {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Issue a new secret; the old one keeps working for
    /// `[registration] secret_grace` (default 24 h).
    RotateSecret {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        #[arg(long)]
        json: bool,
    },
}

fn client_json(c: &Client, secret: Option<&str>) -> serde_json::Value {
    let mut v = json!({
        "client_id": c.id.as_str(),
        "client_name": c.name,
        "redirect_uris": c.redirect_uris.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scope": c.scope.to_string(),
        "token_endpoint_auth_method": c.auth_method.as_str(),
        "post_logout_redirect_uris": c
            .post_logout_redirect_uris
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>(),
        "backchannel_logout_uri": c.backchannel_logout_uri,
        "allowed_cors_origins": c.allowed_cors_origins,
        "id_token_signed_response_alg": c.id_token_signed_response_alg,
        "public": c.is_public(),
        "introspect": c.introspect,
        "pkce": c.pkce,
        "nonce": c.nonce,
        "require_mfa": c.require_mfa,
        "require_pushed_authorization_requests": c.require_par,
        "dpop_bound_access_tokens": c.dpop_bound,
        "resources": c.resources.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "fapi2": c.fapi2,
        "warnings": c.compat_warnings(),
        "created_at": c.created_at,
    });
    if let Some(s) = secret {
        v["client_secret"] = json!(s);
        v["client_secret_expires_at"] = json!(c.secret_expires_at.unwrap_or(0));
    }
    v
}

/// The client's opt-outs from the strict defaults, on standard error.
fn warn_compat(c: &Client) {
    for w in c.compat_warnings() {
        eprintln!("warning: {w}");
    }
}

pub async fn run(cmd: ClientCommand, core: &Latchkey) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Add(a) => {
            let (c, secret) = core
                .admin(Actor::CommandLine)
                .clients()
                .create(NewClient {
                    name: a.name,
                    redirect_uris: a.redirect_uris,
                    public: a.public,
                    grant_types: a.grant_types,
                    scope: a.scope,
                    auth_method: a.auth_method,
                    id_token_alg: a.id_token_alg,
                    post_logout_redirect_uris: a.post_logout_redirect_uris,
                    backchannel_logout_uri: a.backchannel_logout_uri,
                    allowed_cors_origins: a.cors_origins,
                    introspect: a.introspect,
                    pkce: a.pkce,
                    nonce: a.nonce,
                    require_mfa: a.require_mfa,
                    require_par: a.require_par,
                    dpop_bound: a.dpop_bound,
                    resources: a.resources,
                })
                .await?;
            if a.json {
                println!("{}", client_json(&c, secret.as_deref()));
            } else {
                warn_compat(&c);
                println!("client_id:     {}", c.id);
                if let Some(s) = secret {
                    println!("client_secret: {s}\n(shown once: store it now)");
                }
                if let Some(t) = c.secret_expires_at {
                    println!("the secret expires at {}", time(t));
                }
            }
        }
        ClientCommand::List { json } => {
            let clients = core.admin(Actor::CommandLine).clients().list().await?;
            print_list(
                &clients,
                json,
                |c| client_json(c, None),
                |c| format!("{}\t{}\t{}", c.id, c.auth_method.as_str(), c.name),
            );
        }
        ClientCommand::Show { client_id, json } => {
            let c = core
                .admin(Actor::CommandLine)
                .clients()
                .show(&client_id)
                .await?;
            if json {
                println!("{}", client_json(&c, None));
            } else {
                println!("{}", serde_json::to_string_pretty(&client_json(&c, None))?);
            }
        }
        ClientCommand::Update(u) => {
            let c = core
                .admin(Actor::CommandLine)
                .clients()
                .update(
                    &u.client_id,
                    &ClientChanges {
                        name: u.name,
                        redirect_uris: u.redirect_uris,
                        grant_types: u.grant_types,
                        scope: u.scope,
                        auth_method: u.auth_method,
                        post_logout_redirect_uris: if u.no_post_logout_redirect_uris {
                            Some(Vec::new())
                        } else {
                            u.post_logout_redirect_uris
                        },
                        backchannel_logout_uri: u.backchannel_logout_uri,
                        allowed_cors_origins: if u.no_cors_origins {
                            Some(Vec::new())
                        } else {
                            u.cors_origins
                        },
                        id_token_alg: if u.default_id_token_alg {
                            Some(None)
                        } else {
                            u.id_token_alg.map(Some)
                        },
                        settings: ClientSettings {
                            introspect: u.introspect,
                            pkce: u.pkce,
                            nonce: u.nonce,
                            require_mfa: u.require_mfa,
                            require_par: u.require_par,
                            dpop_bound: u.dpop_bound,
                            resources: match u.no_resources {
                                true => Some(Vec::new()),
                                false => u.resources,
                            },
                            fapi2: u.fapi2,
                        },
                    },
                )
                .await?;
            if u.json {
                println!("{}", client_json(&c, None));
            } else {
                warn_compat(&c);
                println!("updated client {}", c.id);
            }
        }
        ClientCommand::Delete { client_id } => {
            core.admin(Actor::CommandLine)
                .clients()
                .delete(&client_id)
                .await?;
            println!("deleted client {client_id}; its tokens are revoked");
        }
        ClientCommand::RotateSecret { client_id, json } => {
            let (c, secret) = core
                .admin(Actor::CommandLine)
                .clients()
                .rotate_secret(&client_id)
                .await?;
            if json {
                println!(
                    "{}",
                    json!({
                        "client_id": c.id.as_str(),
                        "client_secret": secret,
                        "client_secret_expires_at": c.secret_expires_at.unwrap_or(0),
                        "previous_secret_expires_at": c.previous_secret_expires_at,
                    })
                );
            } else {
                println!("client_id:     {}", c.id);
                println!("client_secret: {secret}\n(shown once: store it now)");
                if let Some(t) = c.previous_secret_expires_at {
                    println!("the previous secret keeps working until {}", time(t));
                }
            }
        }
    }
    Ok(())
}
