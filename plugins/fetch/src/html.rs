//! HTML reduced to readable markdown: headings, paragraphs, lists, links, emphasis and
//! code kept; scripts, styles, navigation chrome and tags dropped; entities decoded;
//! whitespace collapsed. One pass over the text, no allocation per character beyond the
//! output.

/// Whether `text` starts like an HTML document.
pub fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .trim_start()
        .chars()
        .take(15)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// Elements whose content is never text for a reader.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "head", "nav", "footer", "iframe",
];

/// `html` as markdown.
pub fn to_markdown(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut skipping: Option<String> = None;
    let mut links: Vec<Option<String>> = Vec::new();
    // Open lists, innermost last: the last number given for an `ol`, `None` for a `ul`.
    let mut lists: Vec<Option<u64>> = Vec::new();
    let mut pre = 0usize;
    while let Some(open) = rest.find('<') {
        if skipping.is_none() {
            push_text(&mut out, &rest[..open], pre > 0);
        }
        rest = &rest[open..];
        if rest.starts_with("<!--") {
            rest = rest.find("-->").map_or("", |end| &rest[end + 3..]);
            continue;
        }
        let Some(close) = rest.find('>') else {
            break;
        };
        let tag = &rest[1..close];
        rest = &rest[close + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(skipped) = &skipping {
            if closing && *skipped == name {
                skipping = None;
            }
            continue;
        }
        if !closing && SKIPPED.contains(&name.as_str()) && !tag.ends_with('/') {
            skipping = Some(name);
            continue;
        }
        match (name.as_str(), closing) {
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", false) => {
                block(&mut out);
                let level = name[1..].parse::<usize>().unwrap_or(1);
                out.push_str(&"#".repeat(level));
                out.push(' ');
            }
            (
                "p" | "div" | "section" | "article" | "main" | "header" | "table" | "blockquote"
                | "h1" | "h2" | "h3" | "h4" | "h5" | "h6",
                _,
            ) => block(&mut out),
            ("ul" | "ol", false) => {
                block(&mut out);
                lists.push((name == "ol").then(|| {
                    attribute(tag, "start")
                        .and_then(|start| start.trim().parse::<u64>().ok())
                        .unwrap_or(1)
                        .saturating_sub(1)
                }));
            }
            ("ul" | "ol", true) => {
                lists.pop();
                block(&mut out);
            }
            ("br", _) => line(&mut out),
            ("tr", true) => line(&mut out),
            ("li", false) => {
                line(&mut out);
                match lists.last_mut() {
                    Some(Some(number)) => {
                        *number = number.saturating_add(1);
                        out.push_str(&format!("{number}. "));
                    }
                    _ => out.push_str("- "),
                }
            }
            ("td" | "th", false) => out.push_str(" | "),
            ("hr", _) => {
                block(&mut out);
                out.push_str("---");
                block(&mut out);
            }
            ("strong" | "b", _) => out.push_str("**"),
            ("em" | "i", _) => out.push('*'),
            ("code", _) if pre == 0 => out.push('`'),
            ("pre", false) => {
                block(&mut out);
                out.push_str("```\n");
                pre += 1;
            }
            ("pre", true) => {
                pre = pre.saturating_sub(1);
                out.push_str("\n```");
                block(&mut out);
            }
            ("a", false) => {
                links.push(attribute(tag, "href"));
                out.push('[');
            }
            ("a", true) => match links.pop() {
                Some(Some(href)) => out.push_str(&format!("]({href})")),
                _ => out.push(']'),
            },
            ("img", _) => {
                if let Some(alt) = attribute(tag, "alt").filter(|a| !a.is_empty()) {
                    out.push_str(&format!("[image: {alt}]"));
                }
            }
            _ => {}
        }
    }
    if skipping.is_none() {
        push_text(&mut out, rest, false);
    }
    tidy(&out)
}

/// The value of attribute `name` in a tag's text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let at = lower.find(&format!("{name}="))? + name.len() + 1;
    let value = &tag[at..];
    let value = match value.chars().next()? {
        quote @ ('"' | '\'') => value[1..].split(quote).next()?,
        _ => value
            .split(|c: char| c.is_whitespace() || c == '>')
            .next()?,
    };
    Some(decode(value))
}

fn push_text(out: &mut String, text: &str, keep_spaces: bool) {
    let decoded = decode(text);
    if keep_spaces {
        out.push_str(&decoded);
        return;
    }
    let mut last_space = out.ends_with([' ', '\n']) || out.is_empty();
    for c in decoded.chars() {
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
        } else {
            out.push(c);
            last_space = false;
        }
    }
}

fn line(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

fn block(out: &mut String) {
    line(out);
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
}

/// Lines trimmed at their end, at most one blank line between blocks, no blank edges.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

/// Character references: the common named ones, decimal and hexadecimal.
fn decode(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').filter(|end| *end <= 10);
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                "mdash" => Some('—'),
                "ndash" => Some('–'),
                "hellip" => Some('…'),
                "copy" => Some('©'),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_readable_markdown() {
        let html = "<!DOCTYPE html><html><head><title>T</title><style>p{}</style></head><body>\
            <nav>menu</nav><h1>Fish &amp; chips</h1><p>A <b>good</b> <a href=\"/x\">meal</a>.</p>\
            <script>alert(1)</script><ul><li>one</li><li>two &#8212; <i>three</i></li></ul>\
            <pre>let x = 1;\n  y</pre><p>end</p></body></html>";
        assert_eq!(
            to_markdown(html),
            "# Fish & chips\n\nA **good** [meal](/x).\n\n- one\n- two — *three*\n\n```\nlet x = 1;\n  y\n```\n\nend"
        );
        assert!(looks_like_html("  <!doctype HTML>"));
        assert!(!looks_like_html("{\"a\": 1}"));
        assert_eq!(decode("a &lt; b &unknown; &"), "a < b &unknown; &");
    }

    #[test]
    fn ordered_lists_are_numbered_from_their_start() {
        let html = "<ol><li>moor</li><li>pay</li></ol><ol start=\"7\"><li>seven<ul><li>dot</li>\
            </ul></li><li>eight</li></ol><ol start=\"x\"><li>one</li></ol><li>stray</li>";
        assert_eq!(
            to_markdown(html),
            "1. moor\n2. pay\n\n7. seven\n\n- dot\n\n8. eight\n\n1. one\n\n- stray"
        );
    }
}
