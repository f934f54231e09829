//! The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1), parsed
//! in two phases so that the wrong kind of error cannot be sent:
//!
//! 1. [`AuthorizationTarget::parse`] reads only `client_id` and
//!    `redirect_uri`. Until the caller has found the client and matched the
//!    redirect URI byte for byte, nothing may be sent to that URI: errors in
//!    this phase are shown on an error page.
//! 2. [`AuthorizationRequest::parse`] takes the now trusted redirect URI and
//!    checks everything else; its errors are redirected to the client with
//!    `state` and `iss`.

use crate::claims_request::ClaimsRequest;
use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::pkce::CodeChallenge;
use crate::types::{ClientId, Nonce, RedirectUri, Scope, State};
use crate::vocabulary::{Prompt, Requirement, ResponseMode, ResponseType};

/// `client_id` and the redirect URI as the request gave them: not trusted.
#[derive(Debug, Clone)]
pub struct AuthorizationTarget {
    pub client_id: ClientId,
    pub redirect_uri: String,
}

impl AuthorizationTarget {
    pub fn parse(params: &Params) -> Result<AuthorizationTarget, OAuthError> {
        let client_id = ClientId::parse(params.require("client_id")?)?;
        let redirect_uri = params.require("redirect_uri")?.to_owned();
        Ok(AuthorizationTarget {
            client_id,
            redirect_uri,
        })
    }
}

/// OIDC Core §3.1.2.1 `prompt`: the set of [`Prompt`] values asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompts {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
}

impl Prompts {
    pub fn parse(s: Option<&str>) -> Result<Prompts, OAuthError> {
        let mut p = Prompts::default();
        let Some(s) = s else { return Ok(p) };
        for v in s.split(' ') {
            let v = Prompt::parse(v)
                .map_err(|_| OAuthError::invalid_request("unsupported prompt value"))?;
            *p.flag(v) = true;
        }
        if p.none && (p.login || p.consent || p.select_account) {
            return Err(OAuthError::invalid_request(
                "prompt=none cannot be combined with other values",
            ));
        }
        Ok(p)
    }

    fn flag(&mut self, p: Prompt) -> &mut bool {
        match p {
            Prompt::None => &mut self.none,
            Prompt::Login => &mut self.login,
            Prompt::Consent => &mut self.consent,
            Prompt::SelectAccount => &mut self.select_account,
        }
    }

    /// Whether the user must sign in afresh even with a session:
    /// `prompt=login`, or `prompt=select_account`, which Latchkey answers
    /// with its sign-in page (there is no account chooser: one browser has
    /// one session).
    pub fn forces_sign_in(self) -> bool {
        self.login || self.select_account
    }

    pub fn to_param(mut self) -> Option<String> {
        let v: Vec<&str> = Prompt::ALL
            .into_iter()
            .filter(|p| *self.flag(*p))
            .map(|p| p.as_str())
            .collect();
        (!v.is_empty()).then(|| v.join(" "))
    }
}

/// A fully checked authorization request for the code flow.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client_id: ClientId,
    pub redirect_uri: RedirectUri,
    pub scope: Scope,
    pub state: State,
    pub nonce: Option<Nonce>,
    /// `None` only for a client whose PKCE requirement is optional, when
    /// the request sent no challenge.
    pub code_challenge: Option<CodeChallenge>,
    pub response_type: ResponseType,
    pub response_mode: ResponseMode,
    pub prompt: Prompts,
    pub max_age: Option<u64>,
    pub login_hint: Option<String>,
    /// `id_token_hint` as sent: the caller verifies it (it needs the keys).
    pub id_token_hint: Option<String>,
    /// The `claims` parameter (OIDC Core §5.5), empty when absent.
    pub claims: ClaimsRequest,
    /// `acr_values` as sent (OIDC Core §3.1.2.1), in order of preference.
    pub acr_values: Option<String>,
    /// RFC 9449 §10: the DPoP key the code is bound to.
    pub dpop_jkt: Option<crate::dpop::Jkt>,
    /// RFC 8707: the resources the tokens are for.
    pub resources: crate::resource::Resources,
}

impl AuthorizationRequest {
    /// What the request demands of the sign-in (`acr_values`, `acr` in
    /// the claims request).
    pub fn demand(&self) -> crate::authn::Demand {
        crate::authn::Demand::of(self.acr_values.as_deref(), &self.claims)
    }
}

