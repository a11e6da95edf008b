//! Client- and guest-supplied text in pier's own messages and log lines: clipped, so
//! that a megabyte URI or tool name is not echoed a megabyte at a time.

use std::borrow::Cow;

/// The most characters of a foreign string an error message or log line repeats.
pub const CLIP_CHARS: usize = 256;

/// `s` when it is at most [`CLIP_CHARS`] characters long; else its first
/// [`CLIP_CHARS`] characters and a marker saying how many bytes were left out.
pub fn clip(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(CLIP_CHARS) {
        None => Cow::Borrowed(s),
        Some((cut, _)) => Cow::Owned(format!("{}… [{} more bytes]", &s[..cut], s.len() - cut)),
    }
}

/// Whether `url` (`http://…`) names a loopback host: `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_and_long_text_clipped_with_a_marker() {
        assert_eq!(clip("abc"), "abc");
        let exact = "é".repeat(CLIP_CHARS);
        assert_eq!(clip(&exact), exact);
        let long = format!("{}{}", "é".repeat(CLIP_CHARS), "x".repeat(1000));
        assert_eq!(
            clip(&long),
            format!("{}… [1000 more bytes]", "é".repeat(CLIP_CHARS))
        );
    }
}
