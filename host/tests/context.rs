//! The plugin `Context` end to end, with the rmcp client as a real client that answers
//! sampling and elicitation: over an in-process pipe, over stdio (a child pier) and
//! over HTTP. Fixtures: `conformance` (namespace "") and `probe`, beside `hello`.
#![allow(deprecated)] // MCP logging, sampling and subscriptions are served up to 2025-11-25.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use rmcp::ServiceExt;
use rmcp::model::*;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

fn plugins() -> PluginDir {
    PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("conformance"), "conformance")
        .with_sidecar("conformance", "namespace = \"\"\n")
        .with(&fixture("probe"), "probe")
        .with(&fixture("hostile"), "hostile")
        .with_sidecar("hostile", "[limits]\ntimeout-ms = 60000\n")
}

fn elicited(action: &str, content: Option<Value>) -> ElicitResult {
    let mut v = json!({ "action": action });
    if let Some(content) = content {
        v["content"] = content;
    }
    serde_json::from_value(v).unwrap()
}

fn answering_everything() -> Answers {
    Answers {
        sampling: Some(Ok(sampled("This is a test response from the client"))),
        elicitation: Some(elicited(
            "accept",
            Some(json!({"username": "ada", "email": "ada@example.com"})),
        )),
    }
}

/// The three transports a client reaches pier by.
#[derive(Debug, Clone, Copy)]
enum Via {
    Pipe,
    Stdio,
    Http,
}

/// A connected client and whatever keeps its server alive.
struct Connected {
    client: Client,
    recorder: Recorder,
    _app: Option<pier::App>,
    _server: Option<Server>,
    _dir: PluginDir,
}

async fn connect_via(via: Via, answers: Answers) -> Connected {
    let dir = plugins();
    match via {
        Via::Pipe => {
            let (app, client, recorder) = start_answering(&dir, answers).await;
            Connected {
                client,
                recorder,
                _app: Some(app),
                _server: None,
                _dir: dir,
            }
        }
        Via::Stdio => {
            let recorder = Recorder::answering(answers);
            let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pier"));
            cmd.args(["serve", "--transport", "stdio", "--no-watch", "--plugins"])
                .arg(dir.path())
                .arg("--data-dir")
                .arg(shared_data_dir())
                .args(["--storage", "memory"]);
            let (transport, _) = TokioChildProcess::builder(cmd)
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let client = recorder.clone().serve(transport).await.unwrap();
            Connected {
                client,
                recorder,
                _app: None,
                _server: None,
                _dir: dir,
            }
        }
        Via::Http => {
            let recorder = Recorder::answering(answers);
            let server = Server::start(&dir, |_| {}).await;
            let transport =
                rmcp::transport::StreamableHttpClientTransport::from_uri(server.url.clone());
            let client = recorder.clone().serve(transport).await.unwrap();
            Connected {
                client,
                recorder,
                _app: None,
                _server: Some(server),
                _dir: dir,
            }
        }
    }
}

const VIAS: [Via; 3] = [Via::Pipe, Via::Stdio, Via::Http];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_reaches_the_client_and_its_answer_the_plugin() {
    for via in VIAS {
        let c = connect_via(via, answering_everything()).await;
        let result = call(&c.client, "test_sampling", json!({"prompt": "Say hi"}))
            .await
            .unwrap();
        assert_eq!(
            text(&result),
            "LLM response: This is a test response from the client",
            "{via:?}"
        );
        let requests = c.recorder.received.lock().unwrap().sampling.clone();
        assert_eq!(requests.len(), 1, "{via:?}");
        assert_eq!(
            serde_json::to_value(&requests[0]).unwrap(),
            json!({
                "messages": [{"role": "user", "content": {"type": "text", "text": "Say hi"}}],
                "maxTokens": 100
            }),
            "{via:?}"
        );
    }
}

