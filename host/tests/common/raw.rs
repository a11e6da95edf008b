//! Raw protocol access, for checking the exact wire messages: a JSON-RPC line session
//! in-process, and HTTP requests of either MCP revision with their headers.

use std::time::Duration;

use pier::App;
use serde_json::{Value, json};

/// A client that speaks raw JSON-RPC lines to an in-process session, for checking the
/// exact wire messages (the rmcp client adds its own progress tokens, for one).
pub struct RawSession {
    writer: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>>,
}

impl RawSession {
    /// Opens a session of `app`, not yet initialized.
    pub fn connect(app: &App) -> Self {
        use tokio::io::AsyncBufReadExt;
        let (r, w) = tokio::io::split(super::pipe_to(app));
        Self {
            writer: w,
            lines: tokio::io::BufReader::new(r).lines(),
        }
    }

    /// Sends `initialize` as request 1; returns the response.
    pub async fn initialize(&mut self) -> Value {
        let (init, _) = self
            .request(
                1,
                "initialize",
                json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}),
            )
            .await;
        init
    }

    /// Opens a session of `app` and initializes it.
    pub async fn open(app: &App) -> Self {
        let mut session = Self::connect(app);
        let init = session.initialize().await;
        assert_eq!(init["result"]["serverInfo"]["name"], "pier");
        session
            .send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        session
    }

    pub async fn send(&mut self, message: Value) {
        use tokio::io::AsyncWriteExt;
        let mut line = message.to_string();
        line.push('\n');
        self.writer.write_all(line.as_bytes()).await.unwrap();
    }

    /// Sends request `id` and returns its response and the notifications before it.
    pub async fn request(&mut self, id: u64, method: &str, params: Value) -> (Value, Vec<Value>) {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let mut notifications = Vec::new();
        loop {
            let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
                .await
                .expect("a message within 30 s")
                .unwrap()
                .expect("the session is open");
            let message: Value = serde_json::from_str(&line).expect("every line is JSON");
            if message.get("id") == Some(&json!(id)) {
                return (message, notifications);
            }
            notifications.push(message);
        }
    }
}

/// A raw `initialize` request (id 1).
pub const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;

/// An MCP 2026-07-28 request: self-describing (its revision, client and
/// `capabilities` in `_meta`), no session.
pub fn modern(
    id: u64,
    method: &str,
    params: serde_json::Value,
    capabilities: serde_json::Value,
) -> String {
    let mut params = params;
    params["_meta"] = serde_json::json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    });
    serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}

/// A POST of the MCP 2026-07-28 request `body`, with the headers the revision asks
/// for: its version, `Mcp-Method`, and `Mcp-Name` (the tool, prompt or URI) when given.
pub fn post_modern(
    url: &str,
    body: &str,
    method: &str,
    name: Option<&str>,
) -> reqwest::RequestBuilder {
    let request = post(url, body)
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    match name {
        Some(name) => request.header("mcp-name", name),
        None => request,
    }
}

/// The JSON-RPC message of a one-message response (SSE or JSON).
pub async fn message(response: reqwest::Response) -> serde_json::Value {
    let text = response.text().await.unwrap();
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: ").filter(|d| !d.trim().is_empty()))
        .unwrap_or(&text);
    serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {text:.300}"))
}

/// Every JSON-RPC message of a finished response (SSE or JSON).
pub async fn messages(response: reqwest::Response) -> Vec<serde_json::Value> {
    let text = response.text().await.unwrap();
    if !text.starts_with('{') {
        return text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
    }
    vec![serde_json::from_str(&text).unwrap()]
}

/// A raw JSON-RPC POST to an MCP endpoint.
pub fn post(url: &str, body: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string())
}

/// A POST within session `id`, with the protocol version header a client sends.
pub fn in_session(url: &str, id: &str, body: &str) -> reqwest::RequestBuilder {
    post(url, body)
        .header("mcp-session-id", id)
        .header("mcp-protocol-version", "2025-11-25")
}

/// Initializes a raw session at the MCP endpoint `url`; returns its id.
pub async fn raw_session(url: &str) -> String {
    raw_session_with(url, INIT).await
}

/// [`raw_session`] initialized with the `initialize` request `init`.
pub async fn raw_session_with(url: &str, init: &str) -> String {
    let response = post(url, init).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let response = in_session(url, &id, initialized).send().await.unwrap();
    assert_eq!(
        response.status(),
        202,
        "a notification is accepted with 202"
    );
    id
}

/// One MCP 2026-07-28 `tools/call` of `tool` to `url`: `arguments`, and `extra` params
/// (input responses, request state) merged in; the answer's JSON-RPC message.
pub async fn modern_tool_round(
    url: &str,
    id: u64,
    tool: &str,
    arguments: serde_json::Value,
    extra: serde_json::Value,
    capabilities: serde_json::Value,
) -> serde_json::Value {
    let mut params = serde_json::json!({"name": tool, "arguments": arguments});
    if let (Some(params), serde_json::Value::Object(extra)) = (params.as_object_mut(), extra) {
        params.extend(extra);
    }
    let body = modern(id, "tools/call", params, capabilities);
    message(
        post_modern(url, &body, "tools/call", Some(tool))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// One SSE response read message by message.
pub struct Events {
    response: reqwest::Response,
    pending: String,
}

impl Events {
    pub fn of(response: reqwest::Response) -> Self {
        Self {
            response,
            pending: String::new(),
        }
    }

    /// The next message, within ten seconds.
    pub async fn next(&mut self) -> serde_json::Value {
        self.next_within(std::time::Duration::from_secs(10))
            .await
            .expect("a message within ten seconds")
    }

    /// The next message, within `within`; `None` when none came.
    pub async fn next_within(&mut self, within: std::time::Duration) -> Option<serde_json::Value> {
        let read = async {
            loop {
                if let Some(end) = self.pending.find("\n\n") {
                    let event: String = self.pending.drain(..end + 2).collect();
                    let data: String = event
                        .lines()
                        .filter_map(|l| l.strip_prefix("data:"))
                        .map(str::trim)
                        .collect();
                    if !data.is_empty() {
                        return serde_json::from_str::<serde_json::Value>(&data).unwrap();
                    }
                    continue;
                }
                let chunk = self
                    .response
                    .chunk()
                    .await
                    .unwrap()
                    .expect("the stream stays open");
                self.pending.push_str(&String::from_utf8_lossy(&chunk));
            }
        };
        tokio::time::timeout(within, read).await.ok()
    }

    /// The next message whose method is `method`, within ten seconds (others skipped).
    pub async fn next_of(&mut self, method: &str) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = self
                .next_within(left)
                .await
                .unwrap_or_else(|| panic!("no {method} within ten seconds"));
            if message["method"] == method {
                return message;
            }
        }
    }
}
