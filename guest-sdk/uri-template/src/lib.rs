//! RFC 6570 URI templates, as far as MCP resource templates need them: `{var}` matches
//! one path segment (no `/`), `{+var}` matches anything, the rest is literal. One parser
//! and one matcher, shared by pier and its SDK.
//!
//! Matching takes time linear in the URI's length for a given template (at most
//! `template length × URI length` steps, with one allocation), whatever the URI: a
//! failed match of a long URI costs no more than a successful one. When several splits
//! of a URI match, each variable takes the longest value that lets the rest match, from
//! the first variable to the last (what a backtracking matcher would find first).

#![deny(missing_docs)]

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

    /// Whether the template has no variables (it names one URI).
    pub fn is_literal(&self) -> bool {
        self.variables().next().is_none()
    }

    /// The variables' values (slices of `uri`, not decoded) when `uri` matches.
    pub fn matches<'u>(&self, uri: &'u str) -> Option<Vec<(&str, &'u str)>> {
        let parts = &self.parts;
        // Most templates a URI is tried against differ in their fixed start or end:
        // refuse those before any work.
        if let Some(Part::Literal(first)) = parts.first()
            && !uri.starts_with(first.as_str())
        {
            return None;
        }
        if let Some(Part::Literal(last)) = parts.last()
            && !uri.ends_with(last.as_str())
        {
            return None;
        }
        let table = Table::build(parts, uri);
        if !table.get(0, 0) {
            return None;
        }
        // Walk forward: each variable takes the longest value after which the rest
        // matches (the table says where that is).
        let mut values = Vec::new();
        let mut at = 0;
        for (i, part) in parts.iter().enumerate() {
            match part {
                Part::Literal(lit) => at += lit.len(),
                Part::Var { name, reserved } => {
                    let limit = segment_end(uri, at, *reserved);
                    let end = (at + 1..=limit).rev().find(|&e| table.get(i + 1, e))?;
                    values.push((name.as_str(), uri.get(at..end)?));
                    at = end;
                }
            }
        }
        Some(values)
    }
}

/// Where a variable starting at `at` must end at the latest: the end of the URI for
/// `{+var}`, the next `/` for `{var}`.
fn segment_end(uri: &str, at: usize, reserved: bool) -> usize {
    if reserved {
        return uri.len();
    }
    uri.as_bytes()
        .get(at..)
        .and_then(|rest| rest.iter().position(|&b| b == b'/'))
        .map_or(uri.len(), |p| at + p)
}

/// `get(i, j)`: whether `uri[j..]` matches the parts from `i` on; filled from the last
/// part to the first, each row in one pass over the URI.
struct Table {
    width: usize,
    cells: Vec<bool>,
}

impl Table {
    fn build(parts: &[Part], uri: &str) -> Self {
        let n = uri.len();
        let width = n + 1;
        let mut table = Self {
            width,
            cells: vec![false; (parts.len() + 1) * width],
        };
        table.set(parts.len(), n);
        let bytes = uri.as_bytes();
        for (i, part) in parts.iter().enumerate().rev() {
            match part {
                Part::Literal(lit) => {
                    let lit = lit.as_bytes();
                    for j in 0..=n.saturating_sub(lit.len()) {
                        if uri.is_char_boundary(j)
                            && bytes.get(j..j + lit.len()) == Some(lit)
                            && table.get(i + 1, j + lit.len())
                        {
                            table.set(i, j);
                        }
                    }
                }
                Part::Var { reserved, .. } => {
                    // From the right: the nearest end after `j` where the rest matches,
                    // and the nearest `/` at or after `j` (a `{var}` must end before it).
                    let mut nearest_end: Option<usize> = None;
                    let mut next_slash = n;
                    for j in (0..=n).rev() {
                        if bytes.get(j) == Some(&b'/') {
                            next_slash = j;
                        }
                        let limit = if *reserved { n } else { next_slash };
                        if nearest_end.is_some_and(|e| e <= limit) && uri.is_char_boundary(j) {
                            table.set(i, j);
                        }
                        if table.get(i + 1, j) {
                            nearest_end = Some(j);
                        }
                    }
                }
            }
        }
        table
    }

    fn get(&self, part: usize, at: usize) -> bool {
        self.cells
            .get(part * self.width + at)
            .copied()
            .unwrap_or(false)
    }

