//! Namespacing of component names, as FastMCP's `mount` does it: tools and prompts
//! become `{ns}_{name}`, resources `{scheme}://{ns}/{path}`. An empty namespace keeps
//! names as they are.

/// `name` as clients see it under namespace `ns`.
pub fn name(ns: &str, name: &str) -> String {
    if ns.is_empty() {
        name.to_string()
    } else {
        format!("{ns}_{name}")
    }
}

/// `uri` (or URI template) as clients see it under namespace `ns`.
///
/// `hello://readme` under `hello` is `hello://hello/readme`.
pub fn uri(ns: &str, uri: &str) -> String {
    match uri.split_once("://") {
        Some((scheme, rest)) if !ns.is_empty() => format!("{scheme}://{ns}/{rest}"),
        _ => uri.to_string(),
    }
}

/// The plugin's own URI for a namespaced `uri`, or `None` when `uri` is not under `ns`.
pub fn strip_uri(ns: &str, uri: &str) -> Option<String> {
    if ns.is_empty() {
        return Some(uri.to_string());
    }
    let (scheme, rest) = uri.split_once("://")?;
    let path = rest.strip_prefix(ns)?.strip_prefix('/')?;
    Some(format!("{scheme}://{path}"))
}

/// Whether `ns` can prefix names: letters, digits, `_` and `-` (empty is allowed).
pub fn is_valid(ns: &str) -> bool {
    ns.len() <= 32
        && ns
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefixed_with_an_underscore() {
        assert_eq!(name("hello", "greet"), "hello_greet");
        assert_eq!(name("", "greet"), "greet");
    }

    #[test]
    fn uris_get_the_namespace_as_first_path_segment() {
        assert_eq!(uri("hello", "hello://readme"), "hello://hello/readme");
        assert_eq!(
            uri("hello", "hello://greeting/{name}"),
            "hello://hello/greeting/{name}"
        );
        assert_eq!(uri("", "hello://readme"), "hello://readme");
    }

    #[test]
    fn strip_uri_inverts_uri() {
        assert_eq!(
            strip_uri("hello", "hello://hello/readme").as_deref(),
            Some("hello://readme")
        );
        assert_eq!(strip_uri("hello", "hello://other/readme"), None);
        assert_eq!(strip_uri("hello", "hello://hellox/readme"), None);
        assert_eq!(strip_uri("", "a://b").as_deref(), Some("a://b"));
    }

    #[test]
    fn namespaces_must_be_name_safe() {
        assert!(is_valid("weather-2"));
        assert!(is_valid(""));
        assert!(!is_valid("a b"));
        assert!(!is_valid("a/b"));
    }
}
