//! Owned newtypes for the values OAuth passes around. Each can only be built
//! through its parser, so holding one means it was checked.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, OAuthError};

fn is_vschar(c: char) -> bool {
    ('\x20'..='\x7e').contains(&c)
}

/// Declares an owned text newtype: the struct (serialised as its text) with
/// `as_str`, `into_string`, `Display`, a `Debug` that names the type, and
/// `AsRef<str>`. How it may be built and deserialised is the declaring
/// crate's choice: the protocol's values only through their parsers, the
/// domain's ids through an explicit `new`.
#[macro_export]
macro_rules! text_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// A protocol value: a [`text_newtype!`] deserialised only through its
/// `parse`.
macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $crate::text_newtype!($(#[$meta])* $name);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).map_err(|e| serde::de::Error::custom(e))
            }
        }
    };
}

string_newtype!(
    /// RFC 6749 §2.2: 1 to 128 visible ASCII characters, no spaces.
    ClientId
);

impl ClientId {
    pub fn parse(s: &str) -> Result<ClientId, OAuthError> {
        if s.is_empty() || s.len() > 128 || !s.chars().all(|c| c.is_ascii_graphic()) {
            return Err(OAuthError::invalid_request("malformed client_id"));
        }
        Ok(ClientId(s.to_owned()))
    }
}

string_newtype!(
    /// An opaque value the client gets back unchanged (RFC 6749 §4.1.1).
    /// Latchkey requires it on every authorization request.
    State
);

impl State {
    pub fn parse(s: &str) -> Result<State, OAuthError> {
        if s.is_empty() || s.len() > 512 || !s.chars().all(is_vschar) {
            return Err(OAuthError::invalid_request("malformed state"));
        }
        Ok(State(s.to_owned()))
    }
}

string_newtype!(
    /// OIDC Core §3.1.2.1 nonce, required by Latchkey whenever `openid` is
    /// requested.
    Nonce
);

impl Nonce {
    pub fn parse(s: &str) -> Result<Nonce, OAuthError> {
        if s.is_empty() || s.len() > 512 || !s.chars().all(is_vschar) {
            return Err(OAuthError::invalid_request("malformed nonce"));
        }
        Ok(Nonce(s.to_owned()))
    }
}

string_newtype!(
    /// An absolute redirect URI without a fragment (RFC 6749 §3.1.2). It
    /// keeps the exact text it was parsed from: matching is byte for byte.
    RedirectUri
);

/// Why a URI may not be registered as a redirect URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("not an absolute URI")]
    NotAbsolute,
    #[error("must not contain a fragment")]
    Fragment,
    #[error("longer than 2048 characters")]
    TooLong,
    #[error("must use https (http is allowed only for 127.0.0.1, [::1] and localhost)")]
    InsecureScheme,
    #[error("a private-use scheme is allowed only for public (native) clients")]
    PrivateSchemeForConfidentialClient,
    #[error("must not contain user information")]
    UserInfo,
}

impl RedirectUri {
    pub fn parse(s: &str) -> Result<RedirectUri, OAuthError> {
        Self::parse_inner(s).map_err(|e| OAuthError::invalid_request(format!("redirect_uri {e}")))
    }

    fn parse_inner(s: &str) -> Result<RedirectUri, RedirectUriError> {
        if s.len() > 2048 {
            return Err(RedirectUriError::TooLong);
        }
        if s.contains('#') {
            return Err(RedirectUriError::Fragment);
        }
        // Compared byte for byte and echoed into pages and headers: no
        // control characters (a URL parser would quietly drop some).
        if s.chars().any(char::is_control) {
            return Err(RedirectUriError::NotAbsolute);
        }
        let url = url::Url::parse(s).map_err(|_| RedirectUriError::NotAbsolute)?;
        if url.cannot_be_a_base() && !url.scheme().contains('.') {
            return Err(RedirectUriError::NotAbsolute);
        }
        Ok(RedirectUri(s.to_owned()))
    }

