//! Reading requests strictly: the exact Content-Type, a size limit,
//! parameters parsed once with the protocol's duplicate rules, and the
//! credentials of the `Authorization` header.

use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::{Stream, StreamExt};
use latchkey_core::Latchkey;
use latchkey_protocol::bearer::parse_bearer;
use latchkey_protocol::{ErrorCode, OAuthError, Params};

use crate::error::ApiError;

/// The largest form body any endpoint accepts.
pub const MAX_FORM_BYTES: usize = 16 * 1024;
/// The longest query string `/authorize` accepts.
pub const MAX_QUERY_BYTES: usize = 8 * 1024;
/// The largest JSON body (registration and admin APIs) accepted.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

pub const FORM: &str = "application/x-www-form-urlencoded";
pub const JSON: &str = "application/json";

/// Whether the request declares exactly the media type `expected` (UTF-8
/// if a charset is given). A JSON endpoint thus refuses `text/plain` and
/// forms, which a browser can send cross-site without a preflight (CSRF).
pub fn declares(req: &HttpRequest, expected: &str) -> bool {
    let Some(ct) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = ct.split(';').map(str::trim);
    if !parts
        .next()
        .is_some_and(|m| m.eq_ignore_ascii_case(expected))
    {
        return false;
    }
    parts.all(|p| {
        p.split_once('=').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("charset")
                && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        })
    })
}

/// Reads a form body: wrong type or too large is `invalid_request`.
pub async fn read_form<E>(
    req: &HttpRequest,
    payload: impl Stream<Item = Result<Bytes, E>> + Unpin,
) -> Result<Params, OAuthError> {
    read_form_with(req, payload, Params::parse).await
}

/// Reads a form whose empty fields count (the profile form), as
/// [`read_form`] does otherwise.
pub async fn read_form_keeping_empty<E>(
    req: &HttpRequest,
    payload: impl Stream<Item = Result<Bytes, E>> + Unpin,
) -> Result<Params, OAuthError> {
    read_form_with(req, payload, Params::parse_keeping_empty).await
}

async fn read_form_with<E>(
    req: &HttpRequest,
    mut payload: impl Stream<Item = Result<Bytes, E>> + Unpin,
    parse: fn(&[u8]) -> Result<Params, OAuthError>,
) -> Result<Params, OAuthError> {
    if !declares(req, FORM) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let body = read_limited(&mut payload, MAX_FORM_BYTES).await?;
    parse(&body)
}

/// Reads a JSON body: wrong type or too large is `invalid_request`. The
/// bytes are parsed by the caller, into the type it expects.
pub async fn read_json<E>(
    req: &HttpRequest,
    mut payload: impl Stream<Item = Result<Bytes, E>> + Unpin,
) -> Result<Vec<u8>, OAuthError> {
    if !declares(req, JSON) {
        return Err(OAuthError::invalid_request(
            "the body must be application/json",
        ));
    }
    read_limited(&mut payload, MAX_JSON_BYTES).await
}

/// A JSON body, read by [`read_json`] before the handler runs.
pub struct JsonBody(pub Vec<u8>);

impl FromRequest for JsonBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<JsonBody, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move { Ok(JsonBody(read_json(&req, payload).await?)) })
    }
}

