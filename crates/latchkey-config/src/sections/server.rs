//! Who the server is and where it listens: top-level `issuer`, `bind`,
//! `workers` and `trusted_proxies`. Every field is checked as it is parsed.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};
use url::Url;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Server {
    /// The issuer identifier relying parties see (`LATCHKEY_ISSUER`).
    pub issuer: Issuer,
    /// Address to listen on (`LATCHKEY_BIND`).
    #[serde(deserialize_with = "socket_addr")]
    pub bind: SocketAddr,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Reverse proxies whose `X-Forwarded-For` is believed: CIDR blocks or
    /// single addresses (`LATCHKEY_TRUSTED_PROXIES=10.0.0.0/8,192.0.2.7`).
    /// Empty (the default): the header is ignored and the client is the
    /// TCP peer.
    #[serde(deserialize_with = "cidr_blocks")]
    pub trusted_proxies: Vec<IpNet>,
    /// Where `/metrics` (Prometheus) is served (`LATCHKEY_METRICS_BIND`):
    /// a listener of its own, never the public one. Unset (the default):
    /// no metrics listener.
    #[serde(deserialize_with = "optional_socket_addr")]
    pub metrics_bind: Option<SocketAddr>,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            issuer: "http://127.0.0.1:8080".parse().expect("default issuer"),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 0,
            trusted_proxies: Vec::new(),
            metrics_bind: None,
        }
    }
}

/// An issuer identifier: an http or https URL with a host and nothing
/// after it (Latchkey serves its endpoints at the root).
///
/// The text is kept as written, less a trailing slash: relying parties
/// compare `iss` byte for byte with what they were configured with, so it
/// is not rewritten into the URL's normal form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    url: Url,
    text: String,
}

impl Issuer {
    /// The identifier, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The same issuer with port 0 (any free port, for tests) replaced by
    /// the port actually bound; any other issuer unchanged.
    pub fn with_bound_port(&self, port: u16) -> Issuer {
        match (self.url.port(), self.text.rsplit_once(':')) {
            (Some(0), Some((head, _))) => format!("{head}:{port}")
                .parse()
                .expect("an issuer with another port is still an issuer"),
            _ => self.clone(),
        }
    }
}

impl FromStr for Issuer {
    type Err = String;

    fn from_str(text: &str) -> Result<Issuer, String> {
        let url = Url::parse(text).map_err(|e| format!("not an absolute URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err("must be an http or https URL".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must not have a query or fragment".into());
        }
        if !matches!(url.path(), "" | "/") {
            return Err("must not have a path: Latchkey serves its endpoints at the root".into());
        }
        Ok(Issuer {
            url,
            text: text.trim_end_matches('/').to_owned(),
        })
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Issuer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

fn socket_addr<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    String::deserialize(d)?
        .parse()
        .map_err(|_| serde::de::Error::custom("must be an address:port such as 127.0.0.1:8080"))
}

fn optional_socket_addr<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| serde::de::Error::custom("must be an address:port such as 127.0.0.1:9464"))
}

fn cidr_blocks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    super::parsed_list(d, parse_cidr, |bad| {
        format!("{bad:?} is not a CIDR block (10.0.0.0/8) or an IP address")
    })
}

/// A CIDR block (`10.0.0.0/8`, `fd00::/8`) or one address (a /32 or
/// /128). Host bits below the prefix are dropped: `10.1.2.3/8` is
/// `10.0.0.0/8`.
pub fn parse_cidr(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .map(|net| net.trunc())
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prop_assert;

    #[test]
    fn an_issuer_keeps_its_text_less_a_trailing_slash() {
        let i: Issuer = "https://ID.example.com/".parse().unwrap();
        assert_eq!(i.as_str(), "https://ID.example.com");
        assert_eq!(i.url().host_str(), Some("id.example.com"));
        for bad in [
            "ftp://x",
            "https://x/?a=1",
            "https://x/#f",
            "https://x/app",
            "x",
        ] {
            assert!(bad.parse::<Issuer>().is_err(), "{bad}");
        }
    }

    #[test]
    fn port_zero_becomes_the_bound_port() {
        let i: Issuer = "http://127.0.0.1:0".parse().unwrap();
        assert_eq!(i.with_bound_port(4321).as_str(), "http://127.0.0.1:4321");
        let i: Issuer = "http://[::1]:0/".parse().unwrap();
        assert_eq!(i.with_bound_port(4321).as_str(), "http://[::1]:4321");
        let i: Issuer = "https://id.example.com".parse().unwrap();
        assert_eq!(i.with_bound_port(4321), i);
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_as_a_cidr_or_not_without_panicking(text in "\\PC*") {
            let _ = parse_cidr(&text);
        }

        #[test]
        fn cidr_like_text_never_panics(
            a in proptest::array::uniform4(0u16..300),
            prefix in 0u16..200,
            tail in "[0-9a-f:./ ]{0,12}",
        ) {
            let text = format!("{}.{}.{}.{}/{prefix}{tail}", a[0], a[1], a[2], a[3]);
            if let Some(net) = parse_cidr(&text) {
                prop_assert!(net.prefix_len() <= 32);
            }
        }
    }
}