    /// The rules for registering a redirect URI (RFC 8252 §7, RFC 9700
    /// §2.1): https, or http on a loopback host, or a private-use
    /// (reverse-domain) scheme for a public native client.
    pub fn parse_registrable(
        s: &str,
        public_client: bool,
    ) -> Result<RedirectUri, RedirectUriError> {
        let uri = Self::parse_inner(s)?;
        let url = uri.url();
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RedirectUriError::UserInfo);
        }
        match url.scheme() {
            "https" => {}
            "http" => match url.host() {
                Some(url::Host::Ipv4(ip)) if ip.is_loopback() => {}
                Some(url::Host::Ipv6(ip)) if ip.is_loopback() => {}
                Some(url::Host::Domain("localhost")) => {}
                _ => return Err(RedirectUriError::InsecureScheme),
            },
            scheme if scheme.contains('.') => {
                if !public_client {
                    return Err(RedirectUriError::PrivateSchemeForConfidentialClient);
                }
            }
            _ => return Err(RedirectUriError::InsecureScheme),
        }
        Ok(uri)
    }

    /// Whether a response sent here can reach only the client that
    /// registered it: an https URI names a host the client controls, but
    /// any program on the user's device can listen on a loopback port or
    /// claim a private-use scheme (RFC 8252 §8.6).
    pub fn reaches_only_its_client(&self) -> bool {
        self.url().scheme() == "https"
    }

    /// The URI as a `url::Url`, for appending response parameters.
    pub fn url(&self) -> url::Url {
        // Checked at parse time.
        url::Url::parse(&self.0).expect("a RedirectUri is always a valid URL")
    }

    /// Where this URI points, as a Content-Security-Policy source: the
    /// origin (`https://app.example.com:8443`), or the scheme alone
    /// (`com.example.app:`) for a private-use scheme. Only characters a
    /// CSP source may hold come out, so it cannot add a directive.
    pub fn csp_source(&self) -> Option<String> {
        let url = self.url();
        let source = match url.origin() {
            url::Origin::Tuple(..) => url.origin().ascii_serialization(),
            url::Origin::Opaque(_) => format!("{}:", url.scheme()),
        };
        source
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.:/[]".contains(&b))
            .then_some(source)
    }
}

/// One scope token (RFC 6749 §3.3): `%x21 / %x23-5B / %x5D-7E`, at least one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ScopeToken(String);