#[tokio::test]
async fn sampling_fails_clearly_without_the_capability_or_when_the_client_refuses() {
    let c = connect_via(Via::Pipe, Answers::default()).await;
    let result = call(&c.client, "test_sampling", json!({"prompt": "Say hi"}))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        text(&result),
        "client `pier-tests` does not support sampling (it declared no `sampling` capability)"
    );

    let refusing = Answers {
        sampling: Some(Err(ErrorData::invalid_request("the user declined", None))),
        ..Answers::default()
    };
    let c = connect_via(Via::Pipe, refusing).await;
    let result = call(&c.client, "test_sampling", json!({"prompt": "Say hi"}))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        text(&result),
        "client `pier-tests` refused sampling: the user declined"
    );
    assert_still_serving(&c.client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_decline_and_cancel_of_an_elicitation_reach_the_plugin_distinctly() {
    let answers = [
        (
            elicited(
                "accept",
                Some(json!({"username": "ada", "email": "ada@example.com"})),
            ),
            r#"User response: action=accept, content={"email":"ada@example.com","username":"ada"}"#,
        ),
        (elicited("decline", None), "User response: action=decline"),
        (elicited("cancel", None), "User response: action=cancel"),
    ];
    for via in VIAS {
        for (answer, expected) in &answers {
            let c = connect_via(
                via,
                Answers {
                    elicitation: Some(answer.clone()),
                    ..Answers::default()
                },
            )
            .await;
            let result = call(
                &c.client,
                "test_elicitation",
                json!({"message": "Who are you?"}),
            )
            .await
            .unwrap();
            assert_eq!(text(&result), *expected, "{via:?}");
            let requests = c.recorder.received.lock().unwrap().elicitations.clone();
            assert_eq!(
                requests,
                vec![json!({
                    "mode": "form",
                    "message": "Who are you?",
                    "requestedSchema": {
                        "type": "object",
                        "properties": {
                            "username": {"type": "string", "description": "User's response"},
                            "email": {"type": "string", "description": "User's email address"}
                        },
                        "required": ["username", "email"]
                    }
                })],
                "{via:?}"
            );
        }
    }
}

#[tokio::test]
async fn elicitation_schemas_reach_the_client_as_the_plugin_wrote_them() {
    let c = connect_via(
        Via::Pipe,
        Answers {
            elicitation: Some(elicited("decline", None)),
            ..Answers::default()
        },
    )
    .await;
    call(&c.client, "test_elicitation_sep1034_defaults", json!({}))
        .await
        .unwrap();
    call(&c.client, "test_elicitation_sep1330_enums", json!({}))
        .await
        .unwrap();
    let requests = c.recorder.received.lock().unwrap().elicitations.clone();
    assert_eq!(
        requests[0]["requestedSchema"]["properties"],
        json!({
            "name": { "type": "string", "default": "John Doe" },
            "age": { "type": "integer", "default": 30 },
            "score": { "type": "number", "default": 95.5 },
            "status": { "type": "string", "enum": ["active", "inactive", "pending"], "default": "active" },
            "verified": { "type": "boolean", "default": true }
        })
    );
    let enums = &requests[1]["requestedSchema"]["properties"];
    assert_eq!(
        enums["legacyEnum"]["enumNames"],
        json!(["Option One", "Option Two", "Option Three"])
    );
    assert_eq!(
        enums["titledSingle"]["oneOf"][0],
        json!({"const": "value1", "title": "First Option"})
    );
    assert_eq!(
        enums["titledMulti"]["items"]["anyOf"][2],
        json!({"const": "value3", "title": "Third Choice"})
    );
    assert_eq!(
        enums["untitledMulti"]["items"],
        json!({"type": "string", "enum": ["option1", "option2", "option3"]})
    );
}

#[tokio::test]
async fn elicitation_without_the_capability_is_a_clear_tool_error() {
    let c = connect_via(Via::Pipe, Answers::default()).await;
    let result = call(&c.client, "test_elicitation", json!({"message": "?"}))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        text(&result),
        "client `pier-tests` does not support elicitation (it declared no `elicitation` capability)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_progress_reach_the_caller_and_set_level_filters_logs() {
    for via in VIAS {
        let c = connect_via(via, Answers::default()).await;
        let result = call(&c.client, "test_tool_with_logging", json!({}))
            .await
            .unwrap();
        assert_eq!(text(&result), "Tool with logging executed successfully");
        c.recorder
            .wait_for("three logs", |r| r.logs.len() == 3)
            .await;
        assert_eq!(
            c.recorder.log_texts(),
            [
                "Tool execution started",
                "Tool processing data",
                "Tool execution completed"
            ],
            "{via:?}"
        );
        let logs = c.recorder.received.lock().unwrap().logs.clone();
        assert!(
            logs.iter().all(
                |l| l.level == LoggingLevel::Info && l.logger.as_deref() == Some("conformance")
            ),
            "{via:?}"
        );

        c.client
            .peer()
            .set_level(SetLevelRequestParams::new(LoggingLevel::Warning))
            .await
            .unwrap();
        call(&c.client, "test_tool_with_logging", json!({}))
            .await
            .unwrap();
        // Progress of a later call arrives after any log of this one would have.
        call(&c.client, "test_tool_with_progress", json!({}))
            .await
            .unwrap();
        c.recorder
            .wait_for("three progress notifications", |r| r.progress.len() == 3)
            .await;
        assert_eq!(
            c.recorder.log_texts().len(),
            3,
            "{via:?}: filtered by level"
        );
        // pier sends them in order; the rmcp client handles each in a task of its own.
        let mut progress: Vec<(f64, Option<f64>)> = c
            .recorder
            .received
            .lock()
            .unwrap()
            .progress
            .iter()
            .map(|p| (p.progress, p.total))
            .collect();
        progress.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(
            progress,
            [
                (0.0, Some(100.0)),
                (50.0, Some(100.0)),
                (100.0, Some(100.0))
            ],
            "{via:?}"
        );
    }
}

#[tokio::test]
async fn no_progress_is_sent_without_a_progress_token() {
    let dir = plugins();
    let app = pier::App::start(&dir.config()).await.unwrap();
    let mut raw = RawSession::open(&app).await;
    let (response, notifications) = raw
        .request(
            2,
            "tools/call",
            json!({"name": "test_tool_with_progress", "arguments": {}}),
        )
        .await;
    assert_eq!(
        response["result"]["content"][0]["text"],
        "Tool with progress executed successfully"
    );
    assert_eq!(notifications, Vec::<Value>::new());
}

#[tokio::test]
async fn request_info_reaches_the_plugin() {
    let c = connect_via(Via::Pipe, Answers::default()).await;
    let result = call(&c.client, "hostile_whoami", json!({})).await.unwrap();
    assert_eq!(
        text(&result),
        "client=pier-tests session= state={\"n\":1} subject= scopes="
    );
}

/// Sends `tools/call` of `tool` as request 2, cancels it, and checks that no response
/// comes for it and that the call stopped (nothing in flight any more).
async fn cancel_call(app: &pier::App, raw: &mut RawSession, tool: &str) {
    raw.send(json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": tool, "arguments": {}}
    }))
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.in_flight().count() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the call never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    raw.send(json!({
        "jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 2, "reason": "changed my mind"}
    }))
    .await;
    while app.in_flight().count() != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cancelled call of {tool} is still running"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The next request's response is the next message: none came for request 2.
    let (pong, before) = raw.request(3, "ping", json!({})).await;
    assert_eq!(pong["result"], json!({}));
    assert_eq!(
        before,
        Vec::<Value>::new(),
        "no response to a cancelled request"
    );
}

