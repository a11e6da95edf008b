//! The middleware pipeline through a real server: hook order and scoping, and each
//! built-in configured from `pier.toml` text as an operator writes it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use pier::middleware::{Chain, Middleware, MiddlewareContext, Next, Outcome, Request, ToolCall};
use pier::{App, ServeConfig};
use rmcp::model::CallToolResult;
use serde_json::json;

/// The configuration of `toml` (a `pier.toml`), serving `dir` from memory storage.
fn configured(dir: &PluginDir, toml: &str) -> ServeConfig {
    let mut layers = pier::config::Layers::default();
    layers
        .apply_file(std::path::Path::new("pier.toml"), toml)
        .expect("the configuration is valid");
    let config = layers.build().expect("the configuration builds");
    ServeConfig {
        middleware: config.middleware,
        mounts: config.mounts,
        ..dir.config()
    }
}

/// Starts pier with `toml` over `dir` and connects a client over a pipe.
async fn start_with(dir: &PluginDir, toml: &str) -> (App, Client) {
    let app = App::start(&configured(dir, toml))
        .await
        .expect("pier starts");
    let (client, _) = connect(&app).await;
    (app, client)
}

/// Records every hook it runs, with the mount it runs for.
struct Recording {
    name: &'static str,
    log: Arc<Mutex<Vec<String>>>,
}

impl Recording {
    fn push(&self, line: String) {
        self.log
            .lock()
            .unwrap()
            .push(format!("{} {line}", self.name));
    }
}

fn mount_of(cx: &MiddlewareContext) -> String {
    cx.mount()
        .map(|m| m.namespace.clone())
        .unwrap_or("-".into())
}

#[async_trait]
impl Middleware for Recording {
    fn name(&self) -> &str {
        self.name
    }

    async fn on_message(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        next: Next<'_>,
    ) -> Outcome {
        self.push(format!("message {}", request.method()));
        let result = next.run(cx, request).await;
        self.push("done".into());
        result
    }

    async fn on_request(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        next: Next<'_>,
    ) -> Outcome {
        self.push("request".into());
        next.run(cx, request).await
    }

    async fn on_notification(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        next: Next<'_>,
    ) -> Outcome {
        self.push("notification".into());
        next.run(cx, request).await
    }

    async fn on_call_tool(
        &self,
        cx: &MiddlewareContext,
        call: ToolCall,
        next: Next<'_>,
    ) -> Outcome<CallToolResult> {
        self.push(format!("call_tool {} in {}", call.name, mount_of(cx)));
        next.call_tool(cx, call).await
    }

    async fn on_list_tools(
        &self,
        cx: &MiddlewareContext,
        next: Next<'_>,
    ) -> Outcome<Vec<rmcp::model::Tool>> {
        let tools = next.list_tools(cx, ()).await?;
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        self.push(format!("list_tools {}", names.join(",")));
        Ok(tools)
    }
}

const TWO_PROBES: &str = r#"
[[mount]]
namespace = "a"
path = "PROBE"

[[mount]]
namespace = "b"
path = "PROBE"
"#;

fn two_probes() -> String {
    TWO_PROBES.replace("PROBE", &fixture("probe").display().to_string())
}

