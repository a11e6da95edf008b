//! The middleware pipeline through a real server: hook order and scoping, and (in the
//! modules) each built-in configured from `pier.toml` text as an operator writes it.

mod cache;
#[path = "../common/mod.rs"]
mod common;
mod limits;
mod logs;
mod retry;
mod visibility;
mod wasm;

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
        grants: config.grants,
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

/// The names of the tools `client` lists, in order.
async fn tool_names(client: &Client) -> Vec<String> {
    let tools = client.peer().list_all_tools().await.unwrap();
    tools.into_iter().map(|t| t.name.to_string()).collect()
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

async fn assert_still_serving_probe(client: &Client) {
    let result = call(client, "probe_fetch", json!({"key": "nothing"}))
        .await
        .unwrap();
    assert_eq!(text(&result), "absent");
}