#[tokio::test]
async fn a_cancelled_call_stops_whether_or_not_the_guest_checks() {
    let dir = plugins();
    let app = pier::App::start(&dir.config()).await.unwrap();
    let mut raw = RawSession::open(&app).await;
    cancel_call(&app, &mut raw, "probe_wait_for_cancel").await;
    // `spin` never asks: the epoch stops it (its timeout is a minute away).
    cancel_call(&app, &mut raw, "hostile_spin").await;
    let metrics = app.metrics().render(&app.registry().snapshot(), 0);
    assert!(
        metrics.contains("pier_tool_calls_total{tool=\"hostile_spin\",outcome=\"cancelled\"} 1"),
        "{metrics}"
    );
    // Everything else keeps serving.
    let (client, _) = connect(&app).await;
    assert_still_serving(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_reads_other_mounts_resources_and_prompts_by_their_namespaced_names() {
    for via in VIAS {
        let c = connect_via(via, Answers::default()).await;
        let read = call(
            &c.client,
            "probe_read",
            json!({"uri": "hello://hello/greeting/Ada"}),
        )
        .await
        .unwrap();
        assert_eq!(
            text(&read),
            "hello://hello/greeting/Ada: Hello, Ada!",
            "{via:?}"
        );
        let prompt = call(
            &c.client,
            "probe_prompt",
            json!({"prompt": "hello_introduce", "name": "Ada"}),
        )
        .await
        .unwrap();
        assert_eq!(
            text(&prompt),
            "User(\"Please introduce yourself to Ada.\")",
            "{via:?}"
        );
    }
}

#[tokio::test]
async fn cross_mount_reads_fail_clearly_and_cannot_recurse_forever() {
    let c = connect_via(Via::Pipe, Answers::default()).await;
    let missing = call(&c.client, "probe_read", json!({"uri": "nope://x/y"}))
        .await
        .unwrap();
    assert_eq!(missing.is_error, Some(true));
    assert_eq!(text(&missing), "resource not found: nope://x/y");
    let unknown = call(
        &c.client,
        "probe_prompt",
        json!({"prompt": "hello_nope", "name": "x"}),
    )
    .await
    .unwrap();
    assert_eq!(text(&unknown), "unknown prompt `hello_nope`");
    // Not namespaced: the plugin's own view of another mount's URI is not a name.
    let local = call(&c.client, "probe_read", json!({"uri": "hello://readme"}))
        .await
        .unwrap();
    assert_eq!(text(&local), "resource not found: hello://readme");
    let endless = call(
        &c.client,
        "probe_read",
        json!({"uri": "probe://probe/itself"}),
    )
    .await
    .unwrap();
    assert_eq!(endless.is_error, Some(true));
    assert!(
        text(&endless).contains("cross-mount reads nest deeper than 8 levels"),
        "{}",
        text(&endless)
    );
    assert_still_serving(&c.client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_updates_reach_subscribed_sessions_only() {
    for via in [Via::Pipe, Via::Http] {
        // Two clients of one server.
        let dir = plugins();
        let (server, app);
        let (a, a_rec, b, b_rec) = match via {
            Via::Http => {
                server = Some(Server::start(&dir, |_| {}).await);
                app = None;
                let s = server.as_ref().unwrap();
                let (a, a_rec) = s.client().await;
                let (b, b_rec) = s.client().await;
                (a, a_rec, b, b_rec)
            }
            _ => {
                server = None;
                app = Some(pier::App::start(&dir.config()).await.unwrap());
                let (a, a_rec) = connect(app.as_ref().unwrap()).await;
                let (b, b_rec) = connect(app.as_ref().unwrap()).await;
                (a, a_rec, b, b_rec)
            }
        };
        let uri = "probe://probe/counter";
        a.peer()
            .subscribe(SubscribeRequestParams::new(uri))
            .await
            .unwrap();
        assert_eq!(
            text(&call(&b, "probe_touch", json!({})).await.unwrap()),
            "touched"
        );
        a_rec.wait_for("one update", |r| r.updated.len() == 1).await;
        assert_eq!(a_rec.received.lock().unwrap().updated, [uri], "{via:?}");

        a.peer()
            .unsubscribe(UnsubscribeRequestParams::new(uri))
            .await
            .unwrap();
        call(&b, "probe_touch", json!({})).await.unwrap();
        a.peer()
            .subscribe(SubscribeRequestParams::new(uri))
            .await
            .unwrap();
        call(&b, "probe_touch", json!({})).await.unwrap();
        a_rec
            .wait_for("a second update", |r| r.updated.len() >= 2)
            .await;
        // In order on A's stream: one before unsubscribing, one after subscribing again.
        assert_eq!(a_rec.received.lock().unwrap().updated.len(), 2, "{via:?}");
        assert!(b_rec.received.lock().unwrap().updated.is_empty(), "{via:?}");

        let unknown = a
            .peer()
            .subscribe(SubscribeRequestParams::new("nope://x"))
            .await
            .unwrap_err();
        assert_eq!(mcp_error(unknown).code, ErrorCode::RESOURCE_NOT_FOUND);
        drop((server, app));
    }
}

#[tokio::test]
async fn completion_is_routed_to_the_plugin_for_prompts_and_templates() {
    let c = connect_via(Via::Pipe, Answers::default()).await;
    let prompt = c
        .client
        .peer()
        .complete(CompleteRequestParams::new(
            Reference::for_prompt("test_prompt_with_arguments"),
            ArgumentInfo::new("arg1", "par"),
        ))
        .await
        .unwrap();
    assert_eq!(prompt.completion.values, ["paris", "park", "party"]);
    let template = c
        .client
        .peer()
        .complete(CompleteRequestParams::new(
            Reference::for_resource("test://template/{id}/data"),
            ArgumentInfo::new("id", "12"),
        ))
        .await
        .unwrap();
    assert_eq!(template.completion.values, ["12", "123"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_and_elicitation_reach_the_client_through_a_proxied_mount() {
    let upstream_dir = PluginDir::new()
        .with(&fixture("conformance"), "conformance")
        .with_sidecar("conformance", "namespace = \"\"\n");
    let upstream = Server::start(&upstream_dir, |_| {}).await;
    let front_dir = PluginDir::new();
    let config = pier::ServeConfig {
        mounts: vec![pier::registry::spec::MountSpec {
            namespace: "up".into(),
            target: pier::registry::spec::Target::Remote(pier::registry::proxy::Remote::Http {
                url: upstream.url.clone(),
                credentials: Default::default(),
            }),
            mode: pier::registry::spec::Mode::Mount,
            middleware: Vec::new(),
            storage: None,
            tools: Vec::new(),
        }],
        ..front_dir.config()
    };
    let front = pier::App::start(&config).await.unwrap();
    let recorder = Recorder::answering(answering_everything());
    let client = connect_with(&front, recorder.clone()).await;
    let sampled = call(&client, "up_test_sampling", json!({"prompt": "Say hi"}))
        .await
        .unwrap();
    assert_eq!(
        text(&sampled),
        "LLM response: This is a test response from the client"
    );
    let elicited = call(&client, "up_test_elicitation", json!({"message": "Who?"}))
        .await
        .unwrap();
    assert_eq!(
        text(&elicited),
        r#"User response: action=accept, content={"email":"ada@example.com","username":"ada"}"#
    );
    {
        let received = recorder.received.lock().unwrap();
        assert_eq!(received.sampling.len(), 1);
        assert_eq!(received.elicitations[0]["message"], "Who?");
    }

    // A client that cannot sample: the upstream plugin hears why.
    let (plain, _) = connect(&front).await;
    let refused = call(&plain, "up_test_sampling", json!({"prompt": "Say hi"}))
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true));
    assert_eq!(
        text(&refused),
        "client `pier` refused sampling: client `pier-tests` does not support sampling (it declared no `sampling` capability)"
    );
}

#[tokio::test]
async fn the_assistant_example_summarises_with_the_clients_model_and_elicits_missing_details() {
    let dir = PluginDir::new().with(&example("assistant"), "assistant");
    let answers = Answers {
        sampling: Some(Ok(sampled("A short summary."))),
        elicitation: Some(elicited(
            "accept",
            Some(json!({"party_size": 4, "time": "19:30", "name": "Ada"})),
        )),
    };
    let (_app, client, recorder) = start_answering(&dir, answers).await;
    let summary = call(
        &client,
        "assistant_summarize",
        json!({"text": "A long text.", "sentences": 1}),
    )
    .await
    .unwrap();
    assert_eq!(text(&summary), "A short summary.");
    let booked = call(
        &client,
        "assistant_book_table",
        json!({"restaurant": "Chez Pier"}),
    )
    .await
    .unwrap();
    assert_eq!(
        text(&booked),
        "Booked a table for 4 at Chez Pier at 19:30, under the name Ada."
    );
    {
        let received = recorder.received.lock().unwrap();
        let request = serde_json::to_value(&received.sampling[0]).unwrap();
        assert_eq!(request["maxTokens"], 300);
        assert_eq!(
            request["systemPrompt"],
            "You write short, faithful summaries."
        );
        assert!(
            request["messages"][0]["content"]["text"]
                .as_str()
                .unwrap()
                .ends_with("in at most 1 sentences. Answer with the summary only.\n\nA long text.")
        );
        let form = &received.elicitations[0]["requestedSchema"];
        assert_eq!(form["required"], json!(["party_size", "time", "name"]));
        assert_eq!(form["properties"]["party_size"]["type"], "integer");
    }

    // All details given: nothing to ask.
    let direct = call(
        &client,
        "assistant_book_table",
        json!({"restaurant": "Chez Pier", "party_size": 2, "time": "20:00", "name": "Alan"}),
    )
    .await
    .unwrap();
    assert_eq!(
        text(&direct),
        "Booked a table for 2 at Chez Pier at 20:00, under the name Alan."
    );
    assert_eq!(recorder.received.lock().unwrap().elicitations.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_switches_its_own_components_off_and_on_and_clients_hear_it() {
    let dir = PluginDir::new()
        .with(&fixture("probe"), "probe")
        .with(&fixture("conformance"), "conformance");
    let (app, client, heard) = start(&dir).await;
    let (watcher, watched) = connect(&app).await;
    let tool_names = |tools: Vec<Tool>| -> Vec<String> {
        tools.into_iter().map(|t| t.name.to_string()).collect()
    };
    let switched = "conformance_test_switched_tool";
    assert!(tool_names(client.list_all_tools().await.unwrap()).contains(&switched.to_string()));

    // Off: gone from the list, not callable, and every session hears of it.
    let off = call(&client, "conformance_test_trigger_tool_change", json!({}))
        .await
        .unwrap();
    assert_eq!(text(&off), "test_switched_tool is off");
    for recorder in [&heard, &watched] {
        recorder
            .wait_for("tools/list_changed", |r| r.tools_changed >= 1)
            .await;
    }
    assert!(!tool_names(watcher.list_all_tools().await.unwrap()).contains(&switched.to_string()));
    let error = mcp_error(call(&client, switched, json!({})).await.unwrap_err());
    assert_eq!(error.message, format!("unknown tool `{switched}`"));
    // On again.
    let on = call(&client, "conformance_test_trigger_tool_change", json!({}))
        .await
        .unwrap();
    assert_eq!(text(&on), "test_switched_tool is on");
    heard
        .wait_for("the second tools/list_changed", |r| r.tools_changed >= 2)
        .await;
    let back = call(&client, switched, json!({})).await.unwrap();
    assert_eq!(text(&back), "This tool comes and goes.");

    // Prompts and resources switch the same way; switching to the state a component is
    // in changes nothing.
    let prompts = client.list_all_prompts().await.unwrap();
    assert!(
        prompts
            .iter()
            .any(|p| p.name == "conformance_test_switched_prompt")
    );
    let prompt = call(&client, "conformance_test_trigger_prompt_change", json!({}))
        .await
        .unwrap();
    assert_eq!(text(&prompt), "test_switched_prompt is off");
    heard
        .wait_for("prompts/list_changed", |r| r.prompts_changed >= 1)
        .await;
    let prompts = client.list_all_prompts().await.unwrap();
    assert!(
        !prompts
            .iter()
            .any(|p| p.name == "conformance_test_switched_prompt")
    );
    assert!(
        prompts
            .iter()
            .any(|p| p.name == "conformance_test_simple_prompt")
    );
    let args = |kind: &str, name: &str, enabled: bool| json!({"kind": kind, "name": name, "enabled": enabled});
    // The namespaced URI leaves the list; the plugin names it by its own.
    let listed =
        |resources: Vec<Resource>| resources.iter().any(|r| r.uri == "probe://probe/counter");
    assert!(listed(client.list_all_resources().await.unwrap()));
    let counter = call(
        &client,
        "probe_switch",
        args("resource", "probe://counter", false),
    )
    .await
    .unwrap();
    assert_eq!(text(&counter), "changed: true");
    let again = call(
        &client,
        "probe_switch",
        args("resource", "probe://counter", false),
    )
    .await
    .unwrap();
    assert_eq!(text(&again), "changed: false");
    assert!(!listed(client.list_all_resources().await.unwrap()));
    let read = client
        .peer()
        .read_resource(ReadResourceRequestParams::new("probe://probe/counter"))
        .await;
    assert!(read.is_err(), "a switched-off resource cannot be read");

    // A plugin switches only what it offers itself, by its own names.
    for (kind, name) in [("tool", "nope"), ("tool", switched), ("prompt", "switch")] {
        let refused = call(&client, "probe_switch", args(kind, name, false))
            .await
            .unwrap();
        assert_eq!(refused.is_error, Some(true));
        let what = if kind == "tool" { "tool" } else { "prompt" };
        assert_eq!(
            text(&refused),
            format!("probe offers no {what} `{name}`"),
            "{kind} {name}"
        );
    }
    assert!(tool_names(client.list_all_tools().await.unwrap()).contains(&switched.to_string()));

    // A guest switching in a loop is stopped after 16 switches in one request; the
    // component stays as its last switch left it, and pier serves on.
    let mut flood = args("tool", "count", false);
    flood["times"] = json!(40);
    let stopped = call(&client, "probe_switch", flood).await.unwrap();
    assert_eq!(stopped.is_error, Some(true));
    assert_eq!(
        text(&stopped),
        "set-enabled: at most 16 switches per request"
    );
    // 16 switches alternating off/on: the last one switched it on.
    assert!(
        tool_names(client.list_all_tools().await.unwrap()).contains(&"probe_count".to_string())
    );
    let served = call(&client, switched, json!({})).await.unwrap();
    assert_eq!(text(&served), "This tool comes and goes.");
}
