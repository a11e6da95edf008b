//! Composition: other MCP servers mounted beside plugins under namespaces — a pier over
//! streamable HTTP and a pier started as a child process over stdio — with forwarding,
//! progress and log relay, list_changed propagation, and the static import mode; and
//! the two MCP revisions across a proxy: a server's input rounds relayed to clients of
//! either revision, a legacy server's requests turned into round trips, and the
//! client's trace context passed on.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use pier::registry::proxy::Remote;
use pier::registry::spec::{Mode, MountSpec, Target};
use pier::{App, ServeConfig};
use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};

fn http_mount(namespace: &str, url: &str, mode: Mode) -> MountSpec {
    MountSpec {
        namespace: namespace.into(),
        target: Target::Remote(Remote::Http {
            url: url.into(),
            credentials: Default::default(),
        }),
        mode,
        middleware: Vec::new(),
        storage: None,
        tools: Vec::new(),
    }
}

/// A pier serving `dir` over HTTP on a free port, following the directory.
async fn upstream(dir: &PluginDir) -> Server {
    let config = ServeConfig {
        debounce: Duration::from_millis(50),
        ..dir.watched_config()
    };
    Server::start_with(config).await
}

fn names<T>(items: &[T], name: impl Fn(&T) -> String) -> Vec<String> {
    items.iter().map(name).collect()
}