/// Reads a body of any type up to `limit` bytes.
pub async fn read_limited<E>(
    payload: &mut (impl Stream<Item = Result<Bytes, E>> + Unpin),
    limit: usize,
) -> Result<Vec<u8>, OAuthError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| OAuthError::invalid_request("could not read the request body"))?;
        if body.len() + chunk.len() > limit {
            return Err(OAuthError::invalid_request("the request body is too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub fn query(req: &HttpRequest) -> Result<Params, OAuthError> {
    let q = req.query_string();
    if q.len() > MAX_QUERY_BYTES {
        return Err(OAuthError::invalid_request("the query string is too long"));
    }
    Params::parse(q.as_bytes())
}

pub fn header_str(req: &HttpRequest, name: header::HeaderName) -> Result<Option<&str>, OAuthError> {
    let mut values = req.headers().get_all(&name);
    let first = values.next();
    if values.next().is_some() {
        return Err(OAuthError::invalid_request(format!(
            "repeated {name} header"
        )));
    }
    first
        .map(|v| {
            v.to_str()
                .map_err(|_| OAuthError::invalid_request(format!("malformed {name} header")))
        })
        .transpose()
}

/// The future of an extractor that checks its caller with the core:
/// `check` gets its own handle on the request and the core the routes were
/// mounted with (a bare `server_error` if there is none).
pub fn with_core<T, F>(
    req: &HttpRequest,
    check: impl FnOnce(HttpRequest, web::Data<Latchkey>) -> F + 'static,
) -> LocalBoxFuture<'static, Result<T, ApiError>>
where
    F: Future<Output = Result<T, ApiError>> + 'static,
{
    let req = req.clone();
    Box::pin(async move {
        let app = req
            .app_data::<web::Data<Latchkey>>()
            .cloned()
            .ok_or(ApiError::Json(OAuthError::bare(ErrorCode::ServerError)))?;
        check(req, app).await
    })
}

/// The Bearer token of the request: `Ok(None)` when there is no
/// `Authorization` header, an error when it is malformed or not Bearer.
pub fn bearer(req: &HttpRequest) -> Result<Option<&str>, OAuthError> {
    match header_str(req, header::AUTHORIZATION)? {
        None => Ok(None),
        Some(h) => parse_bearer(h).map(Some),
    }
}

/// The Bearer token a protected resource requires: none at all is a bare
/// challenge, a malformed one a challenge with its error.
pub fn required_bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    bearer(req)
        .map_err(|e| ApiError::Bearer(Some(e)))?
        .ok_or(ApiError::Bearer(None))
}

/// The client's address, as the login throttle counts it: the TCP peer,
/// or, when the peer is one of the [`TrustedProxies`] registered as app
/// data, the address it forwarded.
pub fn client_ip(req: &HttpRequest) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".into();
    };
    let forwarded = req.headers().get_all(X_FORWARDED_FOR).map(|v| v.as_bytes());
    match req.app_data::<web::Data<TrustedProxies>>() {
        Some(trusted) => trusted.client_address(peer, forwarded),
        None => peer.to_canonical(),
    }
    .to_string()
}

const X_FORWARDED_FOR: header::HeaderName = header::HeaderName::from_static("x-forwarded-for");

