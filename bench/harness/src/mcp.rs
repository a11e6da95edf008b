//! A minimal MCP client for load: one session over streamable HTTP (JSON or SSE
//! responses) or over a child process's stdio, sending one request at a time.

use std::process::Stdio;

use anyhow::{Context as _, anyhow, bail};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The protocol revision the load generator speaks in sessions.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// The revision of sessionless, self-describing requests ([`HttpSession::sessionless`]).
pub const MODERN_VERSION: &str = "2026-07-28";

fn initialize_params() -> Value {
    json!({
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "pier-loadgen", "version": env!("CARGO_PKG_VERSION")},
    })
}

/// The result of a JSON-RPC response, or its error as an `Err`.
fn result_of(response: Value) -> anyhow::Result<Value> {
    if let Some(error) = response.get("error") {
        bail!("JSON-RPC error: {error}");
    }
    response
        .get("result")
        .cloned()
        .ok_or_else(|| anyhow!("response without result: {response}"))
}

/// One MCP session.
pub enum Session {
    /// Streamable HTTP.
    Http(HttpSession),
    /// A child process speaking newline-delimited JSON-RPC.
    Stdio(Box<StdioSession>),
}

impl Session {
    /// Sends request `method` and waits for its result.
    pub async fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        match self {
            Self::Http(s) => s.request(method, params).await,
            Self::Stdio(s) => s.request(method, params).await,
        }
    }

    /// Ends the session (DELETE over HTTP; closing stdin over stdio).
    pub async fn close(self) {
        match self {
            Self::Http(s) => s.close().await,
            Self::Stdio(s) => s.close().await,
        }
    }
}

/// A session over streamable HTTP.
pub struct HttpSession {
    client: reqwest::Client,
    url: String,
    session: Option<String>,
    next_id: u64,
    /// Speaks MCP 2026-07-28: no `initialize`, no session, each request self-describing.
    modern: bool,
    /// Sent as `Authorization: Bearer …` with every request.
    token: Option<String>,
    /// What the next request declares (MCP 2026-07-28); none when `None`.
    capabilities: Option<Value>,
}

impl HttpSession {
    /// Initializes a session at `url` (e.g. `http://127.0.0.1:8000/mcp`).
    pub async fn open(client: &reqwest::Client, url: &str) -> anyhow::Result<Self> {
        let mut s = Self::sessionless(client, url);
        s.initialize().await?;
        Ok(s)
    }

    /// The `initialize` handshake: from now on the requests belong to a session (MCP
    /// 2025-11-25).
    async fn initialize(&mut self) -> anyhow::Result<()> {
        self.modern = false;
        self.request("initialize", initialize_params()).await?;
        let response = self
            .post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("notifications/initialized: HTTP {}", response.status());
        }
        Ok(())
    }

    /// A client of `url` as the Python `mcp` 2.x and FastMCP 4 clients are: MCP
    /// 2026-07-28, no session; every request carries its revision, client and
    /// capabilities in `_meta` and the `Mcp-Method`/`Mcp-Name` headers.
    pub fn sessionless(client: &reqwest::Client, url: &str) -> Self {
        Self {
            client: client.clone(),
            url: url.to_string(),
            session: None,
            next_id: 0,
            modern: true,
            token: None,
            capabilities: None,
        }
    }

    /// A session at `url` whose requests carry bearer `token` (initialized, unless
    /// `modern`: then sessionless as [`HttpSession::sessionless`]).
    pub async fn with_token(
        client: &reqwest::Client,
        url: &str,
        token: &str,
        modern: bool,
    ) -> anyhow::Result<Self> {
        let mut s = Self::sessionless(client, url);
        s.token = Some(token.to_string());
        if !modern {
            s.initialize().await?;
        }
        Ok(s)
    }

    /// Sends request `method` with `capabilities` declared (MCP 2026-07-28) and returns
    /// its result.
    pub async fn request_declaring(
        &mut self,
        method: &str,
        params: Value,
        capabilities: Value,
    ) -> anyhow::Result<Value> {
        self.capabilities = Some(capabilities);
        let result = self.request(method, params).await;
        self.capabilities = None;
        result
    }

    fn post(&self, body: Value) -> reqwest::RequestBuilder {
        let version = if self.modern {
            MODERN_VERSION
        } else {
            PROTOCOL_VERSION
        };
        let mut request = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", version);
        if self.modern {
            if let Some(method) = body["method"].as_str() {
                request = request.header("mcp-method", method);
            }
            let params = &body["params"];
            let name = params["name"].as_str().or(params["uri"].as_str());
            if let Some(name) = name.or(params["taskId"].as_str()) {
                request = request.header("mcp-name", name);
            }
        }
        let mut request = request.body(body.to_string());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(id) = &self.session {
            request = request.header("mcp-session-id", id);
        }
        request
    }

    /// Sends request `method` and waits for its result.
    pub async fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut params = params;
        if self.modern {
            params["_meta"] = json!({
                "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
                "io.modelcontextprotocol/clientInfo":
                    {"name": "pier-loadgen", "version": env!("CARGO_PKG_VERSION")},
                "io.modelcontextprotocol/clientCapabilities":
                    self.capabilities.clone().unwrap_or_else(|| json!({})),
            });
        }
        let response = self
            .post(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            bail!("{method}: HTTP {status}: {body}");
        }
        if let Some(session) = response.headers().get("mcp-session-id") {
            self.session = Some(session.to_str()?.to_string());
        }
        let sse = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !sse {
            return result_of(response.json().await?);
        }
        // Read events until the response to `id` arrives (notifications may come first).
        let mut body = response.bytes_stream();
        let mut buffer = String::new();
        while let Some(chunk) = body.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk?));
            if buffer.contains('\r') {
                buffer = buffer.replace("\r\n", "\n");
            }
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                let data: String = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if data.is_empty() {
                    continue;
                }
                let message: Value = serde_json::from_str(&data)
                    .with_context(|| format!("{method}: SSE data is not JSON: {data}"))?;
                if message.get("id") == Some(&json!(id)) {
                    return result_of(message);
                }
            }
        }
        bail!("{method}: the SSE stream ended without a response")
    }

    /// Ends the session (DELETE).
    pub async fn close(self) {
        if let Some(id) = &self.session {
            let mut delete = self
                .client
                .delete(&self.url)
                .header("mcp-session-id", id)
                .header("mcp-protocol-version", PROTOCOL_VERSION);
            if let Some(token) = &self.token {
                delete = delete.bearer_auth(token);
            }
            let _ = delete.send().await;
        }
    }
}

/// A session with a child process over its stdin and stdout.
pub struct StdioSession {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    next_id: u64,
}

impl StdioSession {
    /// Starts `command` (program and arguments) and initializes a session with it.
    pub async fn open(command: &[String]) -> anyhow::Result<Self> {
        let (program, args) = command
            .split_first()
            .ok_or_else(|| anyhow!("empty stdio command"))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {program}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut s = Self {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            next_id: 0,
        };
        s.request("initialize", initialize_params()).await?;
        s.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(s)
    }

    async fn send(&mut self, message: Value) -> anyhow::Result<()> {
        let mut line = message.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await?;
        Ok(())
    }

    async fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await?;
        while let Some(line) = self.lines.next_line().await? {
            let Ok(message) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if message.get("id") == Some(&json!(id)) {
                return result_of(message);
            }
        }
        bail!("{method}: the server closed stdout")
    }

    async fn close(mut self) {
        drop(self.stdin);
        let wait = tokio::time::timeout(std::time::Duration::from_secs(5), self.child.wait());
        if wait.await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}
