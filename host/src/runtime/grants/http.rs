//! HTTP destinations a plugin may reach: `[grants] http = ["https://api.github.com",
//! "https://*.example.com", "http://127.0.0.1:8123"]`, each a scheme, a host pattern and
//! a port, and how a sidecar's grants are narrowed to what the operator allows.

use std::fmt;

/// `http` or `https` (or, in the operator's `"*"`, either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
    /// Either (only in `"*"`).
    Any,
}

impl Scheme {
    /// The scheme's port when a URL names none.
    pub fn default_port(self) -> Option<u16> {
        match self {
            Scheme::Http => Some(80),
            Scheme::Https => Some(443),
            Scheme::Any => None,
        }
    }
}

/// The hosts a grant covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Hosts {
    /// Any host (`*`).
    Any,
    /// Exactly this host name or IP address (lower case, IPv6 without brackets).
    Exact(String),
    /// Every subdomain of this domain, not the domain itself (`*.example.com`).
    Subdomains(String),
}

impl Hosts {
    /// Whether `host` (lower case, IPv6 without brackets) is one of these.
    pub fn covers(&self, host: &str) -> bool {
        match self {
            Hosts::Any => true,
            Hosts::Exact(name) => host == name,
            Hosts::Subdomains(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        }
    }

    /// The hosts both cover, when they share any.
    fn meet(&self, other: &Hosts) -> Option<Hosts> {
        match (self, other) {
            (Hosts::Any, x) | (x, Hosts::Any) => Some(x.clone()),
            (Hosts::Exact(a), b) | (b, Hosts::Exact(a)) => {
                b.covers(a).then(|| Hosts::Exact(a.clone()))
            }
            (Hosts::Subdomains(a), Hosts::Subdomains(b)) => {
                let narrower =
                    |x: &String, y: &String| x == y || Hosts::Subdomains(y.clone()).covers(x);
                if narrower(a, b) {
                    Some(self.clone())
                } else if narrower(b, a) {
                    Some(other.clone())
                } else {
                    None
                }
            }
        }
    }
}

/// One HTTP grant: a scheme, the hosts, and a port (`None`: any port).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpGrant {
    /// The scheme.
    pub scheme: Scheme,
    /// The hosts.
    pub hosts: Hosts,
    /// The port; `None` for any (`:*`).
    pub port: Option<u16>,
}

/// Longest grant text accepted (a host name is at most 253 bytes).
const MAX_GRANT: usize = 300;

impl HttpGrant {
    /// Any destination: the operator's `"*"`.
    pub fn any() -> Self {
        Self {
            scheme: Scheme::Any,
            hosts: Hosts::Any,
            port: None,
        }
    }

    /// Parses `"*"` or `SCHEME://HOST[:PORT]`, where HOST is a name, an IP address
    /// (IPv6 in brackets), `*` or `*.DOMAIN`, and PORT a number or `*`; without a port,
    /// the scheme's default port.
    pub fn parse(text: &str) -> Result<Self, String> {
        let wrong = |why: &str| format!("`{}`: {why}", crate::text::clip(text));
        if text.len() > MAX_GRANT {
            return Err(wrong("too long"));
        }
        if text == "*" {
            return Ok(Self::any());
        }
        let (scheme, rest) = match text.split_once("://") {
            Some(("http", rest)) => (Scheme::Http, rest),
            Some(("https", rest)) => (Scheme::Https, rest),
            _ => {
                return Err(wrong(
                    "expected \"*\" or http://HOST[:PORT] or https://HOST[:PORT]",
                ));
            }
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(wrong(
                "a grant names a scheme, a host and a port: no path, query or user",
            ));
        }
        let (host, port) = split_port(rest).map_err(|why| wrong(&why))?;
        let port = match port {
            None => scheme.default_port(),
            Some("*") => None,
            Some(digits) => Some(
                digits
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| wrong("the port must be 1 to 65535 or *"))?,
            ),
        };
        let host = host.to_ascii_lowercase();
        let hosts = if host == "*" {
            Hosts::Any
        } else if let Some(domain) = host.strip_prefix("*.") {
            if !is_host_name(domain) {
                return Err(wrong("`*.` must be followed by a domain name"));
            }
            Hosts::Subdomains(domain.to_string())
        } else if host.parse::<std::net::IpAddr>().is_ok() || is_host_name(&host) {
            Hosts::Exact(host)
        } else {
            return Err(wrong(
                "the host must be a name, an IP address, `*` or `*.DOMAIN`",
            ));
        };
        Ok(Self {
            scheme,
            hosts,
            port,
        })
    }

    /// Whether a request to `scheme://host:port` is covered.
    pub fn covers(&self, scheme: Scheme, host: &str, port: u16) -> bool {
        (self.scheme == Scheme::Any || self.scheme == scheme)
            && self.port.is_none_or(|p| p == port)
            && self.hosts.covers(host)
    }

    /// What both grants allow, when anything: a sidecar's grant narrowed by one of the
    /// operator's.
    pub fn meet(&self, cap: &HttpGrant) -> Option<HttpGrant> {
        let scheme = match (self.scheme, cap.scheme) {
            (Scheme::Any, s) | (s, Scheme::Any) => s,
            (a, b) if a == b => a,
            _ => return None,
        };
        let port = match (self.port, cap.port) {
            (None, p) | (p, None) => p,
            (Some(a), Some(b)) if a == b => Some(a),
            _ => return None,
        };
        Some(HttpGrant {
            scheme,
            hosts: self.hosts.meet(&cap.hosts)?,
            port,
        })
    }

    /// The host part as a metric label: the pattern, never a name a guest chose beyond
    /// it, so the label set is bounded by the grants.
    pub fn host_label(&self) -> String {
        match &self.hosts {
            Hosts::Any => "*".into(),
            Hosts::Exact(host) => host.clone(),
            Hosts::Subdomains(domain) => format!("*.{domain}"),
        }
    }
}

