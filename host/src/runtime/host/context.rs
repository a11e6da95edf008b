//! `pier:mcp/context`: what a plugin may ask of the request it serves.
//!
//! Every function is a thin view of the server's [`CallContext`](crate::runtime::CallContext):
//! what fails is a `context` error the guest sees, never a trap.

use crate::runtime::bindings::context::{ElicitResult, Host, RequestInfo};
use crate::runtime::bindings::types::{Error, Json, LogLevel, PromptResult, ResourceContents};
use crate::runtime::state::{CallState, Elicited};

/// Largest log message (with its data), progress message or state value a plugin may
/// send, in bytes; a longer message is cut (state: refused), log data dropped.
const MAX_TEXT: usize = 1 << 20;

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
        Ok(self
            .ctx
            .sample(request)
            .await
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
        Ok(self
            .ctx
            .elicit(message, schema)
            .await
            .map(|answer| match answer {
                Elicited::Accept(content) => ElicitResult::Accept(content.to_string()),
                Elicited::Decline => ElicitResult::Decline,
                Elicited::Cancel => ElicitResult::Cancel,
            }))
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
}
