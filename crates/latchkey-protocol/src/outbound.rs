//! Where Latchkey may send a request because a registrant said so: the
//! URLs a client registers that the server itself fetches or posts to
//! (`jwks_uri`, `backchannel_logout_uri`). Unless an operator vouches for
//! the client, such a URL must be https and must not lead into the network
//! Latchkey runs in (SSRF).
//!
//! Two pure checks, used both at registration and before every connection:
//! [`forbidden_ip`] says whether an address is anything but a public
//! unicast address, and [`public_https_url`] applies it to a URL whose host
//! is an IP literal, and refuses host names that are internal by
//! definition (`localhost`, `*.localhost`, single labels, ...). A host
//! name that passes must still be resolved and every address checked with
//! [`forbidden_ip`] at connection time, by whoever connects.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not one Latchkey connects to for a registrant: the
/// name of the range it falls in.
pub type Range = &'static str;

/// `Some(range)` when `ip` is not a public unicast address: loopback,
/// private, link-local, unique-local, shared (CGNAT), benchmarking,
/// documentation, multicast, broadcast, NAT64, 6to4, IPv4-mapped or
/// -compatible forms of those, and every other special-purpose or reserved
/// range of the IANA registries.
pub fn forbidden_ip(ip: IpAddr) -> Option<Range> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

/// IPv4: the IANA special-purpose registry (RFC 6890 and its updates),
/// plus multicast and the reserved class E.
fn forbidden_v4(ip: Ipv4Addr) -> Option<Range> {
    let [a, b, c, _] = ip.octets();
    let range = match (a, b, c) {
        (0, _, _) => "\"this network\" (0.0.0.0/8)",
        (10, _, _) => "private (10.0.0.0/8)",
        (100, 64..=127, _) => "shared address space, CGNAT (100.64.0.0/10)",
        (127, _, _) => "loopback (127.0.0.0/8)",
        (169, 254, _) => "link-local (169.254.0.0/16)",
        (172, 16..=31, _) => "private (172.16.0.0/12)",
        (192, 0, 0) => "IETF protocol assignments (192.0.0.0/24)",
        (192, 0, 2) => "documentation (192.0.2.0/24)",
        (192, 88, 99) => "6to4 relay anycast (192.88.99.0/24)",
        (192, 168, _) => "private (192.168.0.0/16)",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (198, 51, 100) => "documentation (198.51.100.0/24)",
        (203, 0, 113) => "documentation (203.0.113.0/24)",
        (224..=239, _, _) => "multicast (224.0.0.0/4)",
        (255, 255, 255) if ip == Ipv4Addr::BROADCAST => "broadcast (255.255.255.255)",
        (240..=255, _, _) => "reserved (240.0.0.0/4)",
        _ => return None,
    };
    Some(range)
}

/// IPv6: only global unicast (2000::/3) outside its special-purpose
/// blocks; an IPv4-mapped address is judged as the IPv4 address it is.
fn forbidden_v6(ip: Ipv6Addr) -> Option<Range> {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let range = if ip.is_unspecified() {
        "unspecified (::)"
    } else if ip.is_loopback() {
        "loopback (::1)"
    } else if s[..6] == [0; 6] {
        "IPv4-compatible (::/96)"
    } else if s[..4] == [0, 0, 0, 0] && s[4] == 0xffff && s[5] == 0 {
        "IPv4-translated (::ffff:0:0:0/96)"
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        "NAT64 (64:ff9b::/96)"
    } else if s[..3] == [0x64, 0xff9b, 1] {
        "local-use NAT64 (64:ff9b:1::/48)"
    } else if s[..4] == [0x100, 0, 0, 0] {
        "discard-only (100::/64)"
    } else if s[0] & 0xfe00 == 0xfc00 {
        "unique local (fc00::/7)"
    } else if s[0] & 0xffc0 == 0xfe80 {
        "link-local (fe80::/10)"
    } else if s[0] & 0xffc0 == 0xfec0 {
        "site-local (fec0::/10)"
    } else if s[0] & 0xff00 == 0xff00 {
        "multicast (ff00::/8)"
    } else if s[0] & 0xe000 != 0x2000 {
        "reserved (outside global unicast 2000::/3)"
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        "documentation (2001:db8::/32)"
    } else if s[0] == 0x2001 && s[1] < 0x0200 {
        // Teredo (2001::/32, which embeds an IPv4 address), benchmarking,
        // ORCHID and the other IETF protocol assignments.
        "IETF protocol assignments (2001::/23)"
    } else if s[0] == 0x2002 {
        "6to4 (2002::/16)"
    } else if s[0] == 0x3fff && s[1] < 0x1000 {
        "documentation (3fff::/20)"
    } else {
        return None;
    };
    Some(range)
}