impl fmt::Display for HttpGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Any => return f.write_str("*"),
        };
        let host = match &self.hosts {
            Hosts::Exact(host) if host.contains(':') => format!("[{host}]"),
            _ => self.host_label(),
        };
        write!(f, "{scheme}://{host}")?;
        match self.port {
            None => f.write_str(":*"),
            Some(port) if Some(port) == self.scheme.default_port() => Ok(()),
            Some(port) => write!(f, ":{port}"),
        }
    }
}

/// `HOST[:PORT]` split, IPv6 hosts in brackets.
fn split_port(text: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address needs its closing `]`")?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("not an IPv6 address in brackets".into());
        }
        return match after {
            "" => Ok((host, None)),
            _ => after
                .strip_prefix(':')
                .map(|port| (host, Some(port)))
                .ok_or_else(|| "expected `:PORT` after `]`".into()),
        };
    }
    Ok(match text.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    })
}

/// A DNS name: dot-separated labels of letters, digits and `-`, at most 253 bytes.
fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The grants of one plugin after the operator's cap: what it asked for, what it got,
/// and whether its requests may reach private networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpGrants {
    /// What the sidecar asked for.
    pub requested: Vec<HttpGrant>,
    /// What the operator's grants leave of it: requests must match one of these.
    pub effective: Vec<HttpGrant>,
    /// Whether resolved addresses may be private (loopback, RFC 1918, …).
    pub private_networks: bool,
    /// Whom its HTTPS requests trust.
    pub trust: super::Trust,
}

impl HttpGrants {
    /// `requested` narrowed to what some grant of `cap` allows; private networks only
    /// when both ask for them.
    pub fn capped(
        requested: Vec<HttpGrant>,
        private: bool,
        cap: &[HttpGrant],
        cap_private: bool,
        trust: &super::Trust,
    ) -> Self {
        let mut effective: Vec<HttpGrant> = Vec::new();
        for grant in &requested {
            for allowed in cap {
                if let Some(both) = grant.meet(allowed)
                    && !effective.contains(&both)
                {
                    effective.push(both);
                }
            }
        }
        Self {
            requested,
            effective,
            private_networks: private && cap_private,
            trust: trust.clone(),
        }
    }

    /// The requested grants the cap narrowed or removed.
    pub fn lowered(&self) -> Vec<&HttpGrant> {
        self.requested
            .iter()
            .filter(|g| !self.effective.contains(g))
            .collect()
    }