impl ScopeToken {
    pub fn parse(s: &str) -> Option<ScopeToken> {
        let ok = !s.is_empty()
            && s.len() <= 128
            && s.chars().all(|c| {
                c == '\x21' || ('\x23'..='\x5b').contains(&c) || ('\x5d'..='\x7e').contains(&c)
            });
        ok.then(|| ScopeToken(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A set of scope tokens, ordered so that its text form is canonical.
#[derive(Clone, PartialEq, Eq, Hash, Default, Debug)]
pub struct Scope(BTreeSet<ScopeToken>);

impl Scope {
    pub const OPENID: &'static str = "openid";
    pub const OFFLINE_ACCESS: &'static str = "offline_access";

    /// Parses a space-delimited scope string strictly: one space between
    /// tokens, no empty tokens.
    pub fn parse(s: &str) -> Result<Scope, OAuthError> {
        let mut set = BTreeSet::new();
        for part in s.split(' ') {
            let token = ScopeToken::parse(part)
                .ok_or_else(|| OAuthError::new(ErrorCode::InvalidScope, "malformed scope"))?;
            set.insert(token);
        }
        if set.len() > 64 {
            return Err(OAuthError::new(ErrorCode::InvalidScope, "too many scopes"));
        }
        Ok(Scope(set))
    }

    pub fn empty() -> Scope {
        Scope(BTreeSet::new())
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t.0 == token)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn intersection(&self, other: &Scope) -> Scope {
        Scope(self.0.intersection(&other.0).cloned().collect())
    }

    pub fn union(&self, other: &Scope) -> Scope {
        Scope(self.0.union(&other.0).cloned().collect())
    }

    /// The tokens `keep` says yes to.
    pub fn filter(&self, keep: impl Fn(&str) -> bool) -> Scope {
        Scope(
            self.0
                .iter()
                .filter(|t| keep(t.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// Tokens in `self` that are not in `other`.
    pub fn difference<'a>(&'a self, other: &Scope) -> Vec<&'a str> {
        self.0
            .iter()
            .filter(|t| !other.0.contains(*t))
            .map(|t| t.as_str())
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|t| t.as_str())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(&t.0)?;
        }
        Ok(())
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Ok(Scope::empty());
        }
        Scope::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_rules() {
        assert!(ClientId::parse("abc-123_x.y").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("has space").is_err());
        assert!(ClientId::parse("é").is_err());
        assert!(ClientId::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn state_and_nonce_rules() {
        assert!(State::parse("xyz 123").is_ok());
        assert!(State::parse("").is_err());
        assert!(State::parse("a\nb").is_err());
        assert!(State::parse(&"a".repeat(513)).is_err());
        assert!(Nonce::parse("n-0S6_WzA2Mj").is_ok());
        assert!(Nonce::parse("\u{7f}").is_err());
    }

    #[test]
    fn redirect_uri_keeps_exact_text() {
        let r = RedirectUri::parse("https://App.example.com/cb?x=1").unwrap();
        assert_eq!(r.as_str(), "https://App.example.com/cb?x=1");
    }

    #[test]
    fn redirect_uri_refuses_fragment_and_relative() {
        assert!(RedirectUri::parse("https://a.example/cb#frag").is_err());
        assert!(RedirectUri::parse("/cb").is_err());
        assert!(RedirectUri::parse("cb").is_err());
        assert!(RedirectUri::parse(&format!("https://a.example/{}", "x".repeat(2100))).is_err());
    }

    #[test]
    fn registrable_redirect_uris() {
        for ok in [
            "https://app.example.com/cb",
            "http://127.0.0.1:8000/cb",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
        ] {
            assert!(RedirectUri::parse_registrable(ok, false).is_ok(), "{ok}");
        }
        assert_eq!(
            RedirectUri::parse_registrable("http://app.example.com/cb", false),
            Err(RedirectUriError::InsecureScheme)
        );
        assert_eq!(
            RedirectUri::parse_registrable("http://127.0.0.1.evil.example/cb", false),
            Err(RedirectUriError::InsecureScheme)
        );
        assert_eq!(
            RedirectUri::parse_registrable("com.example.app:/cb", false),
            Err(RedirectUriError::PrivateSchemeForConfidentialClient)
        );
        assert!(RedirectUri::parse_registrable("com.example.app:/cb", true).is_ok());
        assert_eq!(
            RedirectUri::parse_registrable("javascript:alert(1)", true),
            Err(RedirectUriError::NotAbsolute)
        );
        assert_eq!(
            RedirectUri::parse_registrable("https://user:pw@app.example.com/cb", false),
            Err(RedirectUriError::UserInfo)
        );
        assert_eq!(
            RedirectUri::parse_registrable("https://a.example/cb#x", false),
            Err(RedirectUriError::Fragment)
        );
    }

    #[test]
    fn scope_is_a_canonical_set() {
        let s = Scope::parse("profile openid email openid").unwrap();
        assert_eq!(s.to_string(), "email openid profile");
        assert_eq!(s.len(), 3);
        assert!(s.contains("openid"));
        let narrow = Scope::parse("openid").unwrap();
        assert!(narrow.is_subset(&s));
        assert!(!s.is_subset(&narrow));
        assert_eq!(s.difference(&narrow), vec!["email", "profile"]);
    }

    #[test]
    fn scope_refuses_bad_tokens() {
        for bad in ["", "openid  profile", " openid", "open\"id", "a\\b", "é"] {
            let e = Scope::parse(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidScope, "{bad:?}");
        }
    }
}

/// Why a name an application gives itself cannot be shown to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayNameError {
    /// Empty, or longer than 200 characters.
    Length,
    /// Control, bidirectional-override, zero-width or separator characters:
    /// they let a name reorder or hide the text around it on a page
    /// (U+202E turns "moc.knab" into "bank.com").
    Invisible,
    /// It names Latchkey itself, as if the page were not the application's,
    /// in any letters that look alike (Unicode TR39 confusable skeletons:
    /// "L\u{0430}tchkey" with a Cyrillic а, "Iatchkey" with a capital I).
    Impersonation,
    /// A word mixes scripts (Latin with Cyrillic or Greek letters, say): the
    /// way look-alike names are spelt.
    MixedScript,
}

impl std::fmt::Display for DisplayNameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DisplayNameError::Length => "must be 1-200 characters",
            DisplayNameError::Invisible => {
                "must not contain control, bidirectional, zero-width or separator characters"
            }
            DisplayNameError::Impersonation => "must not name this authorization server",
            DisplayNameError::MixedScript => "must not mix scripts within a word",
        })
    }
}

/// Whether `c` changes how the text around it is shown without being seen.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}')
}

/// What a text looks like, case aside: its TR39 confusable skeleton, taken
/// both before and after lowercasing (a capital I looks like an l, and
/// only the skeleton of the original says so).
fn look_alike_forms(text: &str) -> [String; 2] {
    let skeleton = |t: &str| unicode_security::skeleton(t).collect::<String>();
    [
        skeleton(&text.to_lowercase()),
        skeleton(&skeleton(text).to_lowercase()),
    ]
}