#[tokio::test]
async fn server_middleware_wraps_mount_middleware_and_mounts_see_only_their_own_calls() {
    let dir = PluginDir::new();
    let app = App::start(&configured(&dir, &two_probes()))
        .await
        .expect("pier starts");
    let log = Arc::new(Mutex::new(Vec::new()));
    let recording = |name| -> Arc<dyn Middleware> {
        Arc::new(Recording {
            name,
            log: log.clone(),
        })
    };
    app.pipeline()
        .set_server(Chain::new(vec![recording("server")]));
    app.pipeline()
        .set_mount("a", Chain::new(vec![recording("A")]));
    app.pipeline()
        .set_mount("b", Chain::new(vec![recording("B")]));
    let taken = |log: &Arc<Mutex<Vec<String>>>| std::mem::take(&mut *log.lock().unwrap());
    let (client, _) = connect(&app).await;
    // The client's `initialize` and `notifications/initialized` pass the server's
    // chain only.
    let initialized = [
        "server message initialize",
        "server request",
        "server done",
        "server message notifications/initialized",
        "server notification",
        "server done",
    ];
    for _ in 0..200 {
        if log.lock().unwrap().len() >= initialized.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(taken(&log), initialized);

    call(&client, "a_count", json!({})).await.unwrap();
    assert_eq!(
        taken(&log),
        [
            "server message tools/call",
            "server request",
            "server call_tool a_count in -",
            "A message tools/call",
            "A request",
            "A call_tool a_count in a",
            "A done",
            "server done",
        ]
    );
    call(&client, "b_count", json!({})).await.unwrap();
    assert_eq!(
        taken(&log),
        [
            "server message tools/call",
            "server request",
            "server call_tool b_count in -",
            "B message tools/call",
            "B request",
            "B call_tool b_count in b",
            "B done",
            "server done",
        ]
    );

    // Lists: each mount's chain sees its own items, the server's chain all of them.
    client.peer().list_all_tools().await.unwrap();
    let lines = taken(&log);
    let a_list = lines
        .iter()
        .find(|l| l.starts_with("A list_tools"))
        .unwrap();
    assert!(
        a_list.contains("a_count") && !a_list.contains("b_"),
        "{a_list}"
    );
    let b_list = lines
        .iter()
        .find(|l| l.starts_with("B list_tools"))
        .unwrap();
    assert!(
        b_list.contains("b_count") && !b_list.contains("a_"),
        "{b_list}"
    );
    let server_list = lines
        .iter()
        .find(|l| l.starts_with("server list_tools"))
        .unwrap();
    assert!(server_list.contains("a_count") && server_list.contains("b_count"));
}

/// Answers `tools/call` itself: the plugin is never reached.
struct ShortCircuit;

#[async_trait]
impl Middleware for ShortCircuit {
    fn name(&self) -> &str {
        "short-circuit"
    }

    async fn on_call_tool(
        &self,
        _: &MiddlewareContext,
        call: ToolCall,
        _: Next<'_>,
    ) -> Outcome<CallToolResult> {
        Ok(CallToolResult::success(vec![
            rmcp::model::ContentBlock::text(format!("answered {} without the plugin", call.name)),
        ]))
    }
}

#[tokio::test]
async fn a_middleware_that_does_not_call_next_answers_alone() {
    let dir = PluginDir::new().with(&fixture("probe"), "probe");
    let (app, client) = start_with(&dir, "").await;
    app.pipeline()
        .set_server(Chain::new(vec![Arc::new(ShortCircuit)]));
    let result = call(&client, "probe_count", json!({})).await.unwrap();
    assert_eq!(text(&result), "answered probe_count without the plugin");
    app.pipeline().set_server(Chain::default());
    let result = call(&client, "probe_fetch", json!({"key": "calls"}))
        .await
        .unwrap();
    assert_eq!(text(&result), "absent", "the plugin never ran");
}

#[tokio::test]
async fn the_configuration_of_the_contract_builds_its_chain_in_order() {
    let dir = PluginDir::new().with(&example("calc"), "calc");
    let toml = r#"
[[middleware]]
type = "rate-limit"
algorithm = "token-bucket"     # or "sliding-window"
capacity = 5                   # burst
refill-per-second = 0.5
per = "session"                # "global" | "session" | "client-ip" | "token-subject"

[[middleware]]
type = "response-cache"
ttl-seconds = 60
include-tools = ["calc_add"]

[[middleware]]
type = "error-handling"
mask-errors = true
"#;
    let (app, client) = start_with(&dir, toml).await;
    assert_eq!(
        app.pipeline().server().names(),
        ["rate-limit", "response-cache", "error-handling"]
    );
    let sum = call(&client, "calc_add", json!({"a": 2, "b": 3}))
        .await
        .unwrap();
    assert_eq!(text(&sum), "5");
}

#[test]
fn a_bad_middleware_table_names_the_key_and_what_was_expected() {
    let error = |toml: &str| {
        let mut layers = pier::config::Layers::default();
        let e = layers
            .apply_file(std::path::Path::new("pier.toml"), toml)
            .unwrap_err();
        (e.key, e.message)
    };
    assert_eq!(
        error("[[middleware]]\ntype = \"rate-limit\"\ncapacity = 0").0,
        "middleware[0].capacity"
    );
    let (key, message) = error("[[middleware]]\ntype = \"rate-limit\"\ncapcity = 5");
    assert_eq!(key, "middleware[0].capcity");
    assert!(message.contains("unknown field `capcity`"), "{message}");
    let (key, message) = error("[[middleware]]\ntype = \"speed-up\"");
    assert_eq!(key, "middleware[0].type");
    assert!(message.contains("unknown variant `speed-up`"), "{message}");
    assert_eq!(
        error("[[middleware]]\ncapacity = 5").0,
        "middleware[0].type"
    );
    let (key, message) = error(
        "[[middleware]]\ntype = \"rate-limit\"\nalgorithm = \"sliding-window\"\nrefill-per-second = 1",
    );
    assert_eq!(key, "middleware[0].refill-per-second");
    assert!(message.contains("only the token-bucket"), "{message}");
    let (key, _) = error(
        "[[mount]]\nnamespace = \"m\"\npath = \"x.wasm\"\nmiddleware = [{ type = \"retry\", max-attempts = 0 }]",
    );
    assert_eq!(key, "mount[0].middleware[0].max-attempts");
}

/// The JSON-RPC error of a call that must fail.
async fn refused(client: &Client, tool: &str) -> rmcp::model::ErrorData {
    mcp_error(call(client, tool, json!({})).await.unwrap_err())
}

/// The retry-after hint of a rate-limit error, after checking its shape.
fn retry_after(error: &rmcp::model::ErrorData) -> Duration {
    assert_eq!(error.code.0, -32000);
    assert!(
        error.message.starts_with("rate limit exceeded"),
        "{}",
        error.message
    );
    let data = error.data.as_ref().expect("the error carries a hint");
    let ms = data["retryAfterMs"].as_u64().expect("retryAfterMs");
    assert_eq!(data["retryAfterSeconds"].as_u64(), Some(ms.div_ceil(1000)));
    Duration::from_millis(ms)
}

#[tokio::test]
async fn a_token_bucket_allows_its_burst_per_session_then_refills() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = r#"
[[middleware]]
type = "rate-limit"
algorithm = "token-bucket"
capacity = 3
refill-per-second = 4
per = "session"
"#;
    let (app, client) = start_with(&dir, toml).await;
    for _ in 0..3 {
        assert_still_serving(&client).await;
    }
    let error = refused(&client, "hello_greet").await;
    let hint = retry_after(&error);
    assert!(hint <= Duration::from_millis(250), "{hint:?}");
    assert!(
        error
            .message
            .contains("3 requests, then 4 per second, per session"),
        "{}",
        error.message
    );
    // Another session has a bucket of its own.
    let (other, _) = connect(&app).await;
    for _ in 0..3 {
        assert_still_serving(&other).await;
    }
    assert!(
        call(&other, "hello_greet", json!({"name": "x"}))
            .await
            .is_err()
    );
    // After the hinted time, one more token is there.
    tokio::time::sleep(hint).await;
    assert_still_serving(&client).await;
    let text = app.metrics().render(&app.registry().snapshot(), 0);
    assert!(
        text.contains("pier_rate_limited_total{method=\"tools/call\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn a_sliding_window_allows_capacity_per_window() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = r#"
[[middleware]]
type = "rate-limit"
algorithm = "sliding-window"
capacity = 2
window-seconds = 0.4
per = "global"
methods = ["tools/call"]
"#;
    let (app, client) = start_with(&dir, toml).await;
    assert_still_serving(&client).await;
    // Lists are not counted: only tools/call is.
    client.peer().list_all_tools().await.unwrap();
    assert_still_serving(&client).await;
    // Global: another session shares the window.
    let (other, _) = connect(&app).await;
    let hint = retry_after(&refused(&other, "hello_greet").await);
    assert!(hint <= Duration::from_millis(410), "{hint:?}");
    tokio::time::sleep(hint).await;
    assert_still_serving(&other).await;
}

#[tokio::test]
async fn two_piers_on_one_redis_share_a_global_limit() {
    let redis = RedisServer::start();
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = r#"
[[middleware]]
type = "rate-limit"
capacity = 3
refill-per-second = 0.01
per = "global"
"#;
    let mut config = configured(&dir, toml);
    config.storage = pier::storage::Backend::Redis {
        url: redis.url(),
        prefix: "shared-limit:".into(),
    };
    let first = App::start(&config).await.expect("pier starts");
    let second = App::start(&config).await.expect("pier starts");
    let (a, _) = connect(&first).await;
    let (b, _) = connect(&second).await;
    assert_still_serving(&a).await;
    assert_still_serving(&b).await;
    assert_still_serving(&a).await;
    retry_after(&refused(&b, "hello_greet").await);
    retry_after(&refused(&a, "hello_greet").await);
}

#[tokio::test]
async fn client_ips_have_limits_of_their_own_over_http() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = r#"
[[middleware]]
type = "rate-limit"
capacity = 2
refill-per-second = 0.01
per = "client-ip"
"#;
    let config = ServeConfig {
        http: pier::transport::http::HttpOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..ServeConfig::default().http
        },
        ..configured(&dir, toml)
    };
    let app = Arc::new(App::start(&config).await.expect("pier starts"));
    let server = Server::serve(app, &config).await;
    let from = |ip: &str| {
        let http = reqwest::Client::builder()
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap();
        rmcp::transport::StreamableHttpClientTransport::with_client(
            http,
            rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
                server.url.clone(),
            ),
        )
    };
    use rmcp::ServiceExt;
    // `initialize` is not counted; each session's requests count against its address.
    let one = Recorder::default().serve(from("127.0.0.1")).await.unwrap();
    let two = Recorder::default().serve(from("127.0.0.2")).await.unwrap();
    assert_still_serving(&one).await;
    assert_still_serving(&one).await;
    retry_after(&refused(&one, "hello_greet").await);
    // A second session from the same address shares its limit.
    let again = Recorder::default().serve(from("127.0.0.1")).await.unwrap();
    retry_after(&refused(&again, "hello_greet").await);
    assert_still_serving(&two).await;
    assert_still_serving(&two).await;
    retry_after(&refused(&two, "hello_greet").await);
    drop((one, two, again));
    server.shutdown().await;
}

