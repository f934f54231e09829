//! The device code grant (RFC 8628 §3.4, §3.5): the device polls until the
//! user answers. While the request waits it is told `authorization_pending`
//! (or `slow_down`, its interval raised by 5 s and remembered, when it
//! polls too soon); a denial is `access_denied`, an expired code
//! `expired_token`. An approved code is redeemed once, by one conditional
//! update, for the tokens the authorization code grant would give.

use latchkey_domain::{
    Client, DeviceApproval, DeviceState, FamilyId, FamilyState, GrantType, Jti, RefreshFamily,
    RefreshToken, RequestedClaims,
};
use latchkey_protocol::claims::{IdTokenClaims, ID_TOKEN_TYP};
use latchkey_protocol::token::{Opaque, TokenResponse};
use latchkey_protocol::{left_half_hash, ErrorCode, OAuthError, Scope};

use super::{Grant, TokenEndpoint, TokenError};
use crate::device::SLOW_DOWN_STEP;
use crate::jwt::to_map;
use crate::oidc::userinfo::id_token_claims;
use crate::secrets::token_hash;

impl TokenEndpoint<'_> {
    pub(super) async fn poll_device(
        &self,
        client: &Client,
        device_code: &Opaque,
        asked: super::Asked<'_>,
    ) -> Result<TokenResponse, TokenError> {
        if !client.allows_grant(GrantType::DeviceCode) {
            return Err(TokenError::Unauthorized(GrantType::DeviceCode));
        }
        let now = self.clock.unix();
        let Some(device) = self
            .store
            .find_device_by_code(&token_hash(device_code.expose()))
            .await?
        else {
            return Err(TokenError::Grant("unknown device code"));
        };
        if device.client_id != client.id {
            return Err(TokenError::Grant("device code of another client"));
        }
        if device.is_expired(now) {
            return Err(TokenError::Request(OAuthError::new(
                ErrorCode::ExpiredToken,
                "the device code has expired; start again",
            )));
        }
        match device.state {
            DeviceState::Pending => {
                if device.polled_too_soon(now) {
                    let interval = device.interval + SLOW_DOWN_STEP;
                    self.store
                        .record_device_poll(&device.id, now, interval)
                        .await?;
                    return Err(TokenError::Request(OAuthError::new(
                        ErrorCode::SlowDown,
                        format!("poll no more than once every {interval} seconds"),
                    )));
                }
                self.store
                    .record_device_poll(&device.id, now, device.interval)
                    .await?;
                Err(TokenError::Request(OAuthError::new(
                    ErrorCode::AuthorizationPending,
                    "the user has not answered yet",
                )))
            }
            DeviceState::Denied { .. } => Err(TokenError::Request(OAuthError::new(
                ErrorCode::DeviceAccessDenied,
                "the user denied the request",
            ))),
            DeviceState::Redeemed { .. } => Err(TokenError::Grant("device code already used")),
            DeviceState::Approved(approval) => {
                // Single use is this update's rows-affected count: of
                // concurrent polls, one gets true.
                if !self.store.redeem_device(&device.id, now).await? {
                    return Err(TokenError::Grant("device code already used"));
                }
                self.issue_for_device(client, &device.scope, &approval, now, asked)
                    .await
            }
        }
    }

    /// The tokens of an approved device request: what the authorization
    /// code grant gives for the same sign-in (no nonce: there was no
    /// authorization request to carry one).
    async fn issue_for_device(
        &self,
        client: &Client,
        scope: &Scope,
        approval: &DeviceApproval,
        now: i64,
        asked: super::Asked<'_>,
    ) -> Result<TokenResponse, TokenError> {
        let user = match self.store.find_user(&approval.user_id).await? {
            Some(u) if !u.disabled => u,
            _ => return Err(TokenError::Grant("user no longer exists or is disabled")),
        };
        let session_ended = || TokenError::Grant("the session that approved the device has ended");
        match self.store.find_session(&approval.session_id).await? {
            Some(s) if s.is_active() => {}
            _ => return Err(session_ended()),
        }
        let jti = Jti::generate(self.random);
        let exp = now + self.settings.tokens.access_token_ttl;
        let claims = RequestedClaims::default();
        let family_id = client
            .allows_grant(GrantType::RefreshToken)
            .then(|| FamilyId::generate(self.random));
        let refresh_token = match &family_id {
            Some(fid) => {
                let token = self.random.secret();
                let family = RefreshFamily {
                    id: fid.clone(),
                    user_id: user.id.clone(),
                    client_id: client.id.clone(),
                    session_id: approval.session_id.clone(),
                    scope: scope.clone(),
                    claims: claims.clone(),
                    auth_time: approval.auth_time,
                    // A public device's refresh tokens are bound to its
                    // DPoP key, as for the code grant.
                    dpop_jkt: asked.jkt.filter(|_| client.is_public()).cloned(),
                    resources: asked.resources.clone(),
                    generation: 0,
                    state: FamilyState::Active,
                    created_at: now,
                    last_used_at: now,
                    expires_at: now + self.settings.refresh.family_lifetime,
                };
                let first = RefreshToken {
                    token_hash: token_hash(&token),
                    family_id: fid.clone(),
                    generation: 0,
                    created_at: now,
                    used_at: None,
                    access_token_jti: jti.clone(),
                    access_token_expires_at: exp,
                };
                if !self.store.create_family(&family, &first).await? {
                    return Err(session_ended());
                }
                Some(token)
            }
            None => None,
        };
        let grant = Grant {
            auth_time: Some(approval.auth_time),
            sid: Some(&approval.session_id),
            fid: family_id.as_ref(),
            jkt: asked.jkt,
            resources: Some(asked.resources),
            ..Grant::default()
        };
        let (access_token, _) =
            self.mint_access_token(user.id.as_str(), client, scope, &jti, now, grant)?;
        let id_token = if scope.contains(Scope::OPENID) {
            let id_alg = self.settings.id_token_alg(client);
            let id_claims = IdTokenClaims {
                iss: self.settings.issuer.clone(),
                sub: user.id.to_string(),
                aud: client.id.to_string(),
                azp: client.id.to_string(),
                exp: now + self.settings.tokens.id_token_ttl,
                iat: now,
                auth_time: approval.auth_time,
                nonce: None,
                at_hash: Some(left_half_hash(&access_token, id_alg)),
                sid: approval.session_id.to_string(),
                acr: Some(approval.acr.clone()),
                amr: approval
                    .methods
                    .amr()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            };
            let mut id_claims = to_map(&id_claims)?;
            for (name, value) in id_token_claims(&user, scope, &claims.id_token) {
                id_claims.entry(name).or_insert(value);
            }
            Some(
                self.keys
                    .current()
                    .sign_with(id_alg, ID_TOKEN_TYP, &id_claims)?
                    .token,
            )
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: grant.token_type(),
            expires_in: self.settings.tokens.access_token_ttl as u64,
            refresh_token,
            id_token,
            scope: scope.to_string(),
        })
    }
}
