//! Who a request came from and where it was addressed, believed only from trusted peers
//! (`TOLLGATE_TRUSTED_PROXIES`, SPEC §12). A client's own `X-Forwarded-*`, `Forwarded` or
//! `X-Real-IP` says nothing: anyone can send them.

use std::net::IpAddr;
use std::str::FromStr;

use actix_web::http::header;
use actix_web::HttpRequest;

/// One trusted address or range (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    network: IpAddr,
    prefix: u8,
}

impl Range {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The peers whose forwarding headers are believed; none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Range>);

impl TrustedProxies {
    /// Whether `peer` is one of them.
    pub fn trusts(&self, peer: Option<IpAddr>) -> bool {
        peer.is_some_and(|ip| self.0.iter().any(|range| range.contains(ip)))
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated addresses or CIDR ranges; blank entries are skipped.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut ranges = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || format!("`{entry}` is not an IP address or CIDR range (e.g. 10.0.0.0/8)");
            let (ip, prefix) = match entry.split_once('/') {
                Some((ip, prefix)) => (ip, Some(prefix)),
                None => (entry, None),
            };
            let network: IpAddr = ip.parse().map_err(|_| bad())?;
            let max = if network.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => max,
                Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            };
            ranges.push(Range { network: network.to_canonical(), prefix });
        }
        Ok(Self(ranges))
    }
}

/// What the upstream is told of the original request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarding {
    /// `X-Forwarded-For`: what a trusted proxy sent, then the peer.
    pub forwarded_for: String,
    /// `X-Forwarded-Host`: a trusted proxy's, else the request's `Host`.
    pub host: String,
    /// `X-Forwarded-Proto`: a trusted proxy's, else this connection's scheme.
    pub proto: String,
}

fn first_value<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    let value = req.headers().get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}

/// The forwarding headers for `req`, believing its own only when its peer is trusted.
pub fn forwarding(req: &HttpRequest, trusted: &TrustedProxies) -> Forwarding {
    let peer = req.peer_addr().map(|a| a.ip());
    let believed = trusted.trusts(peer);
    let peer_text = peer.map(|ip| ip.to_canonical().to_string()).unwrap_or_default();
    let chain = believed
        .then(|| {
            let all: Vec<&str> = req
                .headers()
                .get_all("x-forwarded-for")
                .filter_map(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .collect();
            (!all.is_empty()).then(|| all.join(", "))
        })
        .flatten();
    let forwarded_for = match chain {
        Some(chain) => format!("{chain}, {peer_text}"),
        None => peer_text,
    };
    let own_host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_default();
    let own_proto = req.uri().scheme_str().unwrap_or("http").to_owned();
    let (host, proto) = if believed {
        (
            first_value(req, "x-forwarded-host").map_or(own_host, str::to_owned),
            first_value(req, "x-forwarded-proto").map_or(own_proto, str::to_owned),
        )
    } else {
        (own_host, own_proto)
    };
    Forwarding { forwarded_for, host, proto }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn trusted(text: &str) -> TrustedProxies {
        text.parse().expect("valid")
    }

    #[test]
    fn ranges_hold_what_they_name_and_nothing_else() {
        let t = trusted("10.0.0.0/8, 192.168.1.7, ::1, fd00::/8");
        for ip in ["10.1.2.3", "192.168.1.7", "::1", "fd12::1", "::ffff:10.9.9.9"] {
            assert!(t.trusts(Some(ip.parse().expect("ip"))), "{ip}");
        }
        for ip in ["11.0.0.1", "192.168.1.8", "::2", "fe80::1"] {
            assert!(!t.trusts(Some(ip.parse().expect("ip"))), "{ip}");
        }
        assert!(!TrustedProxies::default().trusts(Some("127.0.0.1".parse().expect("ip"))));
        assert!(trusted("0.0.0.0/0").trusts(Some("8.8.8.8".parse().expect("ip"))));
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<TrustedProxies>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_clients_own_forwarding_headers_are_believed_only_from_a_trusted_peer() {
        let req = || {
            TestRequest::default()
                .peer_addr("203.0.113.5:4000".parse().expect("addr"))
                .insert_header(("host", "api.example.com"))
                .insert_header(("x-forwarded-for", "6.6.6.6"))
                .insert_header(("x-forwarded-host", "evil.example"))
                .insert_header(("x-forwarded-proto", "https"))
                .to_http_request()
        };
        let untrusted = forwarding(&req(), &TrustedProxies::default());
        assert_eq!(untrusted.forwarded_for, "203.0.113.5");
        assert_eq!(untrusted.host, "api.example.com");
        assert_eq!(untrusted.proto, "http");
        let believed = forwarding(&req(), &trusted("203.0.113.0/24"));
        assert_eq!(believed.forwarded_for, "6.6.6.6, 203.0.113.5");
        assert_eq!(believed.host, "evil.example");
        assert_eq!(believed.proto, "https");
    }
}