#[tokio::test]
async fn a_cached_call_does_not_reach_the_plugin_until_its_ttl_passes() {
    let dir = PluginDir::new().with(&fixture("probe"), "probe");
    let toml = r#"
[[middleware]]
type = "response-cache"
ttl-seconds = 0.5
include-tools = ["probe_count"]
"#;
    let (app, client) = start_with(&dir, toml).await;
    let count = |label: &'static str| {
        let client = &client;
        async move {
            let result = call(client, "probe_count", json!({"label": label}))
                .await
                .unwrap();
            text(&result)
        }
    };
    assert_eq!(count("a").await, "1");
    assert_eq!(count("a").await, "1", "answered from the cache");
    assert_eq!(count("b").await, "2", "other arguments are another entry");
    let stored = call(&client, "probe_fetch", json!({"key": "calls"}))
        .await
        .unwrap();
    assert_eq!(text(&stored), "2", "the plugin ran twice");
    // `probe_fetch` is not included: never cached.
    call(&client, "probe_count", json!({"label": "c"}))
        .await
        .unwrap();
    let stored = call(&client, "probe_fetch", json!({"key": "calls"}))
        .await
        .unwrap();
    assert_eq!(text(&stored), "3");
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(count("a").await, "4", "expired: the plugin runs again");
    let metrics = app.metrics().render(&app.registry().snapshot(), 0);
    assert!(
        metrics.contains("pier_cache_requests_total{kind=\"tools\",outcome=\"hit\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pier_cache_requests_total{kind=\"tools\",outcome=\"miss\"} 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn cached_lists_end_when_the_catalogue_changes() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = "[[middleware]]\ntype = \"response-cache\"\n";
    let (app, client) = start_with(&dir, toml).await;
    let names = |tools: Vec<rmcp::model::Tool>| -> Vec<String> {
        tools.into_iter().map(|t| t.name.to_string()).collect()
    };
    assert_eq!(
        names(client.peer().list_all_tools().await.unwrap()),
        ["hello_greet"]
    );
    assert_eq!(
        names(client.peer().list_all_tools().await.unwrap()),
        ["hello_greet"]
    );
    let spec = pier::registry::spec::MountSpec {
        namespace: "calc".into(),
        target: pier::registry::spec::Target::Path(example("calc")),
        mode: Default::default(),
        middleware: Vec::new(),
    };
    app.attach(spec).await;
    let tools = names(client.peer().list_all_tools().await.unwrap());
    assert_eq!(tools[..2], ["hello_greet", "calc_add"], "{tools:?}");
    let metrics = app.metrics().render(&app.registry().snapshot(), 0);
    assert!(
        metrics.contains("pier_cache_requests_total{kind=\"lists\",outcome=\"hit\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn hidden_components_are_absent_and_cannot_be_called() {
    let dir = PluginDir::new().with(&fixture("probe"), "probe");
    let toml = r#"
[[middleware]]
type = "visibility"
disable = ["probe_put", "probe://probe/counter"]
disable-tags = ["internal"]
"#;
    let (_app, client) = start_with(&dir, toml).await;
    let tools: Vec<String> = client
        .peer()
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(tools.contains(&"probe_count".to_string()), "{tools:?}");
    assert!(!tools.contains(&"probe_put".to_string()), "{tools:?}");
    assert!(
        !tools.contains(&"probe_big".to_string()),
        "tagged internal: {tools:?}"
    );
    let error = mcp_error(
        call(&client, "probe_big", json!({"bytes": 1}))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, rmcp::model::ErrorCode::INVALID_PARAMS);
    assert_eq!(error.message, "unknown tool `probe_big`");
    let resources = client.peer().list_all_resources().await.unwrap();
    assert!(resources.iter().all(|r| r.uri != "probe://probe/counter"));
    let read = client
        .peer()
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "probe://probe/counter",
        ))
        .await
        .unwrap_err();
    assert_eq!(
        mcp_error(read).code,
        rmcp::model::ErrorCode::RESOURCE_NOT_FOUND
    );
    assert_eq!(
        text(&call(&client, "probe_count", json!({})).await.unwrap()),
        "1"
    );
}

#[tokio::test]
async fn visibility_on_a_mount_hides_that_mounts_components_by_their_own_names() {
    let dir = PluginDir::new();
    let toml = format!(
        "{}\n[[mount]]\nnamespace = \"c\"\npath = \"{}\"\nmiddleware = [{{ type = \"visibility\", enable-tags = [\"counting\"] }}]\n",
        two_probes().replace(
            "namespace = \"b\"",
            "namespace = \"b\"\nmiddleware = [{ type = \"visibility\", disable = [\"count\"] }]"
        ),
        fixture("probe").display()
    );
    let (_app, client) = start_with(&dir, &toml).await;
    let tools: Vec<String> = client
        .peer()
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(tools.contains(&"a_count".to_string()), "{tools:?}");
    assert!(!tools.contains(&"b_count".to_string()), "{tools:?}");
    assert!(tools.contains(&"b_big".to_string()), "{tools:?}");
    let c_tools: Vec<&String> = tools.iter().filter(|t| t.starts_with("c_")).collect();
    assert_eq!(c_tools, ["c_count"], "only the tool tagged `counting`");
    assert!(call(&client, "b_count", json!({})).await.is_err());
    assert_eq!(
        text(&call(&client, "a_count", json!({})).await.unwrap()),
        "1"
    );
}

#[tokio::test]
async fn a_result_over_the_limit_is_cut_with_a_marker_or_refused() {
    let dir = PluginDir::new().with(&fixture("probe"), "probe");
    let toml = "[[middleware]]\ntype = \"response-limit\"\nmax-bytes = 1000\n";
    let (_app, client) = start_with(&dir, toml).await;
    let small = call(&client, "probe_big", json!({"bytes": 100}))
        .await
        .unwrap();
    assert_eq!(text(&small), "x".repeat(100));
    let big = call(&client, "probe_big", json!({"bytes": 5000}))
        .await
        .unwrap();
    assert_ne!(big.is_error, Some(true));
    let cut = text(&big);
    let (kept, marker) = cut.split_once('\n').unwrap();
    assert!(
        kept.chars().all(|c| c == 'x') && kept.len() > 500,
        "{}",
        kept.len()
    );
    assert!(
        marker.starts_with("[truncated by pier: the result was 50")
            && marker.ends_with("bytes, over the limit of 1000 (response-limit)]"),
        "{marker}"
    );
    assert!(serde_json::to_vec(&big).unwrap().len() <= 1000);

    let dir = PluginDir::new().with(&fixture("probe"), "probe");
    let toml =
        "[[middleware]]\ntype = \"response-limit\"\nmax-bytes = 1000\non-exceed = \"error\"\n";
    let (_app, client) = start_with(&dir, toml).await;
    let refused = call(&client, "probe_big", json!({"bytes": 5000}))
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true));
    let message = text(&refused);
    assert!(
        message.starts_with("the result of tool `probe_big` is 50")
            && message.ends_with("bytes, over the limit of 1000 bytes (response-limit)"),
        "{message}"
    );
}

