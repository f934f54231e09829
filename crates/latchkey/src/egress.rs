//! The requests Latchkey sends on a client's behalf (fetching its
//! `jwks_uri`, posting to its `backchannel_logout_uri`), kept where the
//! client's [`Reach`] allows.
//!
//! For [`Reach::PublicOnly`] the URL must pass
//! [`latchkey_protocol::outbound::public_https_url`] (https, no internal
//! address literal, no local host name), and a host name is resolved here,
//! once per connection: every address it resolves to is checked with
//! [`forbidden_ip`], and the connection goes to exactly the addresses
//! checked (reqwest's resolver hook: nothing resolves the name a second
//! time, so a name that changes its answer between check and use, DNS
//! rebinding, gains nothing). No proxy is used, since a proxy would
//! connect to wherever it is asked; no redirect is followed.
//! [`Reach::Anywhere`] (an operator vouches for the client) keeps the same
//! limits of time and redirects, and connects where the URL says.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use latchkey_domain::Reach;
use latchkey_protocol::outbound::{forbidden_host_name, forbidden_ip, public_https_url, Range};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// How long a whole request may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(5);

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Turns a host name into addresses: the system's resolver, or a test's.
pub trait Lookup: Send + Sync + 'static {
    fn lookup(&self, host: String) -> BoxFuture<std::io::Result<Vec<IpAddr>>>;
}

/// The system's resolver (`getaddrinfo`, on tokio's blocking pool).
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: String) -> BoxFuture<std::io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// A request Latchkey refused to make: the target is not a public
/// address. Found in a failed request's error chain by [`is_refused`].
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused: {}", self.0)
    }
}

impl std::error::Error for Refused {}

/// Whether a request failed because its target was refused (as opposed to
/// an unreachable or failing receiver, which may recover).
pub fn is_refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut e = Some(err);
    while let Some(cur) = e {
        if cur.is::<Refused>() {
            return true;
        }
        e = cur.source();
    }
    false
}

/// An error with its causes, for a log line or a delivery's last error
/// (reqwest's own message leaves out why a connection failed).
pub fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut e = err.source();
    while let Some(cur) = e {
        text.push_str(": ");
        text.push_str(&cur.to_string());
        e = cur.source();
    }
    text
}

