//! Why tokens die and what the audit trail records: closed sets of names,
//! stored as text and read back strictly (a name Latchkey never wrote is a
//! corrupt row, not a new reason).

latchkey_protocol::vocabulary! {
    /// Why a token, family or session was revoked. Stored with the
    /// revocation and the family, and shown to operators.
    pub enum RevokeReason as "revocation reason" {
        /// The client revoked it (RFC 7009).
        RevokedByClient = "revoked by client",
        /// An authorization code was presented a second time.
        CodeReplay = "code_replay",
        /// A used refresh token was presented again.
        RefreshTokenReuse = "refresh_token_reuse",
        /// A lost response was recovered: the token it carried dies.
        RefreshRecovery = "refresh_recovery",
        /// The refresh family reached its lifetime or idle timeout.
        Expired = "expired",
        /// RP-initiated logout.
        Logout = "logout",
        SessionEndedByUser = "session ended by its user",
        SessionEndedByOperator = "session ended by an operator",
        /// The browser signed in again, as someone else or afresh.
        ReplacedBySignIn = "replaced by a new sign-in in the same browser",
        PasswordChanged = "password changed",
        /// The user added or removed a second factor, or an operator reset
        /// them.
        FactorsChanged = "second factors changed",
        UserDisabled = "user disabled",
        UserDeleted = "user deleted",
        ClientDeletedByOperator = "client deleted by an operator",
        /// The registrant deleted its client (RFC 7592 §2.3).
        ClientDeletedByRegistrant = "client deleted through RFC 7592",
        /// Learnt from another instance's broadcast; the reason is recorded
        /// where the revocation was made.
        Propagated = "published",
    }
}

latchkey_protocol::vocabulary! {
    /// A security-relevant event, the `kind` of an audit record.
    pub enum AuditEvent as "audit event" {
        Login = "login",
        LoginFailed = "login_failed",
        SessionEnded = "session_ended",
        PasswordChanged = "password_changed",
        UserDisabled = "user_disabled",
        UserEnabled = "user_enabled",
        UserDeleted = "user_deleted",
        /// An operator created a user.
        UserCreated = "user_created",
        UserClaimsChanged = "user_claims_changed",
        /// An operator gave a user the admin role or took it away.
        UserRoleChanged = "user_role_changed",
        /// An authenticator app, recovery codes or a passkey was added or
        /// removed (by the user, or reset by an operator).
        FactorsChanged = "factors_changed",
        /// A sign-in proved more than before (step-up, re-authentication).
        SessionRaised = "session_raised",
        CodeReplay = "code_replay",
        RefreshReuse = "refresh_reuse",
        RefreshRevoked = "refresh_revoked",
        ClientAssertionReplay = "client_assertion_replay",
        ClientRegistered = "client_registered",
        ClientUpdated = "client_updated",
        ClientSettingsChanged = "client_settings_changed",
        /// An operator set or removed a client's opt-out from the strict
        /// defaults (`pkce`, `nonce`), or it was removed because the
        /// client became public.
        ClientCompatChanged = "client_compat_changed",
        ClientSecretRotated = "client_secret_rotated",
        ClientDeleted = "client_deleted",
        RegistrationTokenCreated = "registration_token_created",
        RegistrationTokenDeleted = "registration_token_deleted",
        AdminTokenCreated = "admin_token_created",
        AdminTokenDeleted = "admin_token_deleted",
        KeysRotated = "keys_rotated",
        KeyRevoked = "key_revoked",
        /// A user approved a device's request (RFC 8628).
        DeviceApproved = "device_approved",
        /// A user denied a device's request (RFC 8628).
        DeviceDenied = "device_denied",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_read_back() {
        for r in RevokeReason::ALL {
            assert_eq!(RevokeReason::parse(r.as_str()), Ok(r));
        }
        for e in AuditEvent::ALL {
            assert_eq!(e.as_str().parse::<AuditEvent>(), Ok(e));
        }
        assert!(RevokeReason::parse("because").is_err());
    }
}
