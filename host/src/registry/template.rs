//! RFC 6570 URI templates, as far as resource templates need them: `{var}` matches one
//! path segment (no `/`), `{+var}` matches anything, the rest is literal.

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var { name: String, reserved: bool },
}

/// A parsed URI template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    parts: Vec<Part>,
}

impl UriTemplate {
    /// Parses `template`; the error says what is wrong with it.
    pub fn parse(template: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in URI template `{template}`"))?;
            let expr = &rest[open + 1..open + close];
            let (name, reserved) = match expr.strip_prefix('+') {
                Some(name) => (name, true),
                None => (expr, false),
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!(
                    "bad variable `{{{expr}}}` in URI template `{template}`"
                ));
            }
            if matches!(parts.last(), Some(Part::Var { .. })) {
                return Err(format!(
                    "two adjacent variables in URI template `{template}`"
                ));
            }
            parts.push(Part::Var {
                name: name.to_string(),
                reserved,
            });
            rest = &rest[open + close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("unmatched `}}` in URI template `{template}`"));
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Self { parts })
    }

    /// The variable names, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { name, .. } => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// The variables' values when `uri` matches, `None` otherwise.
    pub fn matches(&self, uri: &str) -> Option<Vec<(String, String)>> {
        let mut values = Vec::new();
        match_parts(&self.parts, uri, &mut values).then_some(values)
    }
}

fn match_parts(parts: &[Part], input: &str, values: &mut Vec<(String, String)>) -> bool {
    match parts.split_first() {
        None => input.is_empty(),
        Some((Part::Literal(lit), rest)) => input
            .strip_prefix(lit.as_str())
            .is_some_and(|tail| match_parts(rest, tail, values)),
        Some((Part::Var { name, reserved }, rest)) => {
            // Try the longest value first, then shorter ones (backtracking).
            let limit = if *reserved {
                input.len()
            } else {
                input.find('/').unwrap_or(input.len())
            };
            for end in (1..=limit).rev().filter(|&e| input.is_char_boundary(e)) {
                values.push((name.clone(), input[..end].to_string()));
                if match_parts(rest, &input[end..], values) {
                    return true;
                }
                values.pop();
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::UriTemplate;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_variable_matches_one_segment() {
        let t = UriTemplate::parse("hello://greeting/{name}").unwrap();
        assert_eq!(
            t.matches("hello://greeting/Ada"),
            Some(pairs(&[("name", "Ada")]))
        );
        assert_eq!(t.matches("hello://greeting/Ada/x"), None);
        assert_eq!(t.matches("hello://greeting/"), None);
        assert_eq!(t.variables().collect::<Vec<_>>(), ["name"]);
    }

    #[test]
    fn reserved_variables_match_slashes_and_literals_anchor() {
        let t = UriTemplate::parse("file:///{+path}.txt").unwrap();
        assert_eq!(
            t.matches("file:///a/b.txt"),
            Some(pairs(&[("path", "a/b")]))
        );
        let t = UriTemplate::parse("w://{city}/{day}").unwrap();
        assert_eq!(
            t.matches("w://paris/mon"),
            Some(pairs(&[("city", "paris"), ("day", "mon")]))
        );
    }

    #[test]
    fn malformed_templates_are_refused_with_the_reason() {
        assert!(
            UriTemplate::parse("a://{x")
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(
            UriTemplate::parse("a://{}")
                .unwrap_err()
                .contains("bad variable")
        );
        assert!(
            UriTemplate::parse("a://{x}{y}")
                .unwrap_err()
                .contains("adjacent")
        );
        assert!(
            UriTemplate::parse("a://x}")
                .unwrap_err()
                .contains("unmatched")
        );
    }
}