/// Log lines written while it is held (the test's runtime runs on one thread).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The `XXXXXXXX` of `… (ref XXXXXXXX)`.
fn reference(message: &str) -> String {
    let (_, rest) = message
        .split_once("(ref ")
        .unwrap_or_else(|| panic!("no reference in {message}"));
    let reference = rest.trim_end_matches(')');
    assert_eq!(reference.len(), 8, "{message}");
    reference.to_string()
}

#[tokio::test]
async fn masked_errors_hide_internal_details_from_clients_and_log_them() {
    let (logs, _guard) = Logs::capture();
    let dir = PluginDir::new()
        .with(&fixture("hostile"), "hostile")
        .with(&fixture("probe"), "probe");
    let toml = "[[middleware]]\ntype = \"error-handling\"\nmask-errors = true\n";
    let (app, client) = start_with(&dir, toml).await;

    let trapped = call(&client, "hostile_trap", json!({})).await.unwrap();
    assert_eq!(trapped.is_error, Some(true));
    let message = text(&trapped);
    assert!(
        message.starts_with("tool `hostile_trap` failed: internal error (ref "),
        "{message}"
    );
    assert!(!message.contains("trapped") && !message.contains("unreachable"));
    let logged = logs.text();
    let line = logged
        .lines()
        .find(|l| l.contains(&reference(&message)))
        .unwrap_or_else(|| panic!("the reference is logged: {logged}"));
    assert!(line.contains("plugin `hostile` trapped"), "{line}");

    // An internal JSON-RPC error: a read that nests too deep.
    let error = mcp_error(
        client
            .peer()
            .read_resource(rmcp::model::ReadResourceRequestParams::new(
                "probe://probe/itself",
            ))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, rmcp::model::ErrorCode::INTERNAL_ERROR);
    assert!(
        error.message.starts_with("internal error (ref "),
        "{}",
        error.message
    );
    let logged = logs.text();
    let line = logged
        .lines()
        .find(|l| l.contains(&reference(&error.message)))
        .unwrap();
    assert!(line.contains("nest deeper than 8 levels"), "{line}");

    // A tool's own error is for the model: kept.
    let own = call(&client, "probe_read", json!({"uri": "nowhere://x"}))
        .await
        .unwrap();
    assert_eq!(own.is_error, Some(true));
    assert!(text(&own).contains("nowhere://x"), "{}", text(&own));
    let metrics = app.metrics().render(&app.registry().snapshot(), 0);
    for counted in [
        "pier_errors_total{method=\"tools/call\",component=\"hostile_trap\",kind=\"trap\"} 1",
        "pier_errors_total{method=\"resources/read\",component=\"probe://probe/itself\",kind=\"-32603\"} 1",
        "pier_errors_total{method=\"tools/call\",component=\"probe_read\",kind=\"tool_error\"} 1",
    ] {
        assert!(metrics.contains(counted), "{counted} in {metrics}");
    }
    assert_still_serving_probe(&client).await;
}

