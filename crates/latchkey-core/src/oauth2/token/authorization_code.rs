//! The `authorization_code` grant (RFC 6749 §4.1.3, RFC 7636): the code is
//! redeemed once, by its own client, redirect URI and PKCE verifier; a
//! replay revokes what the first redemption gave out.

use latchkey_domain::{AuditEvent, CodeState, FamilyId, FamilyState, Jti, RevokeReason};
use latchkey_domain::{
    Client, CodePresenter, CodeRedemption, GrantType, IssuedFromCode, RefreshFamily, RefreshToken,
    Teardown,
};
use latchkey_protocol::claims::{IdTokenClaims, ID_TOKEN_TYP};
use latchkey_protocol::pkce::CodeVerifier;
use latchkey_protocol::token::{Opaque, TokenResponse};
use latchkey_protocol::{left_half_hash, OAuthError, Scope};

use super::{Grant, TokenEndpoint, TokenError};
use crate::audit::Event;
use crate::jwt::to_map;
use crate::oidc::userinfo::id_token_claims;
use crate::secrets::token_hash;

impl TokenEndpoint<'_> {
    pub(super) async fn redeem(
        &self,
        client: &Client,
        code: &Opaque,
        redirect_uri: &str,
        verifier: Option<&CodeVerifier>,
        asked: super::Asked<'_>,
    ) -> Result<TokenResponse, TokenError> {
        let jkt = asked.jkt;
        // A client without the PKCE opt-out never redeems without a
        // verifier, whatever its codes were issued with.
        if verifier.is_none() && client.requires_pkce() {
            return Err(TokenError::Request(OAuthError::invalid_request(
                "code_verifier is required (PKCE)",
            )));
        }
        if !client.allows_grant(GrantType::AuthorizationCode) {
            return Err(TokenError::Unauthorized(GrantType::AuthorizationCode));
        }
        let now = self.clock.unix();
        let jti = Jti::generate(self.random);
        let exp = now + self.settings.tokens.access_token_ttl;
        // Decided before the code is consumed, so a replay finds the family
        // to revoke even if this request is still issuing.
        let family_id = client
            .allows_grant(GrantType::RefreshToken)
            .then(|| FamilyId::generate(self.random));
        let issued = IssuedFromCode {
            access_token_jti: jti.clone(),
            access_token_expires_at: exp,
            family_id: family_id.clone(),
        };
        // What the presenter must prove is part of the redemption's guard: a
        // code shown by another client, or with the wrong redirect URI or
        // PKCE verifier, is refused and stays redeemable by its own client,
        // and such a presentation never counts as a replay (which would let
        // a stranger revoke the tokens the code gave its client). The
        // challenge, or its absence, must be the code's: a verifier for a
        // code issued without one is refused too (RFC 9700 §2.1.1).
        let challenge = verifier.map(CodeVerifier::challenge);
        // A code bound to a DPoP key (`dpop_jkt`) is redeemed only with a
        // proof of that key (RFC 9449 §10); that too is part of the guard.
        let presenter = CodePresenter {
            client_id: &client.id,
            redirect_uri,
            code_challenge: challenge.as_ref(),
            dpop_jkt: jkt,
        };
        let hash = token_hash(code.expose());
        let code = match self
            .store
            .redeem_code(&hash, &presenter, now, &issued)
            .await?
        {
            CodeRedemption::Redeemed(c) => c,
            CodeRedemption::NotFound => return Err(TokenError::Grant("unknown code")),
            CodeRedemption::WrongPresenter => {
                return Err(TokenError::Grant(
                    "code of another client, or wrong redirect_uri, PKCE verifier or DPoP key",
                ))
            }
            CodeRedemption::AlreadyUsed(c) => {
                // RFC 6749 §4.1.2: a code used twice revokes what it gave.
                let CodeState::Redeemed { issued, .. } = &c.state else {
                    return Err(TokenError::Grant("code already used"));
                };
                self.revocations
                    .revoke_jti(
                        &issued.access_token_jti,
                        issued.access_token_expires_at,
                        RevokeReason::CodeReplay,
                    )
                    .await?;
                if let Some(fid) = &issued.family_id {
                    self.revocations
                        .teardown(Teardown {
                            families: vec![fid.clone()],
                            ..Teardown::new(now, RevokeReason::CodeReplay)
                        })
                        .await?;
                }
                self.audit
                    .record(Event {
                        kind: AuditEvent::CodeReplay,
                        user_id: Some(&c.user_id),
                        client_id: Some(c.client_id.as_str()),
                        ip: None,
                        detail: "authorization code presented twice; tokens issued from it revoked"
                            .into(),
                    })
                    .await;
                return Err(TokenError::Grant("code already used"));
            }
        };
        if code.is_expired(now) {
            return Err(TokenError::Grant("code expired"));
        }
        let resources = asked.within(&code.resources)?;
        let user = match self.store.find_user(&code.user_id).await? {
            Some(u) if !u.disabled => u,
            _ => return Err(TokenError::Grant("user no longer exists or is disabled")),
        };
        let session_ended = || TokenError::Grant("the session that issued the code has ended");
        match self.store.find_session(&code.session_id).await? {
            Some(s) if s.is_active() => {}
            _ => return Err(session_ended()),
        }
        let refresh_token = match &family_id {
            Some(fid) => {
                let token = self.random.secret();
                let family = RefreshFamily {
                    id: fid.clone(),
                    user_id: user.id.clone(),
                    client_id: client.id.clone(),
                    session_id: code.session_id.clone(),
                    scope: code.scope.clone(),
                    claims: code.claims.clone(),
                    auth_time: code.auth_time,
                    // A public client's refresh tokens are bound to its
                    // DPoP key (RFC 9449 §5); a confidential client's are
                    // bound to its credentials already.
                    dpop_jkt: jkt.filter(|_| client.is_public()).cloned(),
                    // What the sign-in was for, or what this first token
                    // request named when it named nothing: later refreshes
                    // may narrow within it.
                    resources: match code.resources.is_empty() {
                        true => resources.clone(),
                        false => code.resources.clone(),
                    },
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
                // Checked again where it counts: the family is created
                // only while the session is live (a logout may have
                // committed since the read above).
                if !self.store.create_family(&family, &first).await? {
                    return Err(session_ended());
                }
                Some(token)
            }
            None => None,
        };
        let grant = Grant {
            auth_time: Some(code.auth_time),
            sid: Some(&code.session_id),
            fid: family_id.as_ref(),
            userinfo_claims: Some(&code.claims.userinfo),
            jkt,
            resources: Some(resources),
        };
        let (access_token, _) =
            self.mint_access_token(user.id.as_str(), client, &code.scope, &jti, now, grant)?;
        let id_token = if code.scope.contains(Scope::OPENID) {
            // The client's registered algorithm; at_hash follows it.
            let id_alg = self.settings.id_token_alg(client);
            let claims = IdTokenClaims {
                iss: self.settings.issuer.clone(),
                sub: user.id.to_string(),
                aud: client.id.to_string(),
                azp: client.id.to_string(),
                exp: now + self.settings.tokens.id_token_ttl,
                iat: now,
                auth_time: code.auth_time,
                nonce: code.nonce.as_ref().map(|n| n.to_string()),
                at_hash: Some(left_half_hash(&access_token, id_alg)),
                sid: code.session_id.to_string(),
                // How the user signed in (and stepped up) for this code.
                acr: Some(code.acr.clone()),
                amr: code.methods.amr().into_iter().map(str::to_owned).collect(),
            };
            let mut claims = to_map(&claims)?;
            // The user's claims by scope and those the request named for
            // the ID token, never in place of one the ID token has already.
            for (name, value) in id_token_claims(&user, &code.scope, &code.claims.id_token) {
                claims.entry(name).or_insert(value);
            }
            Some(
                self.keys
                    .current()
                    .sign_with(id_alg, ID_TOKEN_TYP, &claims)?
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
            scope: code.scope.to_string(),
        })
    }
}
