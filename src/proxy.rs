//! The client's address behind trusted reverse proxies. `X-Forwarded-For` is believed only when
//! the connection comes from an address named with `--trusted-proxy`; then the header is read
//! from the right, hop by hop, for as long as each hop is itself a trusted proxy, and the first
//! address that is not one is the client. Anyone else's `X-Forwarded-For` is ignored, so a client
//! cannot pick its own address (and with it a fresh sign-in budget or another audit entry).

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use warp::http::HeaderMap;

/// One trusted proxy: an address, or a range in CIDR form (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyRange {
    network: IpAddr,
    prefix: u8,
}

impl ProxyRange {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_match(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_match(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_match(net: &[u8], ip: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    if net[..full] != ip[..full] {
        return false;
    }
    let rest = prefix % 8;
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        net[full] & mask == ip[full] & mask
    }
}

impl FromStr for ProxyRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| {
            format!("{s:?} is not an IP address or a CIDR range such as 10.0.0.0/8")
        })?;
        let network = network.to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(ProxyRange { network, prefix })
    }
}

/// The proxies whose `X-Forwarded-For` is believed (none by default). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[ProxyRange]>);

impl TrustedProxies {
    pub fn new(ranges: Vec<ProxyRange>) -> TrustedProxies {
        TrustedProxies(ranges.into())
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|r| r.contains(ip))
    }

    /// The client's address for a connection from `peer` carrying `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.iter().rev() {
            if !self.trusts(client) {
                break;
            }
            match parse_hop(hop) {
                Some(ip) => client = ip,
                // A hop we cannot read: the last address we could vouch for stands.
                None => break,
            }
        }
        client
    }
}

/// `1.2.3.4`, `2001:db8::1`, `1.2.3.4:5678` or `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<std::net::SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|s| s.parse().expect("range")).collect())
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let none = TrustedProxies::default();
        let spoof = headers(&["203.0.113.9"]);
        assert_eq!(none.client(ip("127.0.0.1"), &spoof), ip("127.0.0.1"));
        let some = proxies(&["10.0.0.1"]);
        assert_eq!(some.client(ip("127.0.0.1"), &spoof), ip("127.0.0.1"));
        assert_eq!(some.client(ip("10.0.0.1"), &spoof), ip("203.0.113.9"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let p = proxies(&["10.0.0.0/8", "::1"]);
        // The client wrote a fake first hop; the proxies appended the real ones.
        let h = headers(&["1.1.1.1, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(p.client(ip("::1"), &h), ip("198.51.100.7"));
        assert_eq!(
            p.client(ip("10.0.0.5"), &headers(&["garbage"])),
            ip("10.0.0.5")
        );
        assert_eq!(
            p.client(ip("10.0.0.5"), &headers(&["[2001:db8::7]:443"])),
            ip("2001:db8::7")
        );
        assert_eq!(p.client(ip("10.0.0.5"), &HeaderMap::new()), ip("10.0.0.5"));
    }

    #[test]
    fn ranges_parse_and_match() {
        let r: ProxyRange = "192.168.0.0/23".parse().expect("range");
        assert!(r.contains(ip("192.168.1.200")));
        assert!(!r.contains(ip("192.168.2.1")));
        assert!(r.contains(ip("::ffff:192.168.0.1")), "IPv4-mapped peers");
        assert!("fd00::/8"
            .parse::<ProxyRange>()
            .expect("v6")
            .contains(ip("fd12::1")));
        assert!("0.0.0.0/0"
            .parse::<ProxyRange>()
            .expect("all")
            .contains(ip("8.8.8.8")));
        for bad in ["", "proxy.local", "10.0.0.0/33", "::/129", "10.0.0.1/x"] {
            assert!(bad.parse::<ProxyRange>().is_err(), "{bad:?}");
        }
    }
}
