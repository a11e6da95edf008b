//! Matching request URIs against resource templates: `{var}` matches one path segment,
//! `{+var}` anything; values are percent-decoded.

use pier_uri_template::UriTemplate;

/// The variables of `uri`, percent-decoded, when it matches `template` (which pier
/// validated when it mounted the plugin; a template that does not parse matches nothing).
pub(crate) fn matches(template: &str, uri: &str) -> Option<Vec<(String, String)>> {
    let parsed = UriTemplate::parse(template).ok()?;
    let values = parsed.matches(uri)?;
    Some(
        values
            .into_iter()
            .map(|(name, value)| (name.to_string(), percent_decode(value)))
            .collect(),
    )
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_matched_and_decoded() {
        let t = "hello://greeting/{name}";
        assert_eq!(
            matches(t, "hello://greeting/Ada%20L"),
            Some(vec![("name".into(), "Ada L".into())])
        );
        assert_eq!(matches(t, "hello://greeting/a/b"), None);
        assert_eq!(matches(t, "hello://other/a"), None);
    }

    #[test]
    fn a_trailing_percent_is_kept() {
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%41%"), "A%");
    }
}