    fn set(&mut self, part: usize, at: usize) {
        if let Some(cell) = self.cells.get_mut(part * self.width + at) {
            *cell = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::UriTemplate;

    fn m<'u>(template: &str, uri: &'u str) -> Option<Vec<(String, &'u str)>> {
        let t = UriTemplate::parse(template).unwrap();
        t.matches(uri)
            .map(|v| v.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    fn pairs<'a>(v: &[(&str, &'a str)]) -> Option<Vec<(String, &'a str)>> {
        Some(v.iter().map(|(a, b)| (a.to_string(), *b)).collect())
    }

    #[test]
    fn a_variable_matches_one_segment() {
        let t = UriTemplate::parse("hello://greeting/{name}").unwrap();
        assert_eq!(t.variables().collect::<Vec<_>>(), ["name"]);
        assert_eq!(
            m("hello://greeting/{name}", "hello://greeting/Ada"),
            pairs(&[("name", "Ada")])
        );
        assert_eq!(m("hello://greeting/{name}", "hello://greeting/Ada/x"), None);
        assert_eq!(m("hello://greeting/{name}", "hello://greeting/"), None);
        assert_eq!(m("hello://greeting/{name}", "hello://other/Ada"), None);
    }

    #[test]
    fn reserved_variables_match_slashes_and_literals_anchor() {
        assert_eq!(
            m("file:///{+path}.txt", "file:///a/b.txt"),
            pairs(&[("path", "a/b")])
        );
        assert_eq!(
            m("w://{city}/{day}", "w://paris/mon"),
            pairs(&[("city", "paris"), ("day", "mon")])
        );
        assert_eq!(m("w://{city}/{day}", "w://paris/mon/x"), None);
    }

    #[test]
    fn each_variable_takes_the_longest_value_that_lets_the_rest_match() {
        assert_eq!(
            m("x://{+a}/{+b}", "x://p/q/r"),
            pairs(&[("a", "p/q"), ("b", "r")])
        );
        assert_eq!(
            m("x://{a}-{b}", "x://1-2-3"),
            pairs(&[("a", "1-2"), ("b", "3")])
        );
        assert_eq!(
            m("x://{+a}.{+b}.txt", "x://a.b.c.txt"),
            pairs(&[("a", "a.b"), ("b", "c")])
        );
        // Overlapping literal occurrences.
        assert_eq!(
            m("x://{a}aa{b}", "x://aaaaa"),
            pairs(&[("a", "aa"), ("b", "a")])
        );
        assert_eq!(m("x://{a}aa{b}", "x://aaa"), None);
    }

    #[test]
    fn multibyte_values_split_on_character_boundaries() {
        assert_eq!(
            m("x://{a}é{b}", "x://çéé"),
            pairs(&[("a", "ç"), ("b", "é")])
        );
        assert_eq!(m("x://{a}", "x://日本"), pairs(&[("a", "日本")]));
    }

    #[test]
    fn a_literal_template_matches_only_itself() {
        let t = UriTemplate::parse("a://b").unwrap();
        assert!(t.is_literal());
        assert_eq!(m("a://b", "a://b"), Some(vec![]));
        assert_eq!(m("a://b", "a://bb"), None);
    }

    #[test]
    fn a_long_uri_that_fails_late_is_refused_in_linear_time() {
        // A backtracking matcher tries every split of the long segment against every
        // split after it: hours for this input. Linear: a few milliseconds.
        let uri = format!("x://{}/", "a".repeat(1 << 20));
        assert_eq!(m("x://{a}/{b}", &uri), None);
        let uri = format!("x://{}", "a/".repeat(1 << 19));
        assert_eq!(m("x://{+a}/{+b}/{+c}.txt", &uri), None);
        assert!(m("x://{+a}/{+b}", &uri).is_some());
    }

    #[test]
    fn malformed_templates_are_refused_with_the_reason() {
        let err = |t: &str| UriTemplate::parse(t).unwrap_err();
        assert!(err("a://{x").contains("unclosed"));
        assert!(err("a://{}").contains("bad variable"));
        assert!(err("a://{x}{y}").contains("adjacent"));
        assert!(err("a://x}").contains("unmatched"));
    }
}