    /// The first effective grant covering `scheme://host:port`.
    pub fn find(&self, scheme: Scheme, host: &str, port: u16) -> Option<&HttpGrant> {
        self.effective.iter().find(|g| g.covers(scheme, host, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(text: &str) -> HttpGrant {
        HttpGrant::parse(text).unwrap()
    }

    #[test]
    fn grants_parse_to_scheme_hosts_and_port_and_print_back() {
        for (text, shown) in [
            ("*", "*"),
            ("https://api.github.com", "https://api.github.com"),
            ("https://API.GitHub.com/", "https://api.github.com"),
            ("https://*.example.com", "https://*.example.com"),
            ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
            ("http://[::1]:8080", "http://[::1]:8080"),
            ("https://*", "https://*"),
            ("https://x.org:443", "https://x.org"),
            ("http://x.org:*", "http://x.org:*"),
        ] {
            assert_eq!(g(text).to_string(), shown, "{text}");
        }
        assert_eq!(g("https://x.org").port, Some(443));
        assert_eq!(g("http://x.org").port, Some(80));
        for (bad, why) in [
            (
                "ftp://x.org",
                "expected \"*\" or http://HOST[:PORT] or https://HOST[:PORT]",
            ),
            (
                "x.org",
                "expected \"*\" or http://HOST[:PORT] or https://HOST[:PORT]",
            ),
            (
                "https://x.org/path",
                "a grant names a scheme, a host and a port: no path, query or user",
            ),
            (
                "https://u@x.org",
                "a grant names a scheme, a host and a port: no path, query or user",
            ),
            ("https://x.org:0", "the port must be 1 to 65535 or *"),
            ("https://x.org:99999", "the port must be 1 to 65535 or *"),
            (
                "https://*x.org",
                "the host must be a name, an IP address, `*` or `*.DOMAIN`",
            ),
            (
                "https://api.*.org",
                "the host must be a name, an IP address, `*` or `*.DOMAIN`",
            ),
            (
                "https://",
                "the host must be a name, an IP address, `*` or `*.DOMAIN`",
            ),
            ("https://*.", "`*.` must be followed by a domain name"),
            ("http://[::1", "an IPv6 address needs its closing `]`"),
        ] {
            assert_eq!(
                HttpGrant::parse(bad),
                Err(format!("`{bad}`: {why}")),
                "{bad}"
            );
        }
        assert!(HttpGrant::parse(&format!("https://{}", "a".repeat(400))).is_err());
    }

    #[test]
    fn a_grant_covers_its_scheme_hosts_and_port_only() {
        let sub = g("https://*.example.com");
        assert!(sub.covers(Scheme::Https, "api.example.com", 443));
        assert!(sub.covers(Scheme::Https, "a.b.example.com", 443));
        assert!(
            !sub.covers(Scheme::Https, "example.com", 443),
            "subdomains only"
        );
        assert!(!sub.covers(Scheme::Https, "badexample.com", 443));
        assert!(!sub.covers(Scheme::Http, "api.example.com", 80));
        assert!(!sub.covers(Scheme::Https, "api.example.com", 8443));
        let exact = g("http://127.0.0.1:8123");
        assert!(exact.covers(Scheme::Http, "127.0.0.1", 8123));
        assert!(!exact.covers(Scheme::Http, "127.0.0.1", 8124));
        assert!(g("*").covers(Scheme::Http, "anything", 1));
        assert!(g("http://x.org:*").covers(Scheme::Http, "x.org", 9));
    }

    #[test]
    fn the_operators_grants_narrow_a_sidecars() {
        let cap = [g("https://*.example.com"), g("http://127.0.0.1:*")];
        let web = crate::runtime::grants::Trust::web();
        let grants = HttpGrants::capped(
            vec![
                g("https://*"),
                g("https://api.example.com"),
                g("http://127.0.0.1:8123"),
                g("https://other.org"),
            ],
            true,
            &cap,
            false,
            &web,
        );
        assert_eq!(
            grants.effective,
            [
                g("https://*.example.com"),
                g("https://api.example.com"),
                g("http://127.0.0.1:8123")
            ]
        );
        assert_eq!(grants.lowered(), [&g("https://*"), &g("https://other.org")]);
        assert!(!grants.private_networks, "the operator allows none");
        let open = HttpGrants::capped(
            vec![g("https://a.b.example.com:8443")],
            false,
            &[g("*")],
            true,
            &web,
        );
        assert_eq!(open.effective, [g("https://a.b.example.com:8443")]);
        assert!(open.lowered().is_empty());
        assert!(!open.private_networks, "the sidecar asks for none");
        let nested = HttpGrants::capped(
            vec![g("https://*.example.com")],
            false,
            &[g("https://*.api.example.com")],
            false,
            &web,
        );
        assert_eq!(nested.effective, [g("https://*.api.example.com")]);
    }
}