fn text_of(contents: &ResourceContents) -> (&str, &str) {
    match contents {
        ResourceContents::TextResourceContents { uri, text, .. } => (uri, text),
        other => panic!("expected text contents, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_over_http_and_stdio_are_served_under_their_namespaces() {
    let remote_dir = PluginDir::new().with(&example("hello"), "hello");
    let remote = upstream(&remote_dir).await;
    let stdio_dir = PluginDir::new().with(&example("calc"), "calc");
    let local = MountSpec {
        namespace: "local".into(),
        target: Target::Remote(Remote::Command {
            command: env!("CARGO_BIN_EXE_pier").into(),
            args: vec![
                "serve".into(),
                "--transport".into(),
                "stdio".into(),
                "--plugins".into(),
                stdio_dir.path().display().to_string(),
                "--data-dir".into(),
                shared_data_dir().display().to_string(),
                "--storage".into(),
                "memory".into(),
                "--log-level".into(),
                "warn".into(),
            ],
            env: Default::default(),
        }),
        mode: Mode::Mount,
        middleware: Vec::new(),
        storage: None,
        tools: Vec::new(),
    };
    let front_dir = PluginDir::new();
    let config = ServeConfig {
        mounts: vec![
            http_mount("web", &remote.url, Mode::Mount),
            local,
            http_mount("snap", &remote.url, Mode::Import),
        ],
        ..front_dir.config()
    };
    let app = App::start(&config).await.unwrap();
    assert!(app.refused().is_empty(), "{:?}", app.refused());
    let (client, heard) = connect(&app).await;

    // Names: tools and prompts `{ns}_{name}`, URIs `{scheme}://{ns}/{path}`, on top of
    // the upstream pier's own namespacing.
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(
        names(&tools, |t| t.name.to_string()),
        [
            "web_hello_greet",
            "local_calc_add",
            "local_calc_divide",
            "local_calc_countdown",
            "snap_hello_greet"
        ]
    );
    let resources = client.list_all_resources().await.unwrap();
    assert_eq!(
        names(&resources, |r| r.uri.clone()),
        ["hello://web/hello/readme", "hello://snap/hello/readme"]
    );
    let templates = client.list_all_resource_templates().await.unwrap();
    assert_eq!(
        names(&templates, |t| t.uri_template.clone()),
        [
            "hello://web/hello/greeting/{name}",
            "hello://snap/hello/greeting/{name}"
        ]
    );
    let prompts = client.list_all_prompts().await.unwrap();
    assert_eq!(
        names(&prompts, |p| p.name.clone()),
        ["web_hello_introduce", "snap_hello_introduce"]
    );

    // Forwarding.
    let greeting = call(&client, "web_hello_greet", json!({"name": "Ada"}))
        .await
        .unwrap();
    assert_eq!(text(&greeting), "Hello, Ada!");
    let sum = call(&client, "local_calc_add", json!({"a": 2, "b": 3}))
        .await
        .unwrap();
    assert_eq!(text(&sum), "5");
    let divided = call(&client, "local_calc_divide", json!({"a": 1, "b": 0}))
        .await
        .unwrap();
    assert_eq!(divided.is_error, Some(true));
    assert_eq!(text(&divided), "division by zero");
    let error = mcp_error(
        call(&client, "web_hello_greet", json!({"name": 3}))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, rmcp::model::ErrorCode::INVALID_PARAMS);
    assert!(
        error
            .message
            .starts_with("invalid arguments for tool `web_hello_greet`"),
        "{}",
        error.message
    );
    let read = client
        .read_resource(ReadResourceRequestParams::new(
            "hello://web/hello/greeting/Ada",
        ))
        .await
        .unwrap();
    assert_eq!(
        text_of(&read.contents[0]),
        ("hello://web/hello/greeting/Ada", "Hello, Ada!")
    );
    let prompt = client
        .get_prompt(
            GetPromptRequestParams::new("web_hello_introduce")
                .with_arguments(json!({"name": "Ada"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&prompt.messages[0].content).unwrap(),
        json!({"type": "text", "text": "Please introduce yourself to Ada."})
    );

    // Progress and logs of the stdio server reach the calling client while the call is
    // in flight. pier's rmcp client handles each notification in a task of its own, so
    // those the upstream sent last may be handled after its response, when the call has
    // ended: those are not relayed (nothing may follow a response). Progress lower than
    // one already relayed is dropped (progress must increase).
    let counted = call(&client, "local_calc_countdown", json!({"from": 20}))
        .await
        .unwrap();
    assert_eq!(text(&counted), "counted down from 20");
    heard
        .wait_for("progress and logs", |r| {
            !r.progress.is_empty() && !r.logs.is_empty()
        })
        .await;
    {
        let r = heard.received.lock().unwrap();
        let progress: Vec<(f64, Option<f64>, Option<String>)> = r
            .progress
            .iter()
            .map(|p| (p.progress, p.total, p.message.clone()))
            .collect();
        // The test client, too, handles notifications in tasks: they may be recorded
        // out of order, but each is one the upstream sent, and none twice.
        for (value, total, message) in &progress {
            assert_eq!(*total, Some(20.0));
            assert_eq!(
                message.clone(),
                Some(format!("{} left", 20 - *value as u64))
            );
        }
        let mut values: Vec<u64> = progress.iter().map(|p| p.0 as u64).collect();
        values.sort();
        values.dedup();
        assert_eq!(values.len(), progress.len(), "no duplicates: {progress:?}");
    }
    let logs = heard.log_texts();
    assert!(
        logs.iter()
            .all(|l| (0..=20).any(|n| *l == format!("countdown: {n}"))),
        "{logs:?}"
    );

    // A plugin added upstream appears under `web` (live), not under `snap` (imported).
    replace_by_copy(&fixture("hello_v2"), &remote_dir.path().join("wave.wasm"));
    heard
        .wait_for("tools/list_changed", |r| r.tools_changed >= 1)
        .await;
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(
        names(&tools, |t| t.name.to_string()),
        [
            "web_hello_greet",
            "web_wave_greet",
            "web_wave_wave",
            "local_calc_add",
            "local_calc_divide",
            "local_calc_countdown",
            "snap_hello_greet"
        ]
    );
    let waved = call(&client, "web_wave_wave", json!({"name": "Ada"}))
        .await
        .unwrap();
    assert_eq!(text(&waved), "*waves at Ada*");
    remote.shutdown().await;
}

fn replace_by_copy(source: &std::path::Path, target: &std::path::Path) {
    let temporary = target.with_extension("part");
    std::fs::copy(source, &temporary).unwrap();
    std::fs::rename(&temporary, target).unwrap();
}

#[tokio::test]
async fn a_server_that_cannot_be_reached_is_refused_and_the_rest_serves() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let config = ServeConfig {
        mounts: vec![http_mount("gone", "http://127.0.0.1:9/mcp", Mode::Mount)],
        ..dir.config()
    };
    let app = App::start(&config).await.unwrap();
    let refusals = app.refusals();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].mount.as_deref(), Some("gone"));
    assert!(
        refusals[0].error.reason.starts_with("cannot connect: "),
        "{}",
        refusals[0].error.reason
    );
    let (client, _) = connect(&app).await;
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn a_command_mount_gets_path_home_and_its_own_env_not_piers() {
    let mut spec = python_mount("env", "env_server.py");
    if let Target::Remote(Remote::Command { env, .. }) = &mut spec.target {
        env.insert("GIVEN_TO_IT".into(), "yes".into());
    }
    let dir = PluginDir::new();
    let config = ServeConfig {
        mounts: vec![spec],
        ..dir.config()
    };
    // This test process has many variables (CARGO_*, and whatever secrets a real
    // operator's pier would have): none of them reaches the child.
    assert!(std::env::vars().any(|(k, _)| k.starts_with("CARGO")));
    let app = App::start(&config).await.unwrap();
    assert!(app.refused().is_empty(), "{:?}", app.refused());
    let (client, _) = connect(&app).await;
    let result = call(&client, "env_names", json!({})).await.unwrap();
    let names: Vec<String> = text(&result)
        .split(',')
        .map(String::from)
        // Python itself sets LC_CTYPE when no locale is configured (PEP 538).
        .filter(|n| n != "LC_CTYPE")
        .collect();
    assert_eq!(names, ["GIVEN_TO_IT", "HOME", "PATH"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxied_servers_logs_reach_no_stranger() {
    // Upstream: a pier over stdio serving calc and probe, whose calls end after 2 s.
    let upstream = PluginDir::new()
        .with(&example("calc"), "calc")
        .with(&fixture("probe"), "probe")
        .with_sidecar("probe", "[limits]\ntimeout-ms = 2000\n");
    let spec = MountSpec {
        namespace: "up".into(),
        target: Target::Remote(Remote::Command {
            command: env!("CARGO_BIN_EXE_pier").into(),
            args: [
                "serve",
                "--transport",
                "stdio",
                "--plugins",
                &upstream.path().display().to_string(),
                "--data-dir",
                &shared_data_dir().display().to_string(),
                "--storage",
                "memory",
                "--log-level",
                "warn",
            ]
            .map(String::from)
            .to_vec(),
            env: Default::default(),
        }),
        mode: Mode::Mount,
        middleware: Vec::new(),
        storage: None,
        tools: Vec::new(),
    };
    let front = PluginDir::new();
    let config = ServeConfig {
        mounts: vec![spec],
        ..front.config()
    };
    let app = App::start(&config).await.unwrap();
    assert!(app.refused().is_empty(), "{:?}", app.refused());
    let (alice, alice_heard) = connect(&app).await;
    let (bob, bob_heard) = connect(&app).await;
    // Alice's call stays in flight upstream (until its 2 s timeout)...
    let waiting = {
        let peer = alice.peer().clone();
        tokio::spawn(async move {
            peer.call_tool(rmcp::model::CallToolRequestParams::new(
                "up_probe_wait_for_cancel",
            ))
            .await
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while app.in_flight().count() == 0 {
        assert!(std::time::Instant::now() < deadline, "alice's call started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ...while Bob's countdown logs upstream: whose logs they are is unknown.
    let counted = call(&bob, "up_calc_countdown", json!({"from": 3}))
        .await
        .unwrap();
    assert_eq!(text(&counted), "counted down from 3");
    let timed_out = waiting.await.unwrap().unwrap();
    assert_eq!(timed_out.is_error, Some(true));
    // Both sessions are idle now: anything relayed to them has long arrived.
    assert_still_serving_calc(&alice).await;
    assert_still_serving_calc(&bob).await;
    assert!(
        alice_heard.log_texts().is_empty(),
        "{:?}",
        alice_heard.log_texts()
    );
    assert!(
        bob_heard.log_texts().is_empty(),
        "{:?}",
        bob_heard.log_texts()
    );
    // Alone on the mount, once Alice's requests are past the second in which their late
    // notifications may still come (waiting for time itself), Bob hears his own.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    call(&bob, "up_calc_countdown", json!({"from": 1}))
        .await
        .unwrap();
    bob_heard
        .wait_for("bob's own log messages", |r| !r.logs.is_empty())
        .await;
    assert!(alice_heard.log_texts().is_empty());
}

async fn assert_still_serving_calc(client: &Client) {
    let sum = call(client, "up_calc_add", json!({"a": 1, "b": 2}))
        .await
        .unwrap();
    assert_eq!(text(&sum), "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_call_without_an_answer_fails_in_time_and_is_cancelled_upstream() {
    let remote_dir = PluginDir::new().with(&fixture("probe"), "probe");
    let remote = upstream(&remote_dir).await;
    let front = PluginDir::new().with(&example("hello"), "hello");
    let mut config = ServeConfig {
        mounts: vec![http_mount("up", &remote.url, Mode::Mount)],
        ..front.config()
    };
    config.upstream.request_timeout = Duration::from_secs(1);
    let app = App::start(&config).await.unwrap();
    assert!(app.refused().is_empty(), "{:?}", app.refused());
    let (client, _) = connect(&app).await;
    let error = mcp_error(
        call(&client, "up_probe_wait_for_cancel", json!({}))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        error.message,
        "mount `up` did not answer within 1000 ms (upstream.request-timeout-ms)"
    );
    // The upstream heard the cancellation: its guest stopped.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while remote.app.in_flight().count() != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the upstream call ends"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn a_server_whose_list_cursors_never_end_is_refused_after_the_page_cap() {
    let spec = python_mount("endless", "endless_server.py");
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let mut config = ServeConfig {
        mounts: vec![spec],
        ..dir.config()
    };
    config.upstream.max_list_pages = 5;
    let app = App::start(&config).await.unwrap();
    let refusals = app.refusals();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].mount.as_deref(), Some("endless"));
    assert_eq!(
        refusals[0].error.reason,
        "tools/list: still more pages after 5 (upstream.max-list-pages)"
    );
    // Everything else serves.
    let (client, _) = connect(&app).await;
    assert_still_serving(&client).await;
}

/// A pier with MCP 2026-07-28 enabled, serving `dir` and `mounts` over HTTP, meeting
/// its mounted servers in that revision when `modern_upstream`.
async fn modern_server(dir: &PluginDir, mounts: Vec<MountSpec>, modern_upstream: bool) -> Server {
    let mut config = ServeConfig {
        max_protocol: rmcp::model::ProtocolVersion::V_2026_07_28,
        mounts,
        debounce: Duration::from_millis(50),
        ..dir.watched_config()
    };
    config.upstream.modern = modern_upstream;
    let server = Server::start_with(config).await;
    let refused = server.app.refused();
    assert!(refused.is_empty(), "{refused:?}");
    server
}

/// An MCP 2026-07-28 `tools/call` of `tool` on `server` by a client declaring
/// `capabilities`, with `extra` params (`inputResponses`, `requestState`, `_meta`):
/// the answer.
async fn modern_call(server: &Server, tool: &str, capabilities: Value, extra: Value) -> Value {
    let mut heard = modern_messages(server, tool, capabilities, extra).await;
    heard.pop().expect("an answer")
}

/// [`modern_call`]: every message of the response, the answer last.
async fn modern_messages(
    server: &Server,
    tool: &str,
    capabilities: Value,
    extra: Value,
) -> Vec<Value> {
    let mut params = json!({"name": tool, "arguments": {}});
    let mut meta = None;
    if let Value::Object(mut extra) = extra {
        meta = extra.remove("_meta");
        params.as_object_mut().unwrap().extend(extra);
    }
    let mut body: Value =
        serde_json::from_str(&modern(7, "tools/call", params, capabilities)).unwrap();
    if let Some(Value::Object(meta)) = meta {
        body["params"]["_meta"]
            .as_object_mut()
            .unwrap()
            .extend(meta);
    }
    let response = post_modern(&server.url, &body.to_string(), "tools/call", Some(tool))
        .send()
        .await
        .unwrap();
    messages(response).await
}

fn forms() -> Value {
    json!({"elicitation": {"form": {}}})
}

/// The keys of an `input_required` result's questions, and its state.
fn asked(answer: &Value) -> (Vec<String>, String) {
    let result = &answer["result"];
    assert_eq!(result["resultType"], "input_required", "{answer}");
    let keys = result["inputRequests"]
        .as_object()
        .unwrap_or_else(|| panic!("{answer}"))
        .keys()
        .cloned()
        .collect();
    (keys, result["requestState"].as_str().unwrap().to_string())
}

fn only_text(answer: &Value) -> &str {
    let result = &answer["result"];
    assert_eq!(result["resultType"], "complete", "{answer}");
    result["content"][0]["text"].as_str().unwrap()
}

fn accept(content: Value) -> Value {
    json!({"action": "accept", "content": content})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modern_servers_rounds_reach_clients_of_either_revision() {
    // Upstream: a pier speaking 2026-07-28 (its plugins ask by round trips).
    let up_dir = PluginDir::new()
        .with(&fixture("probe"), "probe")
        .with(&fixture("conformance"), "conformance")
        .with_sidecar("conformance", "namespace = \"\"\n");
    let up = modern_server(&up_dir, Vec::new(), false).await;
    let front_dir = PluginDir::new();
    let front = modern_server(
        &front_dir,
        vec![http_mount("up", &up.url, Mode::Mount)],
        true,
    )
    .await;

    // The server logs to a request that names its level: pier names its client's.
    // (Log messages name no request: pier relays them while one client has the mount
    // to itself, hence first, before any other request.)
    let heard = modern_messages(
        &front,
        "up_test_logging_tool",
        json!({}),
        json!({"_meta": {"io.modelcontextprotocol/logLevel": "warning"}}),
    )
    .await;
    let logs: Vec<(&Value, &Value)> = heard
        .iter()
        .filter(|m| m["method"] == "notifications/message")
        .map(|m| (&m["params"]["level"], &m["params"]["data"]))
        .collect();
    assert_eq!(
        logs,
        [
            (&json!("warning"), &json!("warning message")),
            (&json!("error"), &json!("error message"))
        ],
        "{heard:?}"
    );
    assert_eq!(only_text(heard.last().unwrap()), "Logged four messages");

    // A modern client is asked the server's own questions, under the server's keys,
    // one round at a time; each retry runs the forwarded call again from the start,
    // answering the rounds it has answers for: the server runs 1 + 2 + 3 times.
    let tool = "up_probe_interview";
    let first = modern_call(&front, tool, forms(), json!({})).await;
    assert_eq!(
        first["result"]["inputRequests"]["name"]["params"]["message"],
        "Your name?"
    );
    let (keys, state) = asked(&first);
    assert_eq!(keys, ["name"]);
    let second = modern_call(
        &front,
        tool,
        forms(),
        json!({"inputResponses": {"name": accept(json!({"name": "Ada"}))}, "requestState": state}),
    )
    .await;
    let (keys, state) = asked(&second);
    assert_eq!(keys, ["colour"]);
    let third = modern_call(
        &front,
        tool,
        forms(),
        json!({"inputResponses": {"colour": accept(json!({"colour": "green"}))}, "requestState": state}),
    )
    .await;
    assert_eq!(only_text(&third), "run 6: Ada likes green");

    // A client that cannot sample is refused as a plugin's would be (-32021).
    let refused = modern_call(
        &front,
        "up_test_sampling",
        forms(),
        json!({"arguments": {"prompt": "Say hi"}}),
    )
    .await;
    assert_eq!(refused["error"]["code"], -32021, "{refused}");
    assert_eq!(
        refused["error"]["data"]["requiredCapabilities"],
        json!({"sampling": {}})
    );

    // A legacy client answers the server's rounds as server requests, in one call:
    // the server runs once per round.
    let recorder = Recorder::answering(Answers {
        sampling: Some(Ok(serde_json::from_value(json!({
            "role": "assistant", "content": {"type": "text", "text": "Hi there"},
            "model": "m", "stopReason": "endTurn"
        }))
        .unwrap())),
        elicitation: Some(
            serde_json::from_value(accept(json!({"name": "Bob", "colour": "red"}))).unwrap(),
        ),
    });
    let client = connect_with(&front.app, recorder.clone()).await;
    let interview = call(&client, tool, json!({})).await.unwrap();
    assert_eq!(text(&interview), "run 9: Bob likes red");
    let sampled = call(&client, "up_test_sampling", json!({"prompt": "Say hi"}))
        .await
        .unwrap();
    assert_eq!(text(&sampled), "LLM response: Hi there");
    {
        let received = recorder.received.lock().unwrap();
        let messages: Vec<&Value> = received
            .elicitations
            .iter()
            .map(|e| &e["message"])
            .collect();
        assert_eq!(messages, ["Your name?", "Your favourite colour?"]);
        assert_eq!(received.sampling.len(), 1);
    }

    // The server's list changes come on its listen stream, and reach pier's clients.
    replace_by_copy(&fixture("hello_v2"), &up_dir.path().join("wave.wasm"));
    recorder
        .wait_for("tools/list_changed", |r| r.tools_changed >= 1)
        .await;
    let waved = call(&client, "up_wave_wave", json!({"name": "Ada"}))
        .await
        .unwrap();
    assert_eq!(text(&waved), "*waves at Ada*");
    front.shutdown().await;
    up.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_servers_requests_become_round_trips_for_a_modern_client() {
    // Upstream: a pier capped at 2025-11-25, whose plugins ask by server requests.
    let up_dir = PluginDir::new()
        .with(&fixture("conformance"), "conformance")
        .with_sidecar("conformance", "namespace = \"\"\n");
    let mut config = ServeConfig {
        max_protocol: rmcp::model::ProtocolVersion::V_2025_11_25,
        ..up_dir.config()
    };
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    let up = Server::serve(Arc::new(App::start(&config).await.unwrap()), &config).await;
    let front_dir = PluginDir::new();
    // Offering 2026-07-28 or not, the server speaks 2025-11-25.
    let front = modern_server(
        &front_dir,
        vec![http_mount("up", &up.url, Mode::Mount)],
        true,
    )
    .await;
    let tool = "up_test_elicitation";
    let arguments = json!({"arguments": {"message": "Who?"}});
    let first = modern_call(&front, tool, forms(), arguments.clone()).await;
    let (keys, state) = asked(&first);
    assert_eq!(keys, ["elicit-1"]);
    assert_eq!(
        first["result"]["inputRequests"]["elicit-1"]["params"]["message"],
        "Who?"
    );
    let mut retry = arguments.clone();
    retry["inputResponses"] = json!({"elicit-1": accept(json!({"username": "ada"}))});
    retry["requestState"] = json!(state);
    let second = modern_call(&front, tool, forms(), retry).await;
    assert_eq!(
        only_text(&second),
        r#"User response: action=accept, content={"username":"ada"}"#
    );
    front.shutdown().await;
    up.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fastmcp_servers_requests_reach_a_modern_client_with_its_trace() {
    let front_dir = PluginDir::new();
    // FastMCP speaks 2026-07-28 too, but its `ctx.elicit` needs 2025-11-25.
    let front = modern_server(
        &front_dir,
        vec![python_mount("asking", "asking_server.py")],
        false,
    )
    .await;
    let first = modern_call(&front, "asking_greet", forms(), json!({})).await;
    let (keys, state) = asked(&first);
    assert_eq!(keys.len(), 1, "{first}");
    let key = &keys[0];
    assert_eq!(
        first["result"]["inputRequests"][key]["params"]["message"],
        "Your name?"
    );
    let second = modern_call(
        &front,
        "asking_greet",
        forms(),
        json!({"inputResponses": {key.as_str(): accept(json!({"value": "Ada"}))}, "requestState": state}),
    )
    .await;
    assert_eq!(only_text(&second), "Hello, Ada!");

    // The client's trace context reaches the server; a malformed one does not.
    let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let traced = modern_call(
        &front,
        "asking_trace",
        json!({}),
        json!({"_meta": {"traceparent": parent, "tracestate": "pier=1"}}),
    )
    .await;
    assert_eq!(only_text(&traced), format!("{parent} pier=1"));
    let untraced = modern_call(
        &front,
        "asking_trace",
        json!({}),
        json!({"_meta": {"traceparent": "00-zz-not-a-trace"}}),
    )
    .await;
    assert_eq!(only_text(&untraced), "- -");
    // A legacy client's trace context too.
    let (client, _) = connect(&front.app).await;
    let mut params = rmcp::model::CallToolRequestParams::new("asking_trace");
    rmcp::model::RequestParamsMeta::set_traceparent(&mut params, parent);
    let traced = client.peer().call_tool(params).await.unwrap();
    assert_eq!(text(&traced), format!("{parent} -"));
    front.shutdown().await;
}