/// Host names that name the local machine or a local network by
/// definition (RFC 6761, RFC 6762, RFC 8375 and common practice).
const LOCAL_SUFFIXES: [&str; 5] = ["localhost", "local", "internal", "home.arpa", "localdomain"];

/// `Some(reason)` when a host name is internal by its very name:
/// `localhost` and its subdomains, the other local-use suffixes, and a
/// single label (`metadata`, `redis`), which the resolver's search list
/// completes with the local domain.
pub fn forbidden_host_name(name: &str) -> Option<&'static str> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name.is_empty() {
        return Some("an empty host name");
    }
    for suffix in LOCAL_SUFFIXES {
        if name == suffix
            || name
                .strip_suffix(suffix)
                .is_some_and(|rest| rest.ends_with('.'))
        {
            return Some("a local host name (localhost, .local, .internal, ...)");
        }
    }
    if !name.contains('.') {
        return Some("a single-label host name");
    }
    None
}

/// Why a URL is not one Latchkey sends requests to for a registrant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    NotAbsolute,
    NotHttps,
    UserInfo,
    /// The host is an IP address in this range.
    Address(Range),
    /// The host name is internal by its name.
    HostName(&'static str),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::NotAbsolute => f.write_str("not an absolute URL"),
            Refused::NotHttps => f.write_str("must be an https URL"),
            Refused::UserInfo => f.write_str("must not contain user information"),
            Refused::Address(range) => {
                write!(f, "must not name an internal or reserved address: {range}")
            }
            Refused::HostName(why) => write!(f, "must not name an internal host: {why}"),
        }
    }
}