async fn assert_still_serving_probe(client: &Client) {
    let result = call(client, "probe_fetch", json!({"key": "nothing"}))
        .await
        .unwrap();
    assert_eq!(text(&result), "absent");
}

#[tokio::test]
async fn logging_writes_one_line_per_request_as_text_or_json() {
    let (logs, _guard) = Logs::capture();
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = r#"
[[middleware]]
type = "logging"

[[middleware]]
type = "logging"
structured = true
payloads = true
max-payload-length = 30
"#;
    let (_app, client) = start_with(&dir, toml).await;
    assert_still_serving(&client).await;
    let logged = logs.text();
    let text_line = logged
        .lines()
        .find(|l| l.contains("pier::access") && l.contains("tools/call hello_greet ok in "))
        .unwrap_or_else(|| panic!("a text line: {logged}"));
    assert!(text_line.contains("ms (session local-"), "{text_line}");
    let json_line = logged
        .lines()
        .filter(|l| l.contains("pier::access"))
        .find_map(|l| {
            let (_, json) = l.split_once("pier::access: ")?;
            let value: serde_json::Value = serde_json::from_str(json).ok()?;
            (value["method"] == "tools/call").then_some(value)
        })
        .unwrap_or_else(|| panic!("a JSON line: {logged}"));
    assert_eq!(json_line["component"], "hello_greet");
    assert_eq!(json_line["outcome"], "ok");
    assert!(json_line["duration_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(
        json_line["params"],
        "{\"arguments\":{\"name\":\"Ada\"},\"n…"
    );
    assert!(json_line["result"].as_str().unwrap().ends_with('…'));
}

#[tokio::test]
async fn timing_records_durations_per_method_and_per_component() {
    let (logs, _guard) = Logs::capture();
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = "[[middleware]]\ntype = \"timing\"\n\n[[middleware]]\ntype = \"detailed-timing\"\n";
    let (app, client) = start_with(&dir, toml).await;
    assert_still_serving(&client).await;
    let metrics = app.metrics().render(&app.registry().snapshot(), 0);
    assert!(
        metrics.contains("pier_request_timing_seconds_count{method=\"tools/call\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "pier_operation_duration_seconds_count{operation=\"tools/call\",component=\"hello_greet\"} 1"
        ),
        "{metrics}"
    );
    let logged = logs.text();
    assert!(logged.contains("tools/call completed in "), "{logged}");
    assert!(logged.contains("tools/call hello_greet took "), "{logged}");
}

/// An HTTP proxy in front of an MCP server that answers `503` to the next `fail`
/// `tools/call` posts (an upstream restarting, an overloaded balancer) and counts them.
struct FlakyProxy {
    url: String,
    fail: Arc<std::sync::atomic::AtomicUsize>,
    calls: Arc<std::sync::atomic::AtomicUsize>,
}

impl FlakyProxy {
    async fn start(upstream: &str) -> Self {
        use axum::body::{Body, to_bytes};
        use axum::http::StatusCode;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let fail = Arc::new(AtomicUsize::new(0));
        let calls = Arc::new(AtomicUsize::new(0));
        let (f, c, up) = (fail.clone(), calls.clone(), upstream.to_string());
        let http = reqwest::Client::new();
        let forward = move |request: axum::extract::Request| {
            let (fail, calls, upstream, http) = (f.clone(), c.clone(), up.clone(), http.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = to_bytes(body, 1 << 20).await.unwrap();
                if String::from_utf8_lossy(&body).contains("\"tools/call\"") {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let failing = fail
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if failing {
                        return axum::response::Response::builder()
                            .status(StatusCode::SERVICE_UNAVAILABLE)
                            .body(Body::from("upstream restarting"))
                            .unwrap();
                    }
                }
                let mut sent = http.request(parts.method, &upstream).body(body);
                for (name, value) in &parts.headers {
                    if name != "host" && name != "content-length" {
                        sent = sent.header(name, value);
                    }
                }
                let answer = sent.send().await.unwrap();
                let mut response = axum::response::Response::builder().status(answer.status());
                for (name, value) in answer.headers() {
                    if name != "content-length" && name != "transfer-encoding" {
                        response = response.header(name, value);
                    }
                }
                response
                    .body(Body::from(answer.bytes().await.unwrap()))
                    .unwrap()
            }
        };
        let app = axum::Router::new().fallback(forward);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, fail, calls }
    }

    fn fail_next(&self, n: usize) {
        self.fail.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test]
async fn a_proxied_mount_that_fails_twice_then_answers_is_retried() {
    let upstream_dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("probe"), "probe");
    let upstream = Server::start(&upstream_dir, |h| h.stateless = true).await;
    let proxy = FlakyProxy::start(&upstream.url).await;
    let dir = PluginDir::new();
    let toml = format!(
        r#"
[[middleware]]
type = "retry"
max-attempts = 3
initial-delay-ms = 20

[[mount]]
namespace = "up"
url = "{}"
"#,
        proxy.url
    );
    let (app, client) = start_with(&dir, &toml).await;

    // `hello_greet` says it is read-only: safe to try again.
    proxy.fail_next(2);
    let greeting = call(&client, "up_hello_greet", json!({"name": "Ada"}))
        .await
        .expect("the third attempt answers");
    assert_eq!(text(&greeting), "Hello, Ada!");
    assert_eq!(proxy.calls(), 3);
    let metrics = app.metrics().render(&app.registry().snapshot(), 0);
    assert!(
        metrics.contains("pier_retries_total{method=\"tools/call\"} 2"),
        "{metrics}"
    );

    // Three failures in a row: the last one reaches the client.
    proxy.fail_next(3);
    let error = mcp_error(
        call(&client, "up_hello_greet", json!({"name": "Ada"}))
            .await
            .unwrap_err(),
    );
    assert!(error.message.starts_with("mount `"), "{}", error.message);
    assert_eq!(proxy.calls(), 6);

    // `probe_put` does not say it is idempotent: never tried twice.
    proxy.fail_next(1);
    assert!(
        call(&client, "up_probe_put", json!({"key": "k", "value": "v"}))
            .await
            .is_err()
    );
    assert_eq!(proxy.calls(), 7);
    let stored = call(&client, "up_probe_fetch", json!({"key": "k"}))
        .await
        .unwrap();
    assert_eq!(text(&stored), "absent");
    upstream.shutdown().await;
}

#[tokio::test]
async fn a_call_that_met_unavailable_storage_is_retried_when_marked() {
    let mut redis = RedisServer::start();
    let dir = PluginDir::new().with(&fixture("probe"), "probe");
    let toml = r#"
[[middleware]]
type = "retry"
max-attempts = 3
initial-delay-ms = 10
retry-tools = ["probe_fetch"]
"#;
    let mut config = configured(&dir, toml);
    config.storage = pier::storage::Backend::Redis {
        url: redis.url(),
        prefix: "retry:".into(),
    };
    let app = App::start(&config).await.expect("pier starts");
    let (client, _) = connect(&app).await;
    assert_still_serving_probe(&client).await;
    redis.stop();
    let failed = call(&client, "probe_fetch", json!({"key": "k"}))
        .await
        .unwrap();
    assert_eq!(failed.is_error, Some(true));
    assert!(text(&failed).contains("unavailable"), "{}", text(&failed));
    // `probe_put` is not marked: one attempt.
    let put = call(&client, "probe_put", json!({"key": "k", "value": "v"}))
        .await
        .unwrap();
    assert_eq!(put.is_error, Some(true));
    let metrics = app.metrics().render(&app.registry().snapshot(), 0);
    assert!(
        metrics.contains("pier_retries_total{method=\"tools/call\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pier_tool_calls_total{tool=\"probe_fetch\",outcome=\"tool_error\"} 3"),
        "{metrics}"
    );
    redis.restart();
}

/// The example middleware component built by `make plugins`.
fn redact() -> std::path::PathBuf {
    let path = root().join("middleware.d/redact.wasm");
    assert!(path.exists(), "run `make plugins` (or `make test`)");
    path
}

#[tokio::test]
async fn the_redact_component_masks_emails_and_long_digit_runs_in_tool_results() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = format!(
        "[[middleware]]\ntype = \"wasm\"\npath = \"{}\"\n",
        redact().display()
    );
    let (app, client) = start_with(&dir, &toml).await;
    assert_eq!(app.pipeline().server().names(), ["redact"]);
    let result = call(
        &client,
        "hello_greet",
        json!({"name": "ada@example.com, card 4111 1111 1111 1111"}),
    )
    .await
    .unwrap();
    assert_eq!(
        text(&result),
        "Hello, [redacted email], card [redacted number]!"
    );
    // Nothing to mask: unchanged.
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn redact_on_one_mount_leaves_the_other_alone() {
    let dir = PluginDir::new();
    let toml = two_probes().replace(
        "namespace = \"a\"",
        &format!(
            "namespace = \"a\"\nmiddleware = [{{ type = \"wasm\", path = \"{}\" }}]",
            redact().display()
        ),
    );
    let (_app, client) = start_with(&dir, &toml).await;
    call(
        &client,
        "b_put",
        json!({"key": "k", "value": "write to bob@example.org"}),
    )
    .await
    .unwrap();
    let masked = call(&client, "a_fetch", json!({"key": "k"})).await.unwrap();
    assert_eq!(text(&masked), "write to [redacted email]");
    let plain = call(&client, "b_fetch", json!({"key": "k"})).await.unwrap();
    assert_eq!(text(&plain), "write to bob@example.org");
}

#[tokio::test]
#[allow(deprecated)] // MCP logging is deprecated by a newer protocol revision; still served.
async fn a_middleware_component_can_refuse_answer_or_change_a_request() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = format!(
        "[[middleware]]\ntype = \"wasm\"\npath = \"{}\"\n",
        fixture("mw_probe").display()
    );
    let app = App::start(&configured(&dir, &toml))
        .await
        .expect("pier starts");
    let (client, recorder) = connect(&app).await;
    let greet = |name: &'static str| call(&client, "hello_greet", json!({ "name": name }));
    assert_eq!(text(&greet("rename").await.unwrap()), "Hello, Renamed!");
    assert_eq!(
        text(&greet("respond").await.unwrap()),
        "answered by mw-probe"
    );
    let refused = mcp_error(greet("refuse").await.unwrap_err());
    assert_eq!(refused.code, rmcp::model::ErrorCode::INVALID_PARAMS);
    assert_eq!(refused.message, "refused by mw-probe");
    // It logged to the client through `context`.
    recorder
        .wait_for("a log from the middleware", |r| {
            r.logs
                .iter()
                .any(|l| l.data.to_string().contains("mw-probe saw tools/call"))
        })
        .await;
}

