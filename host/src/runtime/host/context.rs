//! `pier:mcp/context`: what a plugin may ask of the request it serves.
//!
//! Every function is a thin view of the server's [`CallContext`](crate::runtime::CallContext):
//! what fails is a `context` error the guest sees, never a trap.

use crate::runtime::bindings::context::{
    ComponentKind, ElicitResult, Host, InputRequest, InputResponse, RequestInfo,
};
use crate::runtime::bindings::types::{Error, Json, LogLevel, PromptResult, ResourceContents};
use crate::runtime::state::{CallState, Elicited, Question, Reply};
use tracing::Instrument;

/// Largest log message (with its data), progress message or state value a plugin may
/// send, in bytes; a longer message is cut (state: refused), log data dropped.
const MAX_TEXT: usize = 1 << 20;

/// Most questions one `ask` may carry, and the longest key, in bytes.
pub(crate) const MAX_QUESTIONS: usize = 16;
pub(crate) const MAX_KEY: usize = 128;

/// Whether `key` may name a question: 1 to [`MAX_KEY`] bytes without control
/// characters.
pub(crate) fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY && !key.chars().any(char::is_control)
}

/// The questions of `ask`, checked: keys unique, short and non-empty, JSON parsed.
fn questions_of(questions: Vec<(String, InputRequest)>) -> Result<Vec<(String, Question)>, Error> {
    if questions.is_empty() || questions.len() > MAX_QUESTIONS {
        return Err(Error::InvalidParams(format!(
            "ask: {} questions; one call asks 1 to {MAX_QUESTIONS} at a time",
            questions.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    questions
        .into_iter()
        .map(|(key, question)| {
            if !valid_key(&key) {
                return Err(Error::InvalidParams(format!(
                    "ask: the key `{}` must be 1 to {MAX_KEY} bytes without control characters",
                    crate::text::clip(&key)
                )));
            }
            if !seen.insert(key.clone()) {
                return Err(Error::InvalidParams(format!(
                    "ask: the key `{key}` is used twice"
                )));
            }
            let question = match question {
                InputRequest::Sample(params) => Question::Sample(parse_json("ask", &params)?),
                InputRequest::Elicit((message, schema)) => Question::Elicit {
                    message,
                    schema: parse_json("ask", &schema)?,
                },
                InputRequest::ListRoots => Question::ListRoots,
            };
            Ok((key, question))
        })
        .collect()
}

fn elicit_result(answer: Elicited) -> ElicitResult {
    match answer {
        Elicited::Accept(content) => ElicitResult::Accept(content.to_string()),
        Elicited::Decline => ElicitResult::Decline,
        Elicited::Cancel => ElicitResult::Cancel,
    }
}

impl CallState {
    /// `answer`, unless a question was left for a later round trip: then the call
    /// stops (a trap the guest cannot catch; its work so far runs again on the retry).
    fn stop_if_suspended<T>(&self, answer: Result<T, Error>) -> wasmtime::Result<Result<T, Error>> {
        match answer {
            Err(_) if self.ctx.suspended() => Err(wasmtime::format_err!(
                "the call waits for the client's input (input_required)"
            )),
            answer => Ok(answer),
        }
    }
}

fn parse_json(what: &str, text: &str) -> Result<serde_json::Value, Error> {
    serde_json::from_str(text)
        .map_err(|e| Error::InvalidParams(format!("{what}: invalid JSON: {e}")))
}

impl Host for CallState {
    async fn log(
        &mut self,
        level: LogLevel,
        message: String,
        data: Option<Json>,
    ) -> wasmtime::Result<()> {
        let mut message = message;
        if message.len() > MAX_TEXT {
            let mut cut = MAX_TEXT;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let data = data.filter(|d| message.len() + d.len() <= MAX_TEXT);
        if !self
            .budget
            .take(message.len() + data.as_ref().map_or(0, String::len))
        {
            return Ok(());
        }
        let data = data.and_then(|d| serde_json::from_str(&d).ok());
        match level {
            LogLevel::Debug => tracing::debug!(plugin = %self.plugin, "{message}"),
            LogLevel::Info | LogLevel::Notice => tracing::info!(plugin = %self.plugin, "{message}"),
            LogLevel::Warning => tracing::warn!(plugin = %self.plugin, "{message}"),
            _ => tracing::error!(plugin = %self.plugin, "{message}"),
        }
        self.ctx.log(level, &self.plugin, message, data).await;
        Ok(())
    }

    async fn report_progress(
        &mut self,
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> wasmtime::Result<()> {
        let message = message.filter(|m| m.len() <= MAX_TEXT);
        if !self
            .budget
            .take(32 + message.as_ref().map_or(0, String::len))
        {
            return Ok(());
        }
        if progress.is_finite() && total.is_none_or(f64::is_finite) {
            self.ctx.progress(progress, total, message).await;
        }
        Ok(())
    }

    async fn sample(&mut self, request: Json) -> wasmtime::Result<Result<Json, Error>> {
        let request = match parse_json("sample", &request) {
            Ok(request) => request,
            Err(e) => return Ok(Err(e)),
        };
        let answer = self
            .ctx
            .sample(request)
            .instrument(crate::telemetry::trace::client(
                "sampling/createMessage",
                None,
                None,
            ))
            .await;
        Ok(self
            .stop_if_suspended(answer)?
            .map(|answer| answer.to_string()))
    }

    async fn elicit(
        &mut self,
        message: String,
        schema: Json,
    ) -> wasmtime::Result<Result<ElicitResult, Error>> {
        let schema = match parse_json("elicit", &schema) {
            Ok(schema) => schema,
            Err(e) => return Ok(Err(e)),
        };
        let answer = self
            .ctx
            .elicit(message, schema)
            .instrument(crate::telemetry::trace::client(
                "elicitation/create",
                None,
                None,
            ))
            .await;
        Ok(self.stop_if_suspended(answer)?.map(elicit_result))
    }

    async fn ask(
        &mut self,
        questions: Vec<(String, InputRequest)>,
    ) -> wasmtime::Result<Result<Vec<InputResponse>, Error>> {
        let questions = match questions_of(questions) {
            Ok(questions) => questions,
            Err(e) => return Ok(Err(e)),
        };
        let answer = self
            .ctx
            .ask(questions)
            .instrument(crate::telemetry::trace::ask())
            .await;
        let replies = match self.stop_if_suspended(answer)? {
            Ok(replies) => replies,
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(replies
            .into_iter()
            .map(|reply| match reply {
                Reply::Sampled(answer) => InputResponse::Sampled(answer.to_string()),
                Reply::Elicited(answer) => InputResponse::Elicited(elicit_result(answer)),
                Reply::Roots(answer) => InputResponse::Roots(answer.to_string()),
            })
            .collect()))
    }

    async fn request(&mut self) -> wasmtime::Result<RequestInfo> {
        let info = self.ctx.request_info();
        Ok(RequestInfo {
            request_id: info.request_id,
            session_id: info.session_id,
            client_name: info.client_name,
            client_version: info.client_version,
            subject: info.subject,
            scopes: info.scopes,
        })
    }

    async fn get_state(&mut self, key: String) -> wasmtime::Result<Option<Json>> {
        Ok(self.ctx.state().get(&key).map(|v| v.to_string()))
    }

    async fn set_state(&mut self, key: String, value: Json) -> wasmtime::Result<()> {
        if key.len() + value.len() > MAX_TEXT {
            wasmtime::bail!("context.set-state: key and value exceed {MAX_TEXT} bytes");
        }
        // A value that is not JSON is kept as a JSON string rather than trapping.
        let value = parse_json("set-state", &value).unwrap_or(serde_json::Value::String(value));
        // The WIT function has no error: state past its limit ends the call, saying why.
        self.ctx
            .state()
            .set(key, value)
            .map_err(|e| wasmtime::format_err!("context.set-state: {e}"))
    }

    async fn is_cancelled(&mut self) -> wasmtime::Result<bool> {
        Ok(self.ctx.is_cancelled())
    }

    async fn read_resource(
        &mut self,
        uri: String,
    ) -> wasmtime::Result<Result<Vec<ResourceContents>, Error>> {
        Ok(self.ctx.read_resource(uri).await)
    }

    async fn get_prompt(
        &mut self,
        name: String,
        arguments: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<PromptResult, Error>> {
        Ok(self.ctx.get_prompt(name, arguments).await)
    }

    async fn notify_resource_updated(
        &mut self,
        uri: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        Ok(self.ctx.notify_resource_updated(uri).await)
    }

    async fn start_task(&mut self) -> wasmtime::Result<bool> {
        Ok(self.ctx.start_task())
    }

    async fn set_enabled(
        &mut self,
        kind: ComponentKind,
        name: String,
        enabled: bool,
    ) -> wasmtime::Result<Result<bool, Error>> {
        Ok(self.ctx.set_enabled(kind, name, enabled))
    }
}