/// The URL, if Latchkey may connect to it for a client no operator vouches
/// for: https, no user information, and a host that is a public address or
/// a host name that is not internal by its name (what it resolves to is
/// checked at connection time).
pub fn public_https_url(uri: &str) -> Result<url::Url, Refused> {
    let url = url::Url::parse(uri).map_err(|_| Refused::NotAbsolute)?;
    if url.scheme() != "https" {
        return Err(Refused::NotHttps);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused::UserInfo);
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => forbidden_v4(ip).map_or(Ok(()), |r| Err(Refused::Address(r))),
        Some(url::Host::Ipv6(ip)) => forbidden_v6(ip).map_or(Ok(()), |r| Err(Refused::Address(r))),
        Some(url::Host::Domain(name)) => {
            forbidden_host_name(name).map_or(Ok(()), |r| Err(Refused::HostName(r)))
        }
        None => Err(Refused::NotAbsolute),
    }?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| panic!("{s} parses"))
    }

    #[track_caller]
    fn forbidden(addrs: &[&str], needle: &str) {
        for a in addrs {
            let why = forbidden_ip(ip(a)).unwrap_or_else(|| panic!("{a} must be forbidden"));
            assert!(why.contains(needle), "{a}: {why:?} lacks {needle:?}");
        }
    }

    #[test]
    fn ipv4_special_ranges_are_forbidden() {
        forbidden(&["0.0.0.0", "0.1.2.3", "0.255.255.255"], "this network");
        forbidden(&["10.0.0.0", "10.1.2.3", "10.255.255.255"], "private");
        forbidden(&["172.16.0.1", "172.31.255.255"], "private");
        forbidden(&["192.168.0.1", "192.168.255.255"], "private");
        forbidden(
            &["100.64.0.0", "100.100.100.200", "100.127.255.255"],
            "CGNAT",
        );
        forbidden(&["127.0.0.1", "127.1.2.3", "127.255.255.255"], "loopback");
        forbidden(
            &["169.254.0.1", "169.254.169.254", "169.254.255.255"],
            "link-local",
        );
        forbidden(&["192.0.0.1", "192.0.0.170", "192.0.0.171"], "IETF");
        forbidden(
            &["192.0.2.1", "198.51.100.7", "203.0.113.255"],
            "documentation",
        );
        forbidden(&["192.88.99.1"], "6to4");
        forbidden(&["198.18.0.1", "198.19.255.255"], "benchmarking");
        forbidden(&["224.0.0.1", "239.255.255.250"], "multicast");
        forbidden(&["255.255.255.255"], "broadcast");
        forbidden(&["240.0.0.1", "255.255.255.254"], "reserved");
    }

    #[test]
    fn ipv4_public_addresses_are_allowed_up_to_each_boundary() {
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert_eq!(forbidden_ip(ip(a)), None, "{a}");
        }
    }

    #[test]
    fn ipv6_special_ranges_are_forbidden() {
        forbidden(&["::"], "unspecified");
        forbidden(&["::1"], "loopback");
        forbidden(&["::127.0.0.1", "::8.8.8.8", "::a9fe:a9fe"], "compatible");
        forbidden(&["::ffff:0:7f00:1", "::ffff:0:808:808"], "translated");
        forbidden(
            &["64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "64:ff9b::808:808"],
            "NAT64",
        );
        forbidden(&["64:ff9b:1::1", "64:ff9b:1:ffff::a9fe:a9fe"], "NAT64");
        forbidden(&["100::1"], "discard");
        forbidden(&["fc00::1", "fd00::1", "fdff:ffff::1"], "unique local");
        forbidden(&["fe80::1", "febf::1"], "link-local");
        forbidden(&["fec0::1", "feff::1"], "site-local");
        forbidden(&["ff02::1", "ff05::2"], "multicast");
        forbidden(&["2001:db8::1"], "documentation");
        forbidden(&["3fff::1", "3fff:fff::1"], "documentation");
        forbidden(
            &["2001::1", "2001:2::1", "2001:10::1", "2001:1ff::1"],
            "IETF",
        );
        forbidden(&["2002:7f00:1::1", "2002:a9fe:a9fe::1"], "6to4");
        forbidden(&["4000::1", "1::1", "5f00::1", "e000::1"], "reserved");
    }

    #[test]
    fn ipv4_mapped_addresses_are_judged_as_ipv4() {
        forbidden(&["::ffff:127.0.0.1"], "loopback");
        forbidden(
            &["::ffff:169.254.169.254", "::ffff:a9fe:a9fe"],
            "link-local",
        );
        forbidden(&["::ffff:10.0.0.1", "::ffff:192.168.1.1"], "private");
        forbidden(&["::ffff:100.64.0.1"], "CGNAT");
        forbidden(&["::ffff:198.18.0.1"], "benchmarking");
        forbidden(&["::ffff:0.1.2.3"], "this network");
        assert_eq!(forbidden_ip(ip("::ffff:8.8.8.8")), None);
    }

    #[test]
    fn ipv6_global_unicast_is_allowed() {
        for a in [
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:200::1",
            "2001:db7:ffff::1",
            "2001:db9::1",
            "2003::1",
            "3ffe::1",
            "3fff:1000::1",
        ] {
            assert_eq!(forbidden_ip(ip(a)), None, "{a}");
        }
    }

    #[test]
    fn local_host_names_are_refused_by_name() {
        for name in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "foo.localhost",
            "a.b.localhost.",
            "printer.local",
            "metadata.google.internal",
            "router.home.arpa",
            "box.localdomain",
            "metadata",
            "redis",
            "",
        ] {
            assert!(forbidden_host_name(name).is_some(), "{name:?}");
        }
        for name in [
            "app.example.com",
            "localhost.example.com",
            "notlocalhost.com",
            "internal.example.org",
            "keys.example.",
        ] {
            assert_eq!(forbidden_host_name(name), None, "{name:?}");
        }
    }

    #[test]
    fn public_https_urls() {
        for ok in [
            "https://app.example.com/jwks",
            "https://app.example.com:8443/bcl?x=1",
            "https://93.184.216.34/jwks",
            "https://[2606:4700:4700::1111]/jwks",
        ] {
            assert!(public_https_url(ok).is_ok(), "{ok}");
        }
        for (bad, refused) in [
            ("http://app.example.com/jwks", Refused::NotHttps),
            ("ftp://app.example.com/jwks", Refused::NotHttps),
            ("/jwks", Refused::NotAbsolute),
            ("https://u:p@app.example.com/", Refused::UserInfo),
        ] {
            assert_eq!(public_https_url(bad).unwrap_err(), refused, "{bad}");
        }
        for bad in [
            "https://127.0.0.1:8443/any",
            "https://169.254.169.254/latest/meta-data",
            "https://0.1.2.3/",
            "https://198.18.0.1/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[fec0::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::1]/",
            // The URL parser reads every IPv4 spelling as the address.
            "https://2130706433/",
            "https://0x7f.1/",
            "https://0177.0.0.1/",
            "https://127.1/",
        ] {
            assert!(
                matches!(public_https_url(bad), Err(Refused::Address(_))),
                "{bad}"
            );
        }
        for bad in [
            "https://localhost/",
            "https://foo.localhost:8443/x",
            "https://metadata/",
        ] {
            assert!(
                matches!(public_https_url(bad), Err(Refused::HostName(_))),
                "{bad}"
            );
        }
    }

    mod properties {
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

        use proptest::prelude::*;

        use super::super::*;

        fn v4_in(prefix: [u8; 4], len: u32) -> impl Strategy<Value = Ipv4Addr> {
            let base = u32::from_be_bytes(prefix);
            let host_bits = if len == 0 {
                u32::MAX
            } else {
                (1u32 << (32 - len)) - 1
            };
            any::<u32>().prop_map(move |r| Ipv4Addr::from(base | (r & host_bits)))
        }

        fn internal_v4() -> impl Strategy<Value = Ipv4Addr> {
            prop_oneof![
                v4_in([0, 0, 0, 0], 8),
                v4_in([10, 0, 0, 0], 8),
                v4_in([100, 64, 0, 0], 10),
                v4_in([127, 0, 0, 0], 8),
                v4_in([169, 254, 0, 0], 16),
                v4_in([172, 16, 0, 0], 12),
                v4_in([192, 168, 0, 0], 16),
                v4_in([198, 18, 0, 0], 15),
                v4_in([224, 0, 0, 0], 4),
                v4_in([240, 0, 0, 0], 4),
            ]
        }

        proptest! {
            #[test]
            fn any_text_is_judged_without_panicking(s in "\\PC*") {
                let _ = public_https_url(&s);
                let _ = public_https_url(&format!("https://{s}"));
                let _ = public_https_url(&format!("https://{s}/x"));
                let _ = forbidden_host_name(&s);
            }

            #[test]
            fn url_like_text_is_judged_without_panicking(
                s in "(https?://)?(\\[[0-9a-fA-F:.]{0,40}\\]|[0-9a-zA-Z.%-]{0,30})(:[0-9]{0,6})?(/.{0,10})?"
            ) {
                if let Ok(url) = public_https_url(&s) {
                    prop_assert_eq!(url.scheme(), "https");
                }
            }

            #[test]
            fn any_address_is_judged_without_panicking(ip in any::<IpAddr>()) {
                let _ = forbidden_ip(ip);
            }

            #[test]
            fn an_internal_ipv4_address_is_refused_in_every_spelling(v4 in internal_v4()) {
                prop_assert!(forbidden_ip(v4.into()).is_some());
                prop_assert!(forbidden_ip(v4.to_ipv6_mapped().into()).is_some());
                prop_assert!(forbidden_ip(v4.to_ipv6_compatible().into()).is_some());
                let [a, b, c, d] = v4.octets();
                let nat64 = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, u16::from(a) << 8 | u16::from(b), u16::from(c) << 8 | u16::from(d));
                prop_assert!(forbidden_ip(nat64.into()).is_some());
                for uri in [
                    format!("https://{v4}/"),
                    format!("https://{}/", u32::from(v4)),
                    format!("https://[{}]/", v4.to_ipv6_mapped()),
                    format!("https://[{nat64}]/"),
                ] {
                    prop_assert!(matches!(public_https_url(&uri), Err(Refused::Address(_))), "{}", uri);
                }
            }

            #[test]
            fn a_mapped_address_is_judged_as_its_ipv4_address(v4 in any::<Ipv4Addr>()) {
                prop_assert_eq!(
                    forbidden_ip(v4.to_ipv6_mapped().into()),
                    forbidden_ip(v4.into())
                );
            }

            #[test]
            fn a_url_with_an_address_literal_is_judged_as_the_address(ip in any::<IpAddr>()) {
                let host = match ip {
                    IpAddr::V4(v4) => v4.to_string(),
                    IpAddr::V6(v6) => format!("[{v6}]"),
                };
                let judged = public_https_url(&format!("https://{host}/jwks"));
                match forbidden_ip(ip) {
                    Some(range) => prop_assert_eq!(judged.unwrap_err(), Refused::Address(range)),
                    None => prop_assert!(judged.is_ok()),
                }
            }

            #[test]
            fn every_name_under_localhost_is_refused(label in "[a-zA-Z0-9-]{1,20}") {
                let uri = format!("https://{label}.localhost/x");
                // An `xn--` label that is not valid punycode fails to parse
                // at all: refused too, as no URL.
                prop_assert!(matches!(
                    public_https_url(&uri),
                    Err(Refused::HostName(_) | Refused::NotAbsolute)
                ));
            }
        }
    }
}
