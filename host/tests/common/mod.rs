//! Shared by the integration tests: fixture paths, plugin directories, a recording MCP
//! client, and ways to start pier (in-process over a duplex pipe, or as a child process).
#![allow(dead_code, deprecated)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pier::transport::http::{self, HttpOptions};
use pier::{App, ServeConfig};
use rmcp::model::*;
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn must_exist(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run `make plugins polyglot` (or `make test`)",
        path.display()
    );
    path
}

/// An example plugin built by `make plugins` (`plugins.d/NAME.wasm`).
pub fn example(name: &str) -> PathBuf {
    must_exist(root().join("plugins.d").join(format!("{name}.wasm")))
}

/// A test fixture built by `make plugins` / `make polyglot` (`target/fixtures/NAME.wasm`).
pub fn fixture(name: &str) -> PathBuf {
    must_exist(root().join("target/fixtures").join(format!("{name}.wasm")))
}

/// A data dir shared by tests so that each fixture is compiled once per test run.
pub fn shared_data_dir() -> PathBuf {
    root().join("target/test-data")
}

/// A temporary plugin directory.
pub struct PluginDir {
    pub dir: tempfile::TempDir,
}

impl PluginDir {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A directory with the two example plugins.
    pub fn examples() -> Self {
        Self::new()
            .with(&example("hello"), "hello")
            .with(&example("calc"), "calc")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Copies `file` in as `NAME.wasm`.
    pub fn with(self, file: &Path, name: &str) -> Self {
        std::fs::copy(file, self.path().join(format!("{name}.wasm"))).unwrap();
        self
    }

    /// Writes `bytes` as `NAME.wasm`.
    pub fn with_bytes(self, name: &str, bytes: &[u8]) -> Self {
        std::fs::write(self.path().join(format!("{name}.wasm")), bytes).unwrap();
        self
    }

    /// Writes the sidecar `NAME.toml`.
    pub fn with_sidecar(self, name: &str, toml: &str) -> Self {
        std::fs::write(self.path().join(format!("{name}.toml")), toml).unwrap();
        self
    }

    /// A configuration serving this directory, not following it: most tests drop the
    /// directory once pier has started, which a watching pier would (rightly) see as
    /// every plugin being deleted. See [`PluginDir::watched_config`].
    pub fn config(&self) -> ServeConfig {
        ServeConfig {
            plugins_dir: self.path().to_path_buf(),
            data_dir: shared_data_dir(),
            // The sled store is one process's at a time; tests run many pier at once.
            storage: pier::storage::Backend::Memory,
            watch: false,
            ..ServeConfig::default()
        }
    }

    /// A configuration serving this directory and following its changes.
    pub fn watched_config(&self) -> ServeConfig {
        ServeConfig {
            watch: true,
            ..self.config()
        }
    }
}

/// What the client received besides responses.
#[derive(Default)]
pub struct Received {
    pub logs: Vec<LoggingMessageNotificationParam>,
    pub progress: Vec<ProgressNotificationParam>,
    /// `notifications/tools/list_changed` received.
    pub tools_changed: usize,
    /// `notifications/resources/list_changed` received.
    pub resources_changed: usize,
    /// `notifications/prompts/list_changed` received.
    pub prompts_changed: usize,
    /// `notifications/resources/updated` received: their URIs.
    pub updated: Vec<String>,
    /// `sampling/createMessage` requests received.
    pub sampling: Vec<CreateMessageRequestParams>,
    /// `elicitation/create` requests received (their params as JSON).
    pub elicitations: Vec<Value>,
}

/// How a [`Recorder`] answers the server's requests; a capability it has no answer for
/// is not declared.
#[derive(Clone, Default)]
pub struct Answers {
    /// `sampling/createMessage`: a result, or a JSON-RPC error (the user declined).
    pub sampling: Option<Result<CreateMessageResult, ErrorData>>,
    /// `elicitation/create`.
    pub elicitation: Option<ElicitResult>,
}

/// A client that records notifications and the server's requests.
#[derive(Clone, Default)]
pub struct Recorder {
    pub received: Arc<Mutex<Received>>,
    changed: Arc<tokio::sync::Notify>,
    answers: Arc<Answers>,
}

impl Recorder {
    /// A recorder that answers sampling and elicitation as `answers` says.
    pub fn answering(answers: Answers) -> Self {
        Self {
            answers: Arc::new(answers),
            ..Self::default()
        }
    }