/// What the client must send beyond the base rules: PKCE and `nonce` are
/// required unless an operator made them optional for this client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientRules {
    pub pkce: Requirement,
    pub nonce: Requirement,
}

/// Reads `state` for echoing in an error redirect, if it is well formed.
pub fn echo_state(params: &Params) -> Option<State> {
    params.get("state").and_then(|s| State::parse(s).ok())
}

/// The response mode an error redirect uses before the request is fully
/// parsed: the one asked for if Latchkey supports it, else `query`. Only
/// the delivery of an error is chosen here; an unsupported mode is itself
/// refused by [`AuthorizationRequest::parse`].
pub fn echo_response_mode(params: &Params) -> ResponseMode {
    match params.get("response_mode").map(ResponseMode::parse) {
        Some(Ok(mode)) => mode,
        None | Some(Err(_)) => ResponseMode::Query,
    }
}

impl AuthorizationRequest {
    /// Checks the request against Latchkey's rules and the client's.
    /// `redirect_uri` must already be matched against the client's
    /// registered URIs.
    pub fn parse(
        params: &Params,
        client_id: ClientId,
        redirect_uri: RedirectUri,
        rules: ClientRules,
    ) -> Result<AuthorizationRequest, OAuthError> {
        if params.contains("request") {
            return Err(OAuthError::new(
                ErrorCode::RequestNotSupported,
                "request objects are not supported",
            ));
        }
        if params.contains("request_uri") {
            return Err(OAuthError::new(
                ErrorCode::RequestUriNotSupported,
                "request_uri is not supported",
            ));
        }
        let response_type = params
            .get("response_type")
            .ok_or_else(|| OAuthError::invalid_request("missing parameter `response_type`"))?;
        let response_type = ResponseType::parse(response_type).map_err(|_| {
            OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            )
        })?;
        let response_mode = match params.get("response_mode") {
            None => ResponseMode::Query,
            Some(m) => ResponseMode::parse(m).map_err(|_| {
                OAuthError::invalid_request(format!(
                    "response_mode must be one of: {}",
                    ResponseMode::NAMES.join(", ")
                ))
            })?,
        };
        let state = params
            .get("state")
            .ok_or_else(|| OAuthError::invalid_request("state is required"))
            .and_then(State::parse)?;
        let scope = match params.get("scope") {
            Some(s) => Scope::parse(s)?,
            None => {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "scope is required",
                ))
            }
        };
        let nonce = params.get("nonce").map(Nonce::parse).transpose()?;
        if scope.contains(Scope::OPENID) && nonce.is_none() && !rules.nonce.is_optional() {
            return Err(OAuthError::invalid_request(
                "nonce is required when scope includes openid",
            ));
        }
        let challenge = params.get("code_challenge");
        let method = params.get("code_challenge_method");
        // Optional PKCE means "may be absent", never "may be weak": a
        // request that sends either parameter gets the full S256 check.
        let code_challenge = if challenge.is_none() && method.is_none() && rules.pkce.is_optional()
        {
            None
        } else {
            Some(CodeChallenge::parse(challenge, method)?)
        };
        let prompt = Prompts::parse(params.get("prompt"))?;
        let max_age = params
            .get("max_age")
            .map(|s| {
                s.parse::<u64>().map_err(|_| {
                    OAuthError::invalid_request("max_age must be a non-negative integer")
                })
            })
            .transpose()?;
        let login_hint = match params.get("login_hint") {
            Some(h) if h.len() > 256 => {
                return Err(OAuthError::invalid_request("login_hint is too long"))
            }
            h => h.map(str::to_owned),
        };
        let id_token_hint = params.get("id_token_hint").map(str::to_owned);
        let acr_values = match params.get("acr_values") {
            Some(v) if v.len() > 1024 => {
                return Err(OAuthError::invalid_request("acr_values is too long"))
            }
            v => v.map(str::to_owned),
        };
        let claims = params
            .get("claims")
            .map(ClaimsRequest::parse)
            .transpose()?
            .unwrap_or_default();
        let dpop_jkt = params
            .get("dpop_jkt")
            .map(crate::dpop::Jkt::parse)
            .transpose()?;
        let resources = crate::resource::Resources::from_params(params)?;
        Ok(AuthorizationRequest {
            client_id,
            redirect_uri,
            scope,
            state,
            nonce,
            code_challenge,
            response_type,
            response_mode,
            prompt,
            max_age,
            login_hint,
            id_token_hint,
            claims,
            acr_values,
            dpop_jkt,
            resources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("client_id", "app"),
            ("redirect_uri", "https://app.example/cb"),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "s1"),
            ("nonce", "n1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
    }

    fn parse(pairs: Vec<(&str, &str)>) -> Result<AuthorizationRequest, OAuthError> {
        parse_for(pairs, ClientRules::default())
    }

    fn parse_for(
        pairs: Vec<(&str, &str)>,
        rules: ClientRules,
    ) -> Result<AuthorizationRequest, OAuthError> {
        let p = Params::from_pairs(pairs).unwrap();
        let t = AuthorizationTarget::parse(&p)?;
        AuthorizationRequest::parse(&p, t.client_id, RedirectUri::parse(&t.redirect_uri)?, rules)
    }

    fn without(name: &str) -> Vec<(&'static str, &'static str)> {
        base().into_iter().filter(|(k, _)| *k != name).collect()
    }

    fn with(name: &'static str, value: &'static str) -> Vec<(&'static str, &'static str)> {
        let mut v = without(name);
        v.push((name, value));
        v
    }

    #[test]
    fn a_good_request_parses() {
        let r = parse(base()).unwrap();
        assert_eq!(r.state.as_str(), "s1");
        assert_eq!(r.nonce.unwrap().as_str(), "n1");
        assert_eq!(r.scope.to_string(), "openid profile");
        assert_eq!(r.prompt, Prompts::default());
    }

    #[test]
    fn target_needs_client_and_redirect() {
        let p = Params::from_pairs(without("client_id")).unwrap();
        assert!(AuthorizationTarget::parse(&p).is_err());
        let p = Params::from_pairs(without("redirect_uri")).unwrap();
        assert!(AuthorizationTarget::parse(&p).is_err());
    }

    #[test]
    fn only_code_is_supported() {
        for rt in ["token", "id_token", "code id_token", "code token", "none"] {
            let e = parse(with("response_type", rt)).unwrap_err();
            assert_eq!(e.code, ErrorCode::UnsupportedResponseType, "{rt}");
        }
        assert_eq!(
            parse(without("response_type")).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert!(parse(with("response_mode", "fragment")).is_err());
        assert!(parse(with("response_mode", "query")).is_ok());
        assert_eq!(
            parse(with("response_mode", "form_post"))
                .unwrap()
                .response_mode,
            ResponseMode::FormPost
        );
    }

    #[test]
    fn errors_echo_a_supported_response_mode_only() {
        let mode = |m: &'static str| {
            echo_response_mode(&Params::from_pairs(with("response_mode", m)).unwrap())
        };
        assert_eq!(mode("form_post"), ResponseMode::FormPost);
        assert_eq!(mode("fragment"), ResponseMode::Query);
        assert_eq!(mode("query"), ResponseMode::Query);
        assert_eq!(
            echo_response_mode(&Params::from_pairs(base()).unwrap()),
            ResponseMode::Query
        );
    }

    #[test]
    fn hints_and_display_parameters_are_accepted() {
        let mut v = base();
        v.extend([
            ("display", "popup"),
            ("ui_locales", "fr-CA en"),
            ("claims_locales", "de"),
            ("acr_values", "urn:mace:incommon:iap:silver"),
            ("vendor_extension", "x"),
            ("id_token_hint", "eyJ.e30.sig"),
        ]);
        let r = parse(v).unwrap();
        assert_eq!(r.id_token_hint.as_deref(), Some("eyJ.e30.sig"));
    }

    #[test]
    fn state_is_mandatory() {
        let e = parse(without("state")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.description.unwrap().contains("state"));
    }

    #[test]
    fn nonce_is_mandatory_for_openid_only() {
        let e = parse(without("nonce")).unwrap_err();
        assert!(e.description.unwrap().contains("nonce"));
        let mut oauth_only = without("nonce");
        oauth_only.retain(|(k, _)| *k != "scope");
        oauth_only.push(("scope", "api:read"));
        assert!(parse(oauth_only).is_ok());
    }

    #[test]
    fn scope_is_mandatory_and_well_formed() {
        assert_eq!(
            parse(without("scope")).unwrap_err().code,
            ErrorCode::InvalidScope
        );
        assert_eq!(
            parse(with("scope", "openid  x")).unwrap_err().code,
            ErrorCode::InvalidScope
        );
    }

    #[test]
    fn pkce_s256_is_mandatory() {
        assert!(parse(without("code_challenge")).is_err());
        assert!(parse(without("code_challenge_method")).is_err());
        assert!(parse(with("code_challenge_method", "plain")).is_err());
    }

    const LENIENT: ClientRules = ClientRules {
        pkce: Requirement::Optional,
        nonce: Requirement::Optional,
    };

    #[test]
    fn optional_pkce_may_be_absent_but_never_plain() {
        let mut none = without("code_challenge");
        none.retain(|(k, _)| *k != "code_challenge_method");
        assert!(parse(none.clone()).is_err());
        assert_eq!(parse_for(none, LENIENT).unwrap().code_challenge, None);
        assert!(parse_for(base(), LENIENT).unwrap().code_challenge.is_some());
        assert!(parse_for(with("code_challenge_method", "plain"), LENIENT).is_err());
        assert!(parse_for(without("code_challenge_method"), LENIENT).is_err());
        assert!(parse_for(without("code_challenge"), LENIENT).is_err());
    }

    #[test]
    fn optional_nonce_may_be_absent() {
        let e = parse(without("nonce")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        let r = parse_for(without("nonce"), LENIENT).unwrap();
        assert_eq!(r.nonce, None);
    }

    #[test]
    fn request_objects_are_refused() {
        assert_eq!(
            parse(with("request", "eyJ.x.y")).unwrap_err().code,
            ErrorCode::RequestNotSupported
        );
        assert_eq!(
            parse(with("request_uri", "https://x")).unwrap_err().code,
            ErrorCode::RequestUriNotSupported
        );
    }

    #[test]
    fn prompt_and_max_age() {
        let r = parse(with("prompt", "login consent")).unwrap();
        assert!(r.prompt.login && r.prompt.consent && !r.prompt.none);
        assert!(parse(with("prompt", "none login")).is_err());
        assert!(parse(with("prompt", "bogus")).is_err());
        assert_eq!(parse(with("max_age", "300")).unwrap().max_age, Some(300));
        assert!(parse(with("max_age", "-1")).is_err());
        assert!(parse(with("max_age", "soon")).is_err());
        let r = parse(with("prompt", "select_account")).unwrap();
        assert!(r.prompt.forces_sign_in() && !r.prompt.login);
        assert!(parse(with("prompt", "login"))
            .unwrap()
            .prompt
            .forces_sign_in());
        assert!(!parse(with("prompt", "consent"))
            .unwrap()
            .prompt
            .forces_sign_in());
        assert_eq!(
            Prompts::parse(Some("login consent"))
                .unwrap()
                .to_param()
                .unwrap(),
            "login consent"
        );
    }

    #[test]
    fn claims_parameter_is_parsed_or_refused() {
        let r = parse(with(
            "claims",
            r#"{"userinfo":{"email":{"essential":true}}}"#,
        ))
        .unwrap();
        assert!(r.claims.userinfo["email"].essential);
        assert!(parse(base()).unwrap().claims.is_empty());
        for bad in ["email", "[]", r#"{"userinfo":"email"}"#] {
            let e = parse(with("claims", bad)).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{bad}");
        }
    }

    #[test]
    fn dpop_jkt_is_a_thumbprint() {
        let jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
        assert_eq!(
            parse(with("dpop_jkt", jkt))
                .unwrap()
                .dpop_jkt
                .unwrap()
                .as_str(),
            jkt
        );
        assert!(parse(base()).unwrap().dpop_jkt.is_none());
        assert_eq!(
            parse(with("dpop_jkt", "not-a-thumbprint"))
                .unwrap_err()
                .code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn echo_state_only_when_well_formed() {
        let p = Params::from_pairs([("state", "ok")]).unwrap();
        assert_eq!(echo_state(&p).unwrap().as_str(), "ok");
        let p = Params::from_pairs([("state", "bad\u{1}")]).unwrap();
        assert!(echo_state(&p).is_none());
    }
}
