//! The protocol's vocabularies, one enum each: the names registered with
//! IANA (or fixed by the RFCs) for grant types, client authentication
//! methods, response types and modes, token type hints, JWS algorithms and
//! `prompt` values.
//!
//! Every enum parses only its exact, case-sensitive names and serialises to
//! them, so configuration, storage, registration and discovery all speak
//! through the same type: a name outside the vocabulary is an error where
//! it is read, never a silent default.

use std::fmt;

/// A name that is not in a vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// What was being read (`grant type`, `signing algorithm`, ...).
    pub vocabulary: &'static str,
    /// The name as given, cut to 64 characters.
    pub value: String,
    /// The names Latchkey knows.
    pub expected: &'static [&'static str],
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a supported {} (one of: {})",
            self.value,
            self.vocabulary,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for UnknownName {}

/// Declares a vocabulary: the enum, its wire names, parsing, `Display`,
/// `FromStr` and serde (as the wire name; unknown names refused). Other
/// crates use it for their own closed sets of names (revocation reasons,
/// audit events); they need `serde` as a dependency.
#[macro_export]
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident as $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every wire name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[ $( $text, )+ ];
            /// Every value, in declaration order.
            pub const ALL: [$name; $name::NAMES.len()] = [ $( $name::$variant, )+ ];

            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// Exact, case-sensitive wire names only.
            pub fn parse(s: &str) -> Result<$name, $crate::vocabulary::UnknownName> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err($crate::vocabulary::UnknownName {
                        vocabulary: $what,
                        value: s.chars().take(64).collect(),
                        expected: $name::NAMES,
                    }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::vocabulary::UnknownName;
            fn from_str(s: &str) -> Result<$name, $crate::vocabulary::UnknownName> {
                $name::parse(s)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                $name::parse(&s).map_err(::serde::de::Error::custom)
            }
        }
    };
}

vocabulary! {
    /// `grant_type` (RFC 6749 §4, RFC 7591 §2): the grants a client may
    /// register for and use at the token endpoint.
    pub enum GrantType as "grant type" {
        AuthorizationCode = "authorization_code",
        ClientCredentials = "client_credentials",
        RefreshToken = "refresh_token",
        /// OAuth 2.0 Device Authorization Grant (RFC 8628 §3.4).
        DeviceCode = "urn:ietf:params:oauth:grant-type:device_code",
    }
}

impl GrantType {
    /// A grant type as an operator types it on the command line: its
    /// registered name, or `device_code` for the device grant's URN.
    pub fn parse_short(s: &str) -> Result<GrantType, UnknownName> {
        match s {
            "device_code" => Ok(GrantType::DeviceCode),
            _ => GrantType::parse(s),
        }
    }
}

vocabulary! {
    /// `token_endpoint_auth_method` (RFC 7591 §2, OIDC Core §9): how a
    /// client authenticates at the token, revocation and introspection
    /// endpoints.
    pub enum ClientAuthMethod as "client authentication method" {
        ClientSecretBasic = "client_secret_basic",
        ClientSecretPost = "client_secret_post",
        PrivateKeyJwt = "private_key_jwt",
        /// A public client: no secret; PKCE protects its codes.
        None = "none",
    }
}

impl ClientAuthMethod {
    /// Whether the client authenticates with a secret Latchkey issues.
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost
        )
    }

    pub fn is_public(self) -> bool {
        self == ClientAuthMethod::None
    }
}

vocabulary! {
    /// `response_type` (RFC 6749 §3.1.1): the code flow only; the implicit
    /// and hybrid flows put tokens in the browser and are not offered.
    pub enum ResponseType as "response type" {
        Code = "code",
    }
}

vocabulary! {
    /// `response_mode` (OAuth 2.0 Multiple Response Type Encoding
    /// Practices §2.1): how the authorization response travels back.
    /// `fragment` is not offered: it exists for the implicit and hybrid
    /// flows, which Latchkey does not serve.
    pub enum ResponseMode as "response mode" {
        Query = "query",
        /// OAuth 2.0 Form Post Response Mode: an HTML form, submitted by
        /// the browser, posts the answer to the redirect URI.
        FormPost = "form_post",
    }
}