/// The letters a reader takes in, the rest aside: compatibility forms
/// folded (circled, fullwidth), accents dropped, the stroked letters and
/// digits that stand in for plain ones read as those, and everything that
/// belongs to no script (spaces, punctuation, symbols, modifier letters
/// such as ʻ) left out.
fn squeezed(text: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    use unicode_script::{Script, UnicodeScript};
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ł' | 'ŀ' | 'ƚ' | '1' | '|' => 'l',
            'ø' | '0' => 'o',
            'đ' => 'd',
            'ħ' => 'h',
            'ŧ' | '7' => 't',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            c => c,
        })
        .filter(|c| {
            c.is_alphanumeric() && !matches!(c.script(), Script::Common | Script::Inherited)
        })
        .collect()
}

/// Whether `text` holds "latchkey" where each letter is either itself or
/// a Latin letter outside ASCII: small capitals (ʟᴀᴛᴄʜᴋᴇʏ), turned and
/// hooked letters (ǝ, ƈ) and the like read as some Latin letter, and no
/// table lists them all. A real name rarely has eight such letters in a
/// row, so this refuses little else.
fn latin_stand_ins_for(text: &str, target: &str) -> bool {
    use unicode_script::{Script, UnicodeScript};
    let text: Vec<char> = text.chars().collect();
    let target: Vec<char> = target.chars().collect();
    text.windows(target.len()).any(|w| {
        w.iter()
            .zip(&target)
            .all(|(c, t)| c == t || (!c.is_ascii() && c.script() == Script::Latin))
    })
}

/// Whether `name` reads as "Latchkey" somewhere, in any case, in any
/// letters that look alike, with any accents, and however it is spaced or
/// punctuated ("Latch-key", "L a t c h k e y").
fn names_latchkey(name: &str) -> bool {
    let [target, _] = look_alike_forms("latchkey");
    let squeezed = squeezed(name);
    latin_stand_ins_for(&squeezed, "latchkey")
        || look_alike_forms(name)
            .iter()
            .chain(look_alike_forms(&squeezed).iter())
            .any(|f| f.contains(&target))
}

/// Checks a client's display name (`client_name`). With `registrant`, the
/// name comes from someone the operator does not vouch for: it may not
/// claim to be Latchkey, even in look-alike letters, nor mix scripts within
/// a word beyond what TR39 calls highly restrictive ("Приложение 日本" and
/// "Google翻訳" are fine, a Latin word with a Cyrillic letter in it is not).
pub fn check_display_name(name: &str, registrant: bool) -> Result<&str, DisplayNameError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(DisplayNameError::Length);
    }
    if name.chars().any(is_invisible) {
        return Err(DisplayNameError::Invisible);
    }
    if registrant && names_latchkey(name) {
        return Err(DisplayNameError::Impersonation);
    }
    if registrant && !name.split_whitespace().all(one_script) {
        return Err(DisplayNameError::MixedScript);
    }
    Ok(name)
}

/// One script, or Latin with Han, Japanese or Korean (TR39 "highly
/// restrictive", the mixes those languages write every day). Punctuation
/// and symbols, which belong to no script, are left aside.
fn one_script(word: &str) -> bool {
    use unicode_security::{MixedScript, RestrictionLevel, RestrictionLevelDetection};

    if word.is_single_script() {
        return true;
    }
    let letters: String = word.chars().filter(|c| c.is_alphanumeric()).collect();
    letters
        .as_str()
        .check_restriction_level(RestrictionLevel::HighlyRestrictive)
}

#[cfg(test)]
mod display_name_tests {
    use super::*;

