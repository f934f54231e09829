//! The ids Latchkey gives its own records, as owned newtypes so a session id
//! cannot be passed where a family id is expected. Each is opaque text:
//! any string read back from storage or from a token's claims is a valid
//! id, but it is built with an explicit `new`, never converted silently.
//! Ids the server mints come from the injected [`Random`].

use serde::Deserialize;

use crate::clock::Random;

macro_rules! id_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        latchkey_protocol::text_newtype!($(#[$meta])* $name);

        impl $name {
            /// An id read back from storage or from a token's claims.
            pub fn new(id: impl Into<String>) -> $name {
                $name(id.into())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map($name)
            }
        }
    };
}

/// A 128-bit random id (22 base64url characters), for the ids the server
/// mints itself.
macro_rules! random_id {
    ($name:ident) => {
        impl $name {
            /// A fresh id from the injected randomness.
            pub fn generate<R: Random + ?Sized>(random: &R) -> $name {
                $name(random.id())
            }
        }
    };
}

id_newtype!(
    /// A user's stable id: the `sub` of every token issued to them.
    UserId
);
id_newtype!(
    /// A browser session at Latchkey: the `sid` of its tokens.
    SessionId
);
random_id!(SessionId);
id_newtype!(
    /// A refresh family: one login grant's chain of refresh tokens.
    FamilyId
);
random_id!(FamilyId);
id_newtype!(
    /// An access token's (or logout token's) `jti`.
    Jti
);
random_id!(Jti);
id_newtype!(
    /// A signing key's id, the `kid` of the JWS header and the JWKS.
    Kid
);
random_id!(Kid);
id_newtype!(
    /// The stored form of a server-issued secret (authorization code,
    /// refresh token, session cookie): base64url of its SHA-256. Printing
    /// it reveals nothing about the secret.
    TokenHash
);

impl TokenHash {
    /// The hash under which `secret` is stored and looked up.
    pub fn of(secret: &str) -> TokenHash {
        TokenHash(latchkey_protocol::sha256_b64url(secret.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OsRandom;

    #[test]
    fn ids_serialise_as_their_bare_string() {
        let id = SessionId::new("s-1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"s-1\"");
        let back: SessionId = serde_json::from_str("\"s-1\"").unwrap();
        assert_eq!(back, id);
        assert_eq!(id.to_string(), "s-1");
        assert_eq!(format!("{id:?}"), "SessionId(\"s-1\")");
    }

    #[test]
    fn generated_ids_are_distinct_and_short() {
        let a = Jti::generate(&OsRandom);
        assert_eq!(a.as_str().len(), 22);
        assert_ne!(a, Jti::generate(&OsRandom));
    }

    #[test]
    fn token_hash_is_base64url_sha256() {
        // RFC 7636 Appendix B: the S256 of this verifier.
        assert_eq!(
            TokenHash::of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