vocabulary! {
    /// `token_type_hint` (RFC 7009 §2.1, RFC 7662 §2.1).
    pub enum TokenTypeHint as "token type hint" {
        AccessToken = "access_token",
        RefreshToken = "refresh_token",
    }
}

impl TokenTypeHint {
    /// The `token_type_hint` parameter as a hint: one Latchkey does not
    /// know is ignored and every kind is searched (RFC 7009 §2.1, RFC 7662
    /// §2.1), so it is never an error.
    pub fn from_param(hint: Option<&str>) -> Option<TokenTypeHint> {
        hint.and_then(|h| TokenTypeHint::parse(h).ok())
    }
}

vocabulary! {
    /// The JWS algorithms Latchkey signs with and accepts (RFC 7518 §3,
    /// RFC 8037). `none` and the HMAC algorithms are not in the list, so
    /// they cannot be configured, registered or accepted.
    pub enum SigningAlg as "signing algorithm" {
        /// RSASSA-PKCS1-v1_5 with SHA-256: the algorithm OpenID Connect
        /// requires every provider to support, the default for
        /// interoperability.
        RS256 = "RS256",
        /// RSASSA-PSS with SHA-256.
        PS256 = "PS256",
        /// ECDSA on P-256 with SHA-256.
        ES256 = "ES256",
        /// Ed25519.
        EdDSA = "EdDSA",
    }
}

vocabulary! {
    /// One `prompt` value (OIDC Core §3.1.2.1).
    pub enum Prompt as "prompt value" {
        None = "none",
        Login = "login",
        Consent = "consent",
        SelectAccount = "select_account",
    }
}

vocabulary! {
    /// Whether a client must send a protocol element that Latchkey asks of
    /// every client by default (PKCE, `nonce`). `Optional` is an operator's
    /// per-client opt-out, for confidential clients only.
    pub enum Requirement as "requirement" {
        Required = "required",
        Optional = "optional",
    }
}

impl Requirement {
    pub fn is_optional(self) -> bool {
        self == Requirement::Optional
    }
}

impl Default for Requirement {
    /// Strict unless an operator says otherwise.
    fn default() -> Requirement {
        Requirement::Required
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_and_near_misses_are_refused() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::parse(g.as_str()), Ok(g));
            let json = serde_json::to_string(&g).unwrap();
            assert_eq!(serde_json::from_str::<GrantType>(&json).unwrap(), g);
        }
        for alg in SigningAlg::ALL {
            assert_eq!(alg.as_str().parse::<SigningAlg>(), Ok(alg));
        }
        for bad in ["none", "HS256", "rs256", "RS256 ", ""] {
            let e = SigningAlg::parse(bad).unwrap_err();
            assert!(e.to_string().contains("RS256, PS256, ES256, EdDSA"), "{e}");
        }
        assert!(ClientAuthMethod::parse("client_secret_jwt").is_err());
        assert!(ResponseType::parse("token").is_err());
        assert!(ResponseType::parse("code id_token").is_err());
        assert!(serde_json::from_str::<GrantType>("\"implicit\"").is_err());
        assert!(serde_json::from_str::<GrantType>("\"password\"").is_err());
        assert!(GrantType::parse("device_code").is_err());
        assert_eq!(
            GrantType::parse_short("device_code"),
            Ok(GrantType::DeviceCode)
        );
        assert_eq!(
            GrantType::parse_short(GrantType::DeviceCode.as_str()),
            Ok(GrantType::DeviceCode)
        );
        assert!(GrantType::parse_short("Device_code").is_err());
        assert_eq!(Requirement::default(), Requirement::Required);
        assert!(Requirement::parse("Optional").is_err());
    }

    #[test]
    fn only_secret_methods_use_secrets() {
        let secret: Vec<_> = ClientAuthMethod::ALL
            .into_iter()
            .filter(|m| m.uses_secret())
            .collect();
        assert_eq!(
            secret,
            [
                ClientAuthMethod::ClientSecretBasic,
                ClientAuthMethod::ClientSecretPost
            ]
        );
        assert!(ClientAuthMethod::None.is_public());
    }
}