    #[test]
    fn redirect_uris_with_control_characters_are_refused() {
        for bad in [
            "https://app.example.com/cb\u{0}",
            "https://app.example.com/c\tb",
            "https://app.example.com/cb\n",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad:?}");
        }
        assert!(RedirectUri::parse("https://app.example.com/cb").is_ok());
    }

    #[test]
    fn redirect_uris_give_their_origin_as_a_csp_source() {
        let src = |s: &str| RedirectUri::parse(s).unwrap().csp_source();
        assert_eq!(
            src("https://app.example.com:8443/cb?x=1").as_deref(),
            Some("https://app.example.com:8443")
        );
        assert_eq!(
            src("http://127.0.0.1:9/callback").as_deref(),
            Some("http://127.0.0.1:9")
        );
        assert_eq!(src("http://[::1]/cb").as_deref(), Some("http://[::1]"));
        assert_eq!(
            src("com.example.app:/cb").as_deref(),
            Some("com.example.app:")
        );
    }

    #[test]
    fn names_that_hide_or_impersonate_are_refused() {
        assert_eq!(check_display_name(" My app ", true), Ok("My app"));
        assert_eq!(
            check_display_name("Приложение 日本", true),
            Ok("Приложение 日本")
        );
        for bad in [
            "Evil\u{202E}moc.knab",
            "a\u{200B}b",
            "a\u{2066}b",
            "x\u{FEFF}",
            "x\ny",
        ] {
            assert_eq!(
                check_display_name(bad, false),
                Err(DisplayNameError::Invisible),
                "{bad:?}"
            );
        }
        assert_eq!(check_display_name("", true), Err(DisplayNameError::Length));
        assert_eq!(
            check_display_name(&"x".repeat(201), true),
            Err(DisplayNameError::Length)
        );
        assert_eq!(
            check_display_name("LatchKey sign-in", true),
            Err(DisplayNameError::Impersonation)
        );
        assert_eq!(
            check_display_name("Latchkey admin tool", false),
            Ok("Latchkey admin tool")
        );
    }

    #[test]
    fn look_alike_spellings_of_latchkey_are_refused_to_registrants() {
        for bad in [
            "L\u{0430}tchkey",       // Cyrillic а
            "LATCH\u{041A}EY",       // Cyrillic К
            "Latchk\u{0435}y login", // Cyrillic е
            "LATCH\u{212A}EY",       // Kelvin sign
            "Iatchkey",              // capital I for l
            "1atchkey",              // digit one for l
            "\u{FF2C}atchkey",       // fullwidth L
            "\u{217C}atchkey",       // small Roman numeral fifty
            "L\u{0251}tchkey",       // Latin alpha
            "Sign in to LATCHKEY",
            "Latchk\u{00E9}y", // e with an acute accent
            "\u{24C1}\u{24D0}\u{24E3}\u{24D2}\u{24D7}\u{24DA}\u{24D4}\u{24E8}", // circled
            "Latch key",
            "Latch-key",
            "L a t c h k e y",
            "\u{0141}atchkey", // L with a stroke
            "Lat\u{00E7}hkey", // c with a cedilla
            "Latchk3y",
            "L@tchkey",
            "\u{029F}\u{1D00}\u{1D1B}\u{1D04}\u{029C}\u{1D0B}\u{1D07}\u{028F}", // small capitals
            "Sign in to \u{029F}\u{1D00}\u{1D1B}\u{1D04}\u{029C}\u{1D0B}\u{1D07}\u{028F}",
            "La\u{1D1B}chkey",  // one small capital
            "Latchk\u{01DD}y",  // turned e
            "Latch\u{0138}ey",  // kra
            "Lat\u{0188}hkey",  // c with a hook
            "L\u{02BB}atchkey", // a modifier letter between
        ] {
            assert_eq!(
                check_display_name(bad, true),
                Err(DisplayNameError::Impersonation),
                "{bad:?}"
            );
        }
        for fine in [
            "Latch",
            "Keychain",
            "Hatchkey",
            "Matchbox",
            "Key latch",
            "Straße Café",
            "Приложение",
            "Ωμέγα Λατρεία",
        ] {
            assert_eq!(check_display_name(fine, true), Ok(fine), "{fine:?}");
        }
    }

    #[test]
    fn registrants_may_not_mix_scripts_within_a_word() {
        for bad in ["G\u{043E}\u{043E}gle", "P\u{0430}yPal", "\u{03B1}pple"] {
            assert_eq!(
                check_display_name(bad, true),
                Err(DisplayNameError::MixedScript),
                "{bad:?}"
            );
            assert_eq!(check_display_name(bad, false), Ok(bad), "{bad:?}");
        }
        for fine in [
            "Приложение 日本",
            "日本語のアプリ",
            "Café 2000",
            "Ελληνικά App",
            "x86-64 tools",
            "Paul's app \u{2615}",
            "Google翻訳",
            "Naver지도",
        ] {
            assert_eq!(check_display_name(fine, true), Ok(fine), "{fine:?}");
        }
    }
}
