//! `redact`: a pier middleware component that masks e-mail addresses and long digit
//! runs (card, account and phone numbers) in tool results before they reach the client.
//!
//! It implements the `pier-middleware` world directly with `wit-bindgen`: `methods`
//! asks for `tools/call` only, `before` lets every call through, and `after` rewrites
//! the text content and every string of the structured content.

wit_bindgen::generate!({
    path: "../../wit",
    world: "pier-middleware",
});

use exports::pier::mcp::middleware::{Action, Guest, Request};
use pier::mcp::types::Error;
use serde_json::Value;

/// What an e-mail address becomes.
pub const EMAIL: &str = "[redacted email]";
/// What a run of 6 or more digits becomes.
pub const NUMBER: &str = "[redacted number]";
/// Digits in a run that is masked (single spaces or hyphens between digits do not
/// break a run: `4111 1111 1111 1111`, `+1-555-010-9999`).
pub const MIN_DIGITS: usize = 6;

struct Redact;

impl Guest for Redact {
    fn methods() -> Vec<String> {
        vec!["tools/call".into()]
    }

    fn before(_: Request) -> Result<Action, Error> {
        Ok(Action::Proceed)
    }

    fn after(_: Request, response: String) -> Result<Option<String>, Error> {
        let mut result: Value = serde_json::from_str(&response)
            .map_err(|e| Error::Failed(format!("redact: not a tool result: {e}")))?;
        let mut changed = false;
        if let Some(items) = result.get_mut("content").and_then(Value::as_array_mut) {
            for item in items {
                if let Some(text) = item.get_mut("text") {
                    changed |= redact_value(text);
                }
            }
        }
        if let Some(structured) = result.get_mut("structuredContent") {
            changed |= redact_value(structured);
        }
        Ok(changed.then(|| result.to_string()))
    }
}

export!(Redact);

/// Redacts every string in `value`; true when one changed.
fn redact_value(value: &mut Value) -> bool {
    match value {
        Value::String(text) => {
            let redacted = redact(text);
            let changed = redacted != *text;
            *text = redacted;
            changed
        }
        Value::Array(items) => redact_all(items.iter_mut()),
        Value::Object(map) => redact_all(map.values_mut()),
        _ => false,
    }
}

/// Redacts every value of `values` (all of them, not only up to the first change).
fn redact_all<'a>(values: impl Iterator<Item = &'a mut Value>) -> bool {
    let mut changed = false;
    for value in values {
        changed |= redact_value(value);
    }
    changed
}

/// `text` with e-mail addresses and long digit runs masked.
pub fn redact(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if let Some(end) = email_at(&chars, i) {
            out.push_str(EMAIL);
            i = end;
        } else if let Some(end) = number_at(&chars, i) {
            out.push_str(NUMBER);
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._%+-".contains(c)
}

fn domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '-'
}

/// The end of an e-mail address starting at `start`, if one does.
fn email_at(chars: &[char], start: usize) -> Option<usize> {
    if !local_char(chars[start]) || (start > 0 && local_char(chars[start - 1])) {
        return None;
    }
    let at = start
        + chars[start..]
            .iter()
            .take_while(|c| local_char(**c))
            .count();
    if at == start || chars.get(at) != Some(&'@') {
        return None;
    }
    let mut end = at
        + 1
        + chars[at + 1..]
            .iter()
            .take_while(|c| domain_char(**c))
            .count();
    while end > at + 1 && !chars[end - 1].is_ascii_alphanumeric() {
        end -= 1;
    }
    let domain: String = chars[at + 1..end].iter().collect();
    let tld = domain.rsplit('.').next().unwrap_or("");
    let valid = domain.contains('.')
        && !domain.starts_with(['.', '-'])
        && !domain.contains("..")
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic());
    valid.then_some(end)
}

/// The end of a run of at least [`MIN_DIGITS`] digits starting at `start`, if one does.
fn number_at(chars: &[char], start: usize) -> Option<usize> {
    if !chars[start].is_ascii_digit() {
        return None;
    }
    let (mut i, mut digits, mut end) = (start, 0, start);
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            digits += 1;
            i += 1;
            end = i;
        } else if (chars[i] == ' ' || chars[i] == '-')
            && chars.get(i + 1).is_some_and(char::is_ascii_digit)
        {
            i += 1;
        } else {
            break;
        }
    }
    (digits >= MIN_DIGITS).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn emails_and_long_digit_runs_are_masked() {
        assert_eq!(
            redact("Mail ada.lovelace+pier@example.co.uk, not @home."),
            "Mail [redacted email], not @home."
        );
        assert_eq!(
            redact("card 4111 1111 1111 1111 exp 12/30, call +1-555-010-9999"),
            "card [redacted number] exp 12/30, call +[redacted number]"
        );
        assert_eq!(redact("order 12345 of 2026"), "order 12345 of 2026");
        assert_eq!(redact("id 1234567"), "id [redacted number]");
        assert_eq!(redact("user@localhost stays"), "user@localhost stays");
    }
}
