//! Matching request URIs against resource templates: `{var}` matches one path segment,
//! `{+var}` anything; values are percent-decoded.

enum Part<'a> {
    Literal(&'a str),
    Var(&'a str, bool),
}

pub(crate) struct Template<'a> {
    parts: Vec<Part<'a>>,
}

impl<'a> Template<'a> {
    /// Parses `template`; pier validated it when it mounted the plugin.
    pub(crate) fn parse(template: &'a str) -> Self {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            if open > 0 {
                parts.push(Part::Literal(&rest[..open]));
            }
            let expr = &rest[open + 1..open + close];
            parts.push(match expr.strip_prefix('+') {
                Some(name) => Part::Var(name, true),
                None => Part::Var(expr, false),
            });
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest));
        }
        Self { parts }
    }

    /// The variables of `uri`, when it matches.
    pub(crate) fn matches(&self, uri: &str) -> Option<Vec<(String, String)>> {
        let mut values = Vec::new();
        walk(&self.parts, uri, &mut values).then_some(values)
    }
}

fn walk(parts: &[Part<'_>], input: &str, values: &mut Vec<(String, String)>) -> bool {
    match parts.split_first() {
        None => input.is_empty(),
        Some((Part::Literal(lit), rest)) => input
            .strip_prefix(lit)
            .is_some_and(|t| walk(rest, t, values)),
        Some((Part::Var(name, reserved), rest)) => {
            let limit = if *reserved {
                input.len()
            } else {
                input.find('/').unwrap_or(input.len())
            };
            for end in (1..=limit).rev().filter(|&e| input.is_char_boundary(e)) {
                values.push((name.to_string(), percent_decode(&input[..end])));
                if walk(rest, &input[end..], values) {
                    return true;
                }
                values.pop();
            }
            false
        }
    }
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
        let t = Template::parse("hello://greeting/{name}");
        assert_eq!(
            t.matches("hello://greeting/Ada%20L"),
            Some(vec![("name".into(), "Ada L".into())])
        );
        assert_eq!(t.matches("hello://greeting/a/b"), None);
        assert_eq!(t.matches("hello://other/a"), None);
    }

    #[test]
    fn a_trailing_percent_is_kept() {
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%41%"), "A%");
    }
}