    /// Waits (bounded) until `ready` holds for what was received.
    pub async fn wait_for(&self, what: &str, ready: impl Fn(&Received) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let notified = self.changed.notified();
            if ready(&self.received.lock().unwrap()) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("timed out waiting for {what}");
            }
        }
    }

    pub fn log_texts(&self) -> Vec<String> {
        let r = self.received.lock().unwrap();
        r.logs
            .iter()
            .map(|l| l.data.as_str().unwrap_or_default().to_string())
            .collect()
    }
}

impl ClientHandler for Recorder {
    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.received.lock().unwrap().logs.push(params);
        self.changed.notify_waiters();
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.received.lock().unwrap().progress.push(params);
        self.changed.notify_waiters();
    }

    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.received.lock().unwrap().tools_changed += 1;
        self.changed.notify_waiters();
    }

    async fn on_resource_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.received.lock().unwrap().resources_changed += 1;
        self.changed.notify_waiters();
    }

    async fn on_prompt_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.received.lock().unwrap().prompts_changed += 1;
        self.changed.notify_waiters();
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.received.lock().unwrap().updated.push(params.uri);
        self.changed.notify_waiters();
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        self.received.lock().unwrap().sampling.push(params);
        self.changed.notify_waiters();
        self.answers
            .sampling
            .clone()
            .unwrap_or_else(|| Err(ErrorData::method_not_found::<CreateMessageRequestMethod>()))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        self.received
            .lock()
            .unwrap()
            .elicitations
            .push(serde_json::to_value(&request).unwrap());
        self.changed.notify_waiters();
        self.answers
            .elicitation
            .clone()
            .ok_or_else(ErrorData::method_not_found::<ElicitationCreateRequestMethod>)
    }

    fn get_info(&self) -> ClientInfo {
        let mut capabilities = ClientCapabilities::default();
        if self.answers.sampling.is_some() {
            capabilities.sampling = Some(Default::default());
        }
        if self.answers.elicitation.is_some() {
            capabilities.elicitation = Some(Default::default());
        }
        ClientInfo::new(capabilities, Implementation::new("pier-tests", "1.2.3"))
    }
}

pub type Client = RunningService<RoleClient, Recorder>;

/// Connects a recording client to a new session of `app` over an in-process pipe.
pub async fn connect(app: &App) -> (Client, Recorder) {
    let recorder = Recorder::default();
    (connect_with(app, recorder.clone()).await, recorder)
}

/// Connects `recorder` to a new session of `app` over an in-process pipe.
pub async fn connect_with(app: &App, recorder: Recorder) -> Client {
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    let server = app.session(None);
    tokio::spawn(async move {
        let (r, w) = tokio::io::split(server_io);
        let _ = pier::transport::stdio::serve(server, r, w).await;
    });
    let (r, w) = tokio::io::split(client_io);
    recorder.serve((r, w)).await.expect("client connects")
}

/// Starts pier on `dir` in-process and connects a client.
pub async fn start(dir: &PluginDir) -> (App, Client, Recorder) {
    let app = App::start(&dir.config()).await.expect("pier starts");
    let (client, recorder) = connect(&app).await;
    (app, client, recorder)
}

/// `tools/call` with JSON arguments.
pub async fn call(
    client: &Client,
    tool: &str,
    args: Value,
) -> Result<CallToolResult, rmcp::ServiceError> {
    let mut params = CallToolRequestParams::new(tool.to_string());
    if let Value::Object(map) = args {
        params = params.with_arguments(map);
    }
    client.peer().call_tool(params).await
}

/// The single text content of a tool result.
pub fn text(result: &CallToolResult) -> String {
    let content = serde_json::to_value(&result.content).unwrap();
    assert_eq!(
        content.as_array().map(Vec::len),
        Some(1),
        "expected one content item: {content}"
    );
    content[0]["text"]
        .as_str()
        .expect("a text item")
        .to_string()
}

