//! Which IP addresses are private: the destinations a plugin reaches only when its
//! grants allow private networks (loopback, RFC 1918, RFC 4193, link-local — the cloud
//! metadata address 169.254.169.254 among them —, shared CGNAT space, multicast, the
//! IPv4 addresses hidden in IPv6 forms, and the IPv6 forms that reach an IPv4 address
//! pier cannot see: Teredo, local-use NAT64, IPv4-translated).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of private address `ip` is, or `None` for a public one.
pub fn private_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, ..) => "unspecified",
        (127, ..) => "loopback",
        (10, ..) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "shared (CGNAT)",
        (224..=239, ..) => "multicast",
        (192, 0, 0) | (198, 18..=19, _) | (240..=255, ..) => "reserved",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        _ => return None,
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = embedded_v4(ip) {
        return v4_kind(v4);
    }
    let first = ip.segments()[0];
    Some(match first {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        0xfc00..=0xfdff => "private",
        0xfe80..=0xfebf => "link-local",
        0xfec0..=0xfeff => "private",
        0xff00..=0xffff => "multicast",
        0x2001 if ip.segments()[1] == 0x0db8 => "documentation",
        // Teredo (2001::/32): tunnels to an IPv4 address of the relay's choosing.
        0x2001 if ip.segments()[1] == 0 => "reserved (Teredo)",
        // Local-use NAT64 (64:ff9b:1::/48, RFC 8215): translated inside the site.
        0x0064 if ip.segments()[1..3] == [0xff9b, 1] => "private (local NAT64)",
        // IPv4-translated (::ffff:0:0:0/96, SIIT): never a destination of its own.
        0 if ip.segments()[..6] == [0, 0, 0, 0, 0xffff, 0] => "reserved (IPv4-translated)",
        0x0100 if ip.segments()[1..4] == [0, 0, 0] => "reserved",
        _ => return None,
    })
}

/// The IPv4 address an IPv6 address carries: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:AABB:CCDD::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail()),
        // `::` and `::1` are IPv6's own unspecified and loopback addresses.
        [0, 0, 0, 0, 0, 0, _, _] if !ip.is_unspecified() && !ip.is_loopback() => Some(tail()),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail()),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::private_kind;

    #[test]
    fn private_addresses_are_named_and_public_ones_pass() {
        for (ip, kind) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("198.18.0.1", "reserved"),
            ("192.0.2.1", "documentation"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00::1", "private"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::127.0.0.1", "loopback"),
            ("64:ff9b::a00:1", "private"),
            ("2002:7f00:1::", "loopback"),
            ("2001:db8::1", "documentation"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved (Teredo)"),
            ("2001::1", "reserved (Teredo)"),
            ("64:ff9b:1::808:808", "private (local NAT64)"),
            ("64:ff9b:1:ffff::1", "private (local NAT64)"),
            ("::ffff:0:808:808", "reserved (IPv4-translated)"),
            ("::ffff:0:a00:1", "reserved (IPv4-translated)"),
        ] {
            assert_eq!(private_kind(ip.parse().unwrap()), Some(kind), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "2002:808:808::",
            "64:ff9b::808:808",
            "2001:4860::8888",
        ] {
            assert_eq!(private_kind(ip.parse().unwrap()), None, "{ip}");
        }
    }
}
