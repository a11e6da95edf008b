//! Shared by the integration tests: fixture paths, plugin directories, a recording MCP
//! client, and ways to start pier (in-process over a duplex pipe, or as a child process).
#![allow(dead_code, deprecated, unused_imports)]

mod auth;
mod child;
mod logs;
pub mod otlp;
mod pki;
mod raw;
mod redis;
mod registry;

pub use auth::*;
pub use child::ChildPier;
pub use logs::Logs;
pub use pki::*;
pub use raw::*;
pub use redis::RedisServer;
pub use registry::OciRegistry;

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

/// Makes ring the TLS provider of the test process before any test runs: reqwest's
/// and rmcp's default clients need one, and a test may build one before any pier.
#[used]
#[unsafe(link_section = ".init_array")]
static INSTALL_TLS_PROVIDER: extern "C" fn() = {
    extern "C" fn install() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    install
};

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

/// The reasons of `app`'s refused mounts, by namespace.
pub fn refusals(app: &App) -> Vec<(String, String)> {
    app.refusals()
        .into_iter()
        .map(|r| (r.mount.unwrap_or_default(), r.error.reason))
        .collect()
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

/// A new session of `app` served over an in-process pipe: the client's end.
pub fn pipe_to(app: &App) -> tokio::io::DuplexStream {
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    let server = app.session(None);
    tokio::spawn(async move {
        let (r, w) = tokio::io::split(server_io);
        let _ = pier::transport::stdio::serve(server, r, w).await;
    });
    client_io
}

/// Connects `recorder` to a new session of `app` over an in-process pipe.
pub async fn connect_with(app: &App, recorder: Recorder) -> Client {
    let (r, w) = tokio::io::split(pipe_to(app));
    recorder.serve((r, w)).await.expect("client connects")
}

/// Starts pier on `dir` in-process and connects a client.
pub async fn start(dir: &PluginDir) -> (App, Client, Recorder) {
    start_answering(dir, Answers::default()).await
}

/// [`start`] with a client that answers sampling and elicitation as `answers` says.
pub async fn start_answering(dir: &PluginDir, answers: Answers) -> (App, Client, Recorder) {
    let app = App::start(&dir.config()).await.expect("pier starts");
    let recorder = Recorder::answering(answers);
    let client = connect_with(&app, recorder.clone()).await;
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

/// A client's `sampling/createMessage` answer: `text` from `test-model`.
pub fn sampled(text: &str) -> CreateMessageResult {
    serde_json::from_value(json!({
        "role": "assistant",
        "content": { "type": "text", "text": text },
        "model": "test-model",
        "stopReason": "endTurn"
    }))
    .unwrap()
}

/// The JSON of a `resources/read` of `uri`.
pub async fn read(client: &Client, uri: &str) -> Result<Value, rmcp::ServiceError> {
    let result = client
        .peer()
        .read_resource(ReadResourceRequestParams::new(uri))
        .await?;
    Ok(serde_json::to_value(result).unwrap())
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

/// Polls `done` (bounded: 30 s) until it holds.
pub async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `pier ARGS` with `stdin` written to its standard input; its output.
pub fn pier_with_stdin(args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `pier serve` over stdio on `dir` (in-memory storage) with stdin closed: it
/// mounts the plugins, then exits; what it wrote.
pub fn serve_until_stdin_closes(dir: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(["serve", "--transport", "stdio", "--plugins"])
        .arg(dir)
        .arg("--data-dir")
        .arg(shared_data_dir())
        .args(["--storage", "memory"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
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
        tweak(&mut config.http);
        Self::start_with(config).await
    }

    /// Starts a pier with `config`, listening on a free loopback port instead of
    /// `config.http.listen`.
    pub async fn start_with(mut config: ServeConfig) -> Self {
        config.http.listen = "127.0.0.1:0".parse().unwrap();
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

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.done.await.unwrap().unwrap();
    }
}

/// The SDK fixtures' `weather_visit` (storage: increment, JSON, keys) and
/// `weather_setting` (configuration: the sidecar's `greeting = "ahoy"`, and an unset key)
/// through `client`.
pub async fn assert_weather_storage_and_settings(client: &Client) {
    use serde_json::json;
    for (city, visits, cities) in [
        ("Oslo", 1, json!(["visits/Oslo"])),
        ("Oslo", 2, json!(["visits/Oslo"])),
        ("Delft", 1, json!(["visits/Delft", "visits/Oslo"])),
    ] {
        let result = call(client, "weather_visit", json!({"city": city}))
            .await
            .unwrap();
        assert_eq!(
            result.structured_content,
            Some(json!({"visits": visits, "last": {"city": city}, "cities": cities}))
        );
    }
    let greeting = call(client, "weather_setting", json!({"key": "greeting"}))
        .await
        .unwrap();
    assert_eq!(text(&greeting), "ahoy");
    let unset = call(client, "weather_setting", json!({"key": "nope"}))
        .await
        .unwrap();
    assert_eq!(text(&unset), "unset");
}

/// A mount of the Python MCP server `tests/clients/SCRIPT`, started over stdio.
pub fn python_mount(namespace: &str, script: &str) -> pier::registry::spec::MountSpec {
    let python = root().join(".venv/bin/python");
    assert!(python.exists(), "run `make setup` (or `make test`)");
    pier::registry::spec::MountSpec {
        namespace: namespace.into(),
        target: pier::registry::spec::Target::Remote(pier::registry::proxy::Remote::Command {
            command: python.display().to_string(),
            args: vec![
                root()
                    .join("tests/clients")
                    .join(script)
                    .display()
                    .to_string(),
            ],
            env: Default::default(),
        }),
        mode: pier::registry::spec::Mode::Mount,
        middleware: Vec::new(),
        storage: None,
        tools: Vec::new(),
    }
}

/// The test suite's Python (`.venv`, made by `make setup`).
pub fn python() -> PathBuf {
    let path = root().join(".venv/bin/python");
    assert!(
        path.exists(),
        "{} is missing: run `make setup` (or `make test`)",
        path.display()
    );
    path
}

/// Runs `tests/clients/SCRIPT` with `args` in the test suite's Python; what it
/// printed, as JSON. Panics with its stderr when it fails.
pub fn python_script(script: &str, args: &[&str]) -> Value {
    let output = std::process::Command::new(python())
        .arg(root().join("tests/clients").join(script))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

/// A Python MCP server over HTTP on a free loopback port (`tests/clients/SCRIPT PORT
/// ARGS…`), killed when dropped.
pub struct PythonServer {
    child: std::process::Child,
    /// Its MCP endpoint.
    pub url: String,
}

impl PythonServer {
    /// Starts `script` and waits (at most 30 s) until its port answers.
    pub async fn start(script: &str, args: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(python())
            .arg(root().join("tests/clients").join(script))
            .arg(port.to_string())
            .args(args)
            .spawn()
            .unwrap();
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}/mcp"),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{script} did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