/// The JSON-RPC error of a failed request.
pub fn mcp_error(error: rmcp::ServiceError) -> ErrorData {
    match error {
        rmcp::ServiceError::McpError(e) => e,
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
}

/// Asserts that `hello_greet` still answers: the server survived whatever came before.
pub async fn assert_still_serving(client: &Client) {
    let result = call(client, "hello_greet", json!({"name": "Ada"}))
        .await
        .expect("hello_greet answers");
    assert_eq!(text(&result), "Hello, Ada!");
    assert_ne!(result.is_error, Some(true));
}

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
        let (client_io, server_io) = tokio::io::duplex(1 << 20);
        let server = app.session(None);
        tokio::spawn(async move {
            let (r, w) = tokio::io::split(server_io);
            let _ = pier::transport::stdio::serve(server, r, w).await;
        });
        let (r, w) = tokio::io::split(client_io);
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
    let response = post(url, INIT).send().await.unwrap();
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

/// A pier serving HTTP on a free loopback port.
pub struct Server {
    pub url: String,
    pub base: String,
    pub app: Arc<App>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(dir: &PluginDir, tweak: impl FnOnce(&mut HttpOptions)) -> Self {
        let mut config: ServeConfig = dir.config();
        config.http.listen = "127.0.0.1:0".parse().unwrap();
        tweak(&mut config.http);
        let app = Arc::new(App::start(&config).await.expect("pier starts"));
        Self::serve(app, &config).await
    }

    pub async fn serve(app: Arc<App>, config: &ServeConfig) -> Self {
        let listener = tokio::net::TcpListener::bind(config.http.listen)
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let lifecycle = http::Lifecycle::of(&app);
        let router = http::router(app.clone(), &config.http, &lifecycle);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(http::serve(
            listener,
            router,
            lifecycle,
            config.http.shutdown_grace,
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            url: format!("http://{addr}/mcp"),
            base: format!("http://{addr}"),
            app,
            stop: Some(stop),
            done,
        }
    }

    pub async fn client(&self) -> (Client, Recorder) {
        let recorder = Recorder::default();
        let transport = StreamableHttpClientTransport::from_uri(self.url.clone());
        let client = recorder
            .clone()
            .serve(transport)
            .await
            .expect("initialize over HTTP");
        (client, recorder)
    }

    pub async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.done.await.unwrap().unwrap();
    }
}

/// A `redis-server` of its own on a free loopback port, stopped when dropped. Redis
/// tests never skip: without `redis-server` they fail saying how to install it.
pub struct RedisServer {
    child: Option<std::process::Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts one and waits until it answers `PING`.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (its data is lost: it keeps nothing on disk).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}): run `make setup`, which installs it")
            });
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if self.answers() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "redis-server on port {} did not answer PING within 10 s",
            self.port
        );
    }

    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0u8; 7];
        conn.write_all(b"PING\r\n").is_ok()
            && conn.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The built `pier` binary serving HTTP on a free loopback port, as a child process;
/// killed when dropped.
pub struct ChildPier {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT/mcp`.
    pub url: String,
}

impl ChildPier {
    /// Runs `pier serve --listen 127.0.0.1:0 ARGS…` and waits (bounded) for `/ready`.
    pub async fn serve(args: &[&str]) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pier"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut url = None;
        let mut line = String::new();
        while url.is_none() && stderr.read_line(&mut line).unwrap() > 0 {
            url = line
                .split_whitespace()
                .find(|w| w.starts_with("http://") && w.ends_with("/mcp"))
                .map(String::from);
            if url.is_none() {
                eprint!("pier: {line}");
            }
            line.clear();
        }
        let url = url.expect("pier prints the bound address");
        // Keep draining stderr so pier never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                eprintln!("pier: {line}");
            }
        });
        // The address is printed before plugins load: wait (bounded) for /ready.
        let ready = url.replace("/mcp", "/ready");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let status = reqwest::get(&ready).await.map(|r| r.status().as_u16()).ok();
            if status == Some(200) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "pier never became ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, url }
    }

    /// A recording client over HTTP.
    pub async fn client(&self) -> Client {
        let transport = StreamableHttpClientTransport::from_uri(self.url.clone());
        Recorder::default()
            .serve(transport)
            .await
            .expect("initialize over HTTP")
    }

    /// Sends `signal` (e.g. `-TERM`, `-KILL`) and waits for the exit.
    pub fn signal(&mut self, signal: &str) -> std::process::ExitStatus {
        let sent = std::process::Command::new("kill")
            .arg(signal)
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success());
        self.child.wait().unwrap()
    }
}

impl Drop for ChildPier {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
