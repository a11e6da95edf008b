//! `logging`: one log line per request — method, component, duration, outcome — as
//! text or (`structured = true`) as one JSON object, with payloads when asked for.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Middleware, MiddlewareContext, Next, Outcome, Request};

/// `[[middleware]] type = "logging"`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// One JSON object per line instead of text.
    pub structured: bool,
    /// Include the request's params and the result.
    pub payloads: bool,
    /// Longest payload logged, in characters (longer ones end with `…`).
    pub max_payload_length: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            structured: false,
            payloads: false,
            max_payload_length: 1000,
        }
    }
}

/// The logging middleware.
pub struct Logging {
    config: Config,
}

impl Logging {
    /// A logging middleware configured by `config`.
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    fn payload(&self, value: &Value) -> String {
        shorten(&value.to_string(), self.config.max_payload_length)
    }
}

/// `text` cut to `max` characters, marked with `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

/// How a request ended, for logs: `ok`, the tool call's outcome, or `error CODE`.
pub fn outcome_label(cx: &MiddlewareContext, result: &Outcome) -> String {
    match result {
        Ok(_) => cx
            .outcome()
            .filter(|_| cx.method() == "tools/call")
            .unwrap_or("ok")
            .to_string(),
        Err(e) => format!("error {}", e.code.0),
    }
}

#[async_trait]
impl Middleware for Logging {
    fn name(&self) -> &str {
        "logging"
    }

    async fn on_message(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        next: Next<'_>,
    ) -> Outcome {
        let method = request.method();
        let component = crate::text::clip(request.component().unwrap_or("-")).into_owned();
        let params = self.config.payloads.then(|| request.params());
        let started = std::time::Instant::now();
        let result = next.run(cx, request).await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let outcome = outcome_label(cx, &result);
        let session = cx.request().session_key();
        // Who asked, when the request was authenticated (never the token).
        let subject = cx.subject();
        let who = subject.map_or_else(String::new, |s| format!(", subject {s}"));
        let result_json = self.config.payloads.then(|| match &result {
            Ok(response) => response.to_json(),
            Err(e) => json!({ "code": e.code.0, "message": e.message }),
        });
        if self.config.structured {
            let mut line = json!({
                "method": method,
                "component": component,
                "duration_ms": (ms * 1000.0).round() / 1000.0,
                "outcome": outcome,
                "session": session,
            });
            if let Some(subject) = subject {
                line["subject"] = Value::String(subject.to_string());
            }
            if let (Some(params), Some(result)) = (&params, &result_json) {
                line["params"] = Value::String(self.payload(params));
                line["result"] = Value::String(self.payload(result));
            }
            tracing::info!(target: "pier::access", "{line}");
        } else {
            match (&params, &result_json) {
                (Some(params), Some(result)) => tracing::info!(
                    target: "pier::access",
                    "{method} {component} {outcome} in {ms:.3} ms (session {session}{who}) params={} result={}",
                    self.payload(params),
                    self.payload(result)
                ),
                _ => tracing::info!(
                    target: "pier::access",
                    "{method} {component} {outcome} in {ms:.3} ms (session {session}{who})"
                ),
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn long_payloads_are_cut_on_a_character_boundary() {
        assert_eq!(shorten("abcdef", 3), "abc…");
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("ééé", 2), "éé…");
    }
}