#[tokio::test]
async fn a_trapping_middleware_component_fails_the_call_not_the_server() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = format!(
        "[[middleware]]\ntype = \"wasm\"\npath = \"{}\"\nname = \"probe-mw\"\n",
        fixture("mw_probe").display()
    );
    let (_app, client) = start_with(&dir, &toml).await;
    for name in ["trap", "late-trap"] {
        let error = mcp_error(
            call(&client, "hello_greet", json!({ "name": name }))
                .await
                .unwrap_err(),
        );
        assert_eq!(error.code, rmcp::model::ErrorCode::INTERNAL_ERROR);
        assert!(
            error.message.starts_with("middleware `probe-mw` trapped: "),
            "{}",
            error.message
        );
        assert!(error.message.contains("unreachable"), "{}", error.message);
        assert_still_serving(&client).await;
    }
    // Lists pass it too, unchanged.
    let tools = client.peer().list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 1);
}

#[tokio::test]
async fn a_plugin_configured_as_middleware_is_refused_with_the_reason() {
    let dir = PluginDir::new();
    let toml = format!(
        "[[middleware]]\ntype = \"logging\"\n\n[[middleware]]\ntype = \"wasm\"\npath = \"{}\"\n",
        example("hello").display()
    );
    let error = App::start(&configured(&dir, &toml))
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.starts_with("middleware[1] (wasm): path: ")
            && error.contains("not a pier middleware (world `pier-middleware`)"),
        "{error}"
    );
    let missing = "[[middleware]]\ntype = \"wasm\"\npath = \"nowhere/x.wasm\"\n";
    let error = App::start(&configured(&dir, missing))
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.starts_with("middleware[0] (wasm): path: cannot read nowhere/x.wasm: "),
        "{error}"
    );
}