/// The reverse proxies whose `X-Forwarded-For` is believed
/// (`trusted_proxies`).
///
/// Anyone can send the header, so it is read only when the TCP peer is one
/// of these proxies. Each proxy appends the address it got the request
/// from, so the list is read from the right: past the entries the trusted
/// proxies wrote, the first address is the client's; whatever stands left
/// of it the client wrote, and is ignored. Several header lines are one
/// list, in order (RFC 9110 §5.3). An entry may be an address, with or
/// without a port (`192.0.2.7:4711`, `[2001:db8::7]:4711`); empty entries
/// are skipped. An entry that is not an address (`unknown`, a name,
/// garbage) ends the walk: the client is then the last hop known, a
/// trusted proxy, whose count is shared but which no one can step out of
/// by writing garbage. `Forwarded` (RFC 7239) is not read.
///
/// The header has no parser of its own in actix-web that heeds trust
/// (`ConnectionInfo::realip_remote_addr` takes the left-most entry, which
/// the client chooses); this one splits on commas and leaves addresses to
/// the standard library.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<ipnet::IpNet>) -> TrustedProxies {
        TrustedProxies(networks)
    }

    pub(crate) fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address, given the TCP peer and the `X-Forwarded-For`
    /// header lines in the order received.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded: impl Iterator<Item = &'a [u8]>,
    ) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let entries: Vec<&[u8]> = forwarded
            .flat_map(|line| line.split(|&b| b == b','))
            .collect();
        for entry in entries.into_iter().rev() {
            let entry = entry.trim_ascii();
            if entry.is_empty() {
                continue;
            }
            let Some(hop) = forwarded_address(entry) else {
                break;
            };
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, with or without a port.
fn forwarded_address(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?;
    let ip = text
        .parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()
        .or_else(|| {
            let inner = text.strip_prefix('[')?.strip_suffix(']')?;
            inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        })?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn client(t: &TrustedProxies, peer: &str, lines: &[&str]) -> String {
        t.client_address(ip(peer), lines.iter().map(|l| l.as_bytes()))
            .to_string()
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let t = proxies(&["10.0.0.0/24"]);
        assert_eq!(client(&t, "192.0.2.9", &["203.0.113.5"]), "192.0.2.9");
        assert_eq!(client(&t, "10.0.0.2", &["203.0.113.5"]), "203.0.113.5");
        assert_eq!(client(&t, "10.0.0.2", &[]), "10.0.0.2");
        let none = TrustedProxies::default();
        assert_eq!(client(&none, "10.0.0.2", &["203.0.113.5"]), "10.0.0.2");
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_entry() {
        let t = proxies(&["10.0.0.0/24", "fd00::/8"]);
        // The client wrote "1.1.1.1" itself; the proxies appended the rest.
        let lines = ["1.1.1.1, 203.0.113.5, 10.0.0.7"];
        assert_eq!(client(&t, "10.0.0.2", &lines), "203.0.113.5");
        // Several lines are one list, in order.
        let lines = ["1.1.1.1", "203.0.113.5", "fd00::3"];
        assert_eq!(client(&t, "10.0.0.2", &lines), "203.0.113.5");
        // Every hop trusted: the furthest one.
        assert_eq!(client(&t, "10.0.0.2", &["10.0.0.9, 10.0.0.8"]), "10.0.0.9");
    }

    #[test]
    fn ports_brackets_spaces_and_mapped_addresses_are_read() {
        let t = proxies(&["10.0.0.0/24"]);
        assert_eq!(client(&t, "10.0.0.2", &["203.0.113.5:4711"]), "203.0.113.5");
        assert_eq!(client(&t, "10.0.0.2", &["[2001:db8::7]:80"]), "2001:db8::7");
        assert_eq!(client(&t, "10.0.0.2", &["[2001:db8::7]"]), "2001:db8::7");
        assert_eq!(client(&t, "10.0.0.2", &[" 203.0.113.5 ,, "]), "203.0.113.5");
        assert_eq!(
            client(&t, "::ffff:10.0.0.2", &["::ffff:203.0.113.5"]),
            "203.0.113.5"
        );
    }

    #[test]
    fn garbage_ends_the_walk_at_the_last_known_hop() {
        let t = proxies(&["10.0.0.0/24"]);
        for garbage in [
            "unknown",
            "_hidden",
            "evil.example",
            "1.2.3.4.5",
            "fe80::1%eth0",
        ] {
            let line = format!("203.0.113.5, {garbage}");
            assert_eq!(client(&t, "10.0.0.2", &[&line]), "10.0.0.2", "{garbage}");
        }
        let bytes: &[&[u8]] = &[b"\xff\xfe, 203.0.113.5", b"\xff"];
        assert_eq!(
            t.client_address(ip("10.0.0.2"), bytes.iter().copied()),
            ip("10.0.0.2")
        );
    }

    fn network() -> impl Strategy<Value = ipnet::IpNet> {
        prop_oneof![
            (any::<[u8; 4]>(), 0u8..=32)
                .prop_map(|(a, p)| ipnet::IpNet::V4(ipnet::Ipv4Net::new(a.into(), p).unwrap())),
            (any::<[u8; 16]>(), 0u8..=128)
                .prop_map(|(a, p)| ipnet::IpNet::V6(ipnet::Ipv6Net::new(a.into(), p).unwrap())),
        ]
    }

    /// Header lines: arbitrary bytes, or lists of addresses with noise.
    fn lines() -> impl Strategy<Value = Vec<Vec<u8>>> {
        let entry = prop_oneof![
            any::<IpAddr>().prop_map(|a| a.to_string()),
            (any::<IpAddr>(), any::<u16>()).prop_map(|(a, p)| SocketAddr::new(a, p).to_string()),
            "[ ,\\[\\]:%0-9a-fA-F.]{0,12}",
            "\\PC{0,8}",
        ];
        let line = prop_oneof![
            proptest::collection::vec(entry, 0..8).prop_map(|e| e.join(",").into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..64),
        ];
        proptest::collection::vec(line, 0..5)
    }

    proptest! {
        #[test]
        fn any_header_yields_the_peer_or_one_of_its_entries(
            peer in any::<IpAddr>(),
            nets in proptest::collection::vec(network(), 0..4),
            lines in lines(),
        ) {
            let t = TrustedProxies::new(nets);
            let got = t.client_address(peer, lines.iter().map(Vec::as_slice));
            let entries: Vec<IpAddr> = lines
                .iter()
                .flat_map(|l| l.split(|&b| b == b','))
                .filter_map(|e| forwarded_address(e.trim_ascii()))
                .collect();
            prop_assert!(got == peer.to_canonical() || entries.contains(&got));
            if !t.trusts(peer.to_canonical()) {
                prop_assert_eq!(got, peer.to_canonical());
            }
        }

        #[test]
        fn any_entry_parses_or_not_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = forwarded_address(&bytes);
        }
    }
}