/// The resolver of [`Reach::PublicOnly`] requests: every address of the
/// name must be public, and those are the addresses connected to.
struct PublicOnlyResolver {
    lookup: Arc<dyn Lookup>,
    forbidden: fn(IpAddr) -> Option<Range>,
}

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let lookup = self.lookup.clone();
        let forbidden = self.forbidden;
        Box::pin(async move {
            if let Some(why) = forbidden_host_name(&host) {
                return Err(Refused(format!("{host} is {why}")).into());
            }
            let ips = lookup.lookup(host.clone()).await?;
            if ips.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            // One internal address is enough to refuse the name: it says
            // who controls the name wants Latchkey inside.
            if let Some((ip, range)) = ips.iter().find_map(|ip| forbidden(*ip).map(|r| (ip, r))) {
                return Err(Refused(format!("{host} resolves to {ip}, {range}")).into());
            }
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Two HTTP clients with the same limits, one per [`Reach`].
pub struct Egress {
    public_only: reqwest::Client,
    anywhere: reqwest::Client,
}

impl Egress {
    /// `limits` adds what a purpose needs (https only, extra roots) to the
    /// common settings: no redirects, [`TIMEOUT`], Latchkey's user agent.
    pub fn new(
        lookup: Arc<dyn Lookup>,
        limits: impl Fn(reqwest::ClientBuilder) -> anyhow::Result<reqwest::ClientBuilder>,
    ) -> anyhow::Result<Egress> {
        Self::with_classifier(lookup, forbidden_ip, limits)
    }

    fn with_classifier(
        lookup: Arc<dyn Lookup>,
        forbidden: fn(IpAddr) -> Option<Range>,
        limits: impl Fn(reqwest::ClientBuilder) -> anyhow::Result<reqwest::ClientBuilder>,
    ) -> anyhow::Result<Egress> {
        let base = || {
            limits(
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(TIMEOUT)
                    .connect_timeout(TIMEOUT)
                    .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION"))),
            )
        };
        let public_only = base()?
            .https_only(true)
            .no_proxy()
            .dns_resolver(Arc::new(PublicOnlyResolver { lookup, forbidden }))
            .build()
            .context("cannot build the outbound HTTP client")?;
        let anywhere = base()?
            .build()
            .context("cannot build the outbound HTTP client")?;
        Ok(Egress {
            public_only,
            anywhere,
        })
    }

    /// The client to send a request to `uri` with, and the parsed URL; a
    /// [`Refused`] error if `reach` does not allow the URL at all.
    pub fn prepare(
        &self,
        uri: &str,
        reach: Reach,
    ) -> Result<(&reqwest::Client, reqwest::Url), Refused> {
        match reach {
            Reach::PublicOnly => public_https_url(uri)
                .map(|url| (&self.public_only, url))
                .map_err(|why| Refused(format!("{uri}: {why}"))),
            Reach::Anywhere => reqwest::Url::parse(uri)
                .map(|url| (&self.anywhere, url))
                .map_err(|_| Refused(format!("{uri}: not an absolute URL"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use super::*;

    /// Answers every name with the given addresses; counts lookups.
    struct Fixed(Vec<IpAddr>, AtomicUsize);

    impl Lookup for Fixed {
        fn lookup(&self, _host: String) -> BoxFuture<std::io::Result<Vec<IpAddr>>> {
            self.1.fetch_add(1, Ordering::SeqCst);
            let ips = self.0.clone();
            Box::pin(async move { Ok(ips) })
        }
    }

    /// A loopback listener that counts the connections it accepts.
    async fn listener() -> (u16, Arc<Mutex<usize>>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(0));
        let count = seen.clone();
        tokio::spawn(async move {
            while let Ok((_stream, _)) = l.accept().await {
                *count.lock().unwrap() += 1;
            }
        });
        (port, seen)
    }

    fn egress(ips: &[&str], forbidden: fn(IpAddr) -> Option<Range>) -> (Egress, Arc<Fixed>) {
        let lookup = Arc::new(Fixed(
            ips.iter().map(|s| s.parse().unwrap()).collect(),
            AtomicUsize::new(0),
        ));
        let e = Egress::with_classifier(lookup.clone(), forbidden, Ok).unwrap();
        (e, lookup)
    }

    async fn send(e: &Egress, uri: &str, reach: Reach) -> Result<reqwest::Response, String> {
        let (client, url) = e.prepare(uri, reach).map_err(|r| r.to_string())?;
        client.get(url).send().await.map_err(|err| {
            assert!(is_refused(&err), "not a refusal: {err:?}");
            err.to_string()
        })
    }

    #[tokio::test]
    async fn a_name_that_resolves_inside_is_never_connected_to() {
        let (port, seen) = listener().await;
        for ips in [
            &["127.0.0.1"][..],
            &["93.184.216.34", "127.0.0.1"],
            &["::1"],
            &["::ffff:127.0.0.1"],
            &["169.254.169.254"],
        ] {
            let (e, lookup) = egress(ips, forbidden_ip);
            let uri = format!("https://rp.example.com:{port}/bcl");
            let err = send(&e, &uri, Reach::PublicOnly).await.unwrap_err();
            assert_eq!(lookup.1.load(Ordering::SeqCst), 1, "{ips:?}: one lookup");
            assert!(!err.is_empty());
        }
        assert_eq!(
            *seen.lock().unwrap(),
            0,
            "no connection reached the listener"
        );
    }

    #[tokio::test]
    async fn internal_literals_and_local_names_are_refused_before_any_lookup() {
        let (port, seen) = listener().await;
        let (e, lookup) = egress(&["127.0.0.1"], forbidden_ip);
        for uri in [
            format!("https://127.0.0.1:{port}/"),
            format!("https://[::1]:{port}/"),
            format!("https://localhost:{port}/"),
            format!("https://foo.localhost:{port}/"),
            format!("http://rp.example.com:{port}/"),
        ] {
            let refused = e.prepare(&uri, Reach::PublicOnly).unwrap_err();
            assert!(is_refused(&refused), "{uri}");
        }
        assert_eq!(lookup.1.load(Ordering::SeqCst), 0);
        assert_eq!(*seen.lock().unwrap(), 0);
    }

    #[tokio::test]
    async fn the_address_checked_is_the_address_connected_to() {
        // With loopback allowed, a name no DNS knows reaches the listener
        // through the looked-up address alone: nothing resolves it again.
        let (port, seen) = listener().await;
        let (e, lookup) = egress(&["127.0.0.1"], |_| None);
        let uri = format!("https://rp.invalid.example:{port}/");
        let _ = e.public_only.get(&uri).send().await;
        assert_eq!(lookup.1.load(Ordering::SeqCst), 1);
        assert_eq!(*seen.lock().unwrap(), 1, "connected to the checked address");
    }

    #[tokio::test]
    async fn an_operators_client_may_reach_inside() {
        let (port, seen) = listener().await;
        let (e, _) = egress(&[], forbidden_ip);
        let uri = format!("http://127.0.0.1:{port}/bcl");
        let _ = send_anywhere(&e, &uri).await;
        assert_eq!(*seen.lock().unwrap(), 1);
    }

    async fn send_anywhere(e: &Egress, uri: &str) -> Result<reqwest::Response, reqwest::Error> {
        let (client, url) = e.prepare(uri, Reach::Anywhere).unwrap();
        client.get(url).send().await
    }
}