#[tokio::test]
async fn the_example_configuration_serves_the_examples_through_its_chain() {
    let toml = std::fs::read_to_string(root().join("examples/pier.toml"))
        .unwrap()
        .replace(
            "\"middleware.d/",
            &format!("\"{}/middleware.d/", root().display()),
        )
        .replace(
            "\"plugins.d/",
            &format!("\"{}/plugins.d/", root().display()),
        );
    let dir = PluginDir::examples().with(&example("notes"), "notes");
    let (app, client) = start_with(&dir, &toml).await;
    assert_eq!(
        app.pipeline().server().names(),
        [
            "error-handling",
            "logging",
            "detailed-timing",
            "rate-limit",
            "response-cache",
            "response-limit",
            "redact"
        ]
    );
    let added = call(
        &client,
        "notes_add",
        json!({"title": "contact", "body": "write to ada@example.com"}),
    )
    .await
    .unwrap();
    assert_ne!(added.is_error, Some(true), "{added:?}");
    let tools: Vec<String> = client
        .peer()
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(tools.contains(&"readonly_get".to_string()), "{tools:?}");
    assert!(!tools.contains(&"readonly_add".to_string()), "{tools:?}");
    assert!(!tools.contains(&"readonly_delete".to_string()), "{tools:?}");
    let read = call(&client, "readonly_get", json!({"title": "contact"}))
        .await
        .unwrap();
    assert!(
        text(&read).contains("write to [redacted email]"),
        "{}",
        text(&read)
    );
    let sum = call(&client, "calc_add", json!({"a": 2, "b": 3}))
        .await
        .unwrap();
    assert_eq!(text(&sum), "5");
}

#[tokio::test]
async fn a_proxied_fastmcp_servers_tags_reach_the_visibility_middleware() {
    let python = root().join(".venv/bin/python");
    assert!(python.exists(), "run `make setup` (or `make test`)");
    let toml = format!(
        r#"
[[mount]]
namespace = "py"
command = "{}"
args = ["{}"]
middleware = [{{ type = "visibility", disable-tags = ["admin"] }}]
"#,
        python.display(),
        root().join("tests/clients/tagged_server.py").display()
    );
    let (_app, client) = start_with(&PluginDir::new(), &toml).await;
    let tools: Vec<String> = client
        .peer()
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(tools, ["py_hello"]);
    let error = mcp_error(call(&client, "py_wipe", json!({})).await.unwrap_err());
    assert_eq!(error.message, "unknown tool `py_wipe`");
    assert_eq!(
        text(&call(&client, "py_hello", json!({})).await.unwrap()),
        "hello"
    );
}
