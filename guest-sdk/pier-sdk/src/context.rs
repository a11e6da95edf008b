//! The request a plugin function serves: log to the client, report progress, read
//! request information and request-scoped state.

use crate::__bindings::pier::mcp::context as host;
use crate::__bindings::pier::mcp::types as wit;

/// Severity of a log message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Significant but normal.
    Notice,
    /// Something looks wrong.
    Warning,
    /// Something failed.
    Error,
}

/// Who made the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// JSON-RPC id of the request, as JSON text.
    pub request_id: String,
    /// Transport session id, if any.
    pub session_id: Option<String>,
    /// The client's name.
    pub client_name: Option<String>,
    /// The client's version.
    pub client_version: Option<String>,
}

/// A handle on the request being served. Take `ctx: &Context` as a parameter of a
/// `#[tool]`, `#[resource]` or `#[prompt]` function to receive it.
#[derive(Debug)]
pub struct Context {
    _private: (),
}

impl Context {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }

    /// Sends a log message to the client (and pier's log).
    pub fn log(&self, level: LogLevel, message: impl AsRef<str>) {
        let level = match level {
            LogLevel::Debug => wit::LogLevel::Debug,
            LogLevel::Info => wit::LogLevel::Info,
            LogLevel::Notice => wit::LogLevel::Notice,
            LogLevel::Warning => wit::LogLevel::Warning,
            LogLevel::Error => wit::LogLevel::Error,
        };
        host::log(level, message.as_ref(), None);
    }

    /// Logs at `debug`.
    pub fn debug(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Debug, message);
    }

    /// Logs at `info`.
    pub fn info(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Info, message);
    }

    /// Logs at `warning`.
    pub fn warn(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Warning, message);
    }

    /// Logs at `error`.
    pub fn error(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Error, message);
    }

    /// Reports progress (sent only when the client asked for it). `progress` must increase.
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        host::report_progress(progress, total, message);
    }

    /// Who made the request.
    pub fn request(&self) -> RequestInfo {
        let info = host::request();
        RequestInfo {
            request_id: info.request_id,
            session_id: info.session_id,
            client_name: info.client_name,
            client_version: info.client_version,
        }
    }

    /// A request-scoped value set earlier in this request.
    pub fn get_state(&self, key: &str) -> Option<serde_json::Value> {
        host::get_state(key).and_then(|text| serde_json::from_str(&text).ok())
    }

    /// Sets a request-scoped value; it is gone when the request ends.
    pub fn set_state(&self, key: &str, value: &serde_json::Value) {
        host::set_state(key, &value.to_string());
    }

    /// True once the client cancelled the request.
    pub fn is_cancelled(&self) -> bool {
        host::is_cancelled()
    }
}
