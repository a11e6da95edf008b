//! Input round trips of MCP 2026-07-28: a plugin's questions (`context.ask`, `elicit`,
//! `sample`) answered by the client's retry. pier stops the call and answers
//! `input_required` with the questions and a sealed `requestState`; the retry runs the
//! call again from the start. Over raw HTTP, so that every byte of the protocol shows.

mod common;

use std::sync::Arc;

use common::*;
use pier::App;
use serde_json::{Value, json};

/// What a client that can answer forms declares.
fn forms() -> Value {
    json!({"elicitation": {"form": {}}})
}

/// pier with 2026-07-28 enabled, serving the probe and conformance fixtures.
async fn serve(keys: &[&str]) -> (Server, PluginDir) {
    serve_with(keys, "").await
}

/// [`serve`] with the `[[middleware]]` of `toml`.
async fn serve_with(keys: &[&str], toml: &str) -> (Server, PluginDir) {
    let mut layers = pier::config::Layers::default();
    layers
        .apply_file(std::path::Path::new("pier.toml"), toml)
        .expect("the configuration is valid");
    let middleware = layers.build().expect("it builds").middleware;
    let dir = PluginDir::new()
        .with(&fixture("probe"), "probe")
        .with(&fixture("conformance"), "conformance")
        .with_sidecar("conformance", "namespace = \"\"\n");
    let mut config = pier::ServeConfig {
        max_protocol: rmcp::model::ProtocolVersion::V_2026_07_28,
        request_state_keys: keys.iter().map(|k| k.to_string()).collect(),
        middleware,
        ..dir.config()
    };
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    let app = Arc::new(App::start(&config).await.expect("pier starts"));
    (Server::serve(app, &config).await, dir)
}

/// Calls `tool` with `extra` params (`inputResponses`, `requestState`).
async fn call(server: &Server, id: u64, tool: &str, extra: Value) -> Value {
    let mut params = json!({"name": tool, "arguments": {}});
    if let Value::Object(extra) = extra {
        params.as_object_mut().unwrap().extend(extra);
    }
    let body = modern(id, "tools/call", params, forms());
    let response = post_modern(&server.url, &body, "tools/call", Some(tool))
        .send()
        .await
        .unwrap();
    message(response).await
}

fn accept(field: &str, value: &str) -> Value {
    json!({"action": "accept", "content": {field: value}})
}

#[tokio::test]
async fn a_plugin_that_asks_twice_takes_two_rounds_and_runs_afresh_each_time() {
    let (server, _dir) = serve(&[]).await;
    // Round 1: the call stops at its first question.
    let first = call(&server, 1, "probe_interview", json!({})).await;
    let result = &first["result"];
    assert_eq!(result["resultType"], "input_required", "{first}");
    assert_eq!(
        result["inputRequests"],
        json!({"name": {"method": "elicitation/create", "params": {
            "mode": "form", "message": "Your name?",
            "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}},
                                "required": ["name"]}}}})
    );
    let state = result["requestState"].as_str().unwrap().to_string();
    // Round 2: the retry answers it; the call runs again and stops at the second.
    let second = call(
        &server,
        2,
        "probe_interview",
        json!({"inputResponses": {"name": accept("name", "Ada")}, "requestState": state}),
    )
    .await;
    let result = &second["result"];
    assert_eq!(result["resultType"], "input_required", "{second}");
    let keys: Vec<&String> = result["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["colour"]);
    // Round 3: only the last answer is sent; the state carries the first.
    let state = result["requestState"].as_str().unwrap();
    let third = call(
        &server,
        3,
        "probe_interview",
        json!({"inputResponses": {"colour": accept("colour", "green")}, "requestState": state}),
    )
    .await;
    assert_eq!(
        third["result"],
        json!({"resultType": "complete", "isError": false,
               "content": [{"type": "text", "text": "run 3: Ada likes green"}]}),
        "three runs, each from the start"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_retry_without_the_answer_is_asked_again_and_a_tampered_state_is_refused() {
    let (server, _dir) = serve(&[]).await;
    let tool = "test_input_required_result_elicitation";
    let first = call(&server, 1, tool, json!({})).await;
    let asked = first["result"]["inputRequests"].clone();
    let state = first["result"]["requestState"]
        .as_str()
        .unwrap()
        .to_string();
    // Without the answer (or with only unknown keys): the same question again.
    let again = call(
        &server,
        2,
        tool,
        json!({"inputResponses": {"other": accept("name", "x")}, "requestState": state}),
    )
    .await;
    assert_eq!(again["result"]["resultType"], "input_required");
    assert_eq!(again["result"]["inputRequests"], asked);
    // An answer that does not fit the question (not an elicitation result): asked again.
    let unfit = call(
        &server,
        3,
        tool,
        json!({"inputResponses": {"user_name": "Ada"}, "requestState": state}),
    )
    .await;
    assert_eq!(unfit["result"]["inputRequests"], asked, "{unfit}");
    // A state changed by one character is refused, naming why.
    let mut tampered = state.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let refused = call(
        &server,
        4,
        tool,
        json!({"inputResponses": {"user_name": accept("name", "Ada")},
               "requestState": String::from_utf8(tampered).unwrap()}),
    )
    .await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    assert_eq!(
        refused["error"]["message"],
        "requestState is not one pier issued for this request: request state failed integrity verification"
    );
    // A state of another request (another tool) does not open for this one.
    let other = call(
        &server,
        5,
        "test_input_required_result_request_state",
        json!({}),
    )
    .await;
    let foreign = other["result"]["requestState"].as_str().unwrap();
    let replayed = call(
        &server,
        6,
        tool,
        json!({"inputResponses": {"user_name": accept("name", "Ada")}, "requestState": foreign}),
    )
    .await;
    assert_eq!(replayed["error"]["code"], -32602, "{replayed}");
    // The honest retry still completes.
    let done = call(
        &server,
        7,
        tool,
        json!({"inputResponses": {"user_name": accept("name", "Ada")}, "requestState": state}),
    )
    .await;
    assert_eq!(
        done["result"]["content"][0]["text"], "Hello, Ada!",
        "{done}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn several_questions_make_one_round_and_undeclared_capabilities_are_not_asked() {
    let (server, _dir) = serve(&[]).await;
    // The client declares elicitation only: sampling and roots are not asked.
    let first = call(
        &server,
        1,
        "test_input_required_result_capabilities",
        json!({}),
    )
    .await;
    let keys: Vec<&String> = first["result"]["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["elicitation"], "{first}");
    let state = first["result"]["requestState"].as_str().unwrap();
    let done = call(
        &server,
        2,
        "test_input_required_result_capabilities",
        json!({"inputResponses": {"elicitation": accept("name", "Ada")}, "requestState": state}),
    )
    .await;
    assert_eq!(
        done["result"]["content"][0]["text"],
        "answered: [elicitation: Ada]"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_fleet_sharing_its_keys_opens_each_others_state_and_a_rotated_key_still_opens() {
    let old = "2026-10:an-old-secret-of-at-least-32-bytes!!";
    let new = "2026-11:a-new-secret-of-at-least-32-bytes!!!";
    let (one, _a) = serve(&[old]).await;
    let (two, _b) = serve(&[new, old]).await;
    let tool = "test_input_required_result_elicitation";
    // Sealed by `one` with the old key; `two` signs with the new one but still verifies
    // the old: the retry may reach either replica.
    let first = call(&one, 1, tool, json!({})).await;
    let state = first["result"]["requestState"].as_str().unwrap();
    let done = call(
        &two,
        2,
        tool,
        json!({"inputResponses": {"user_name": accept("name", "Ada")}, "requestState": state}),
    )
    .await;
    assert_eq!(
        done["result"]["content"][0]["text"], "Hello, Ada!",
        "{done}"
    );
    // A replica without the key refuses the state.
    let (three, _c) = serve(&[new]).await;
    let refused = call(
        &three,
        3,
        tool,
        json!({"inputResponses": {"user_name": accept("name", "Ada")}, "requestState": state}),
    )
    .await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    for server in [one, two, three] {
        server.shutdown().await;
    }
}

#[tokio::test]
async fn an_unusable_request_state_key_stops_pier_saying_why() {
    let dir = PluginDir::new();
    let config = pier::ServeConfig {
        request_state_keys: vec!["short:secret".into()],
        ..dir.config()
    };
    let error = App::start(&config).await.err().unwrap().to_string();
    assert_eq!(
        error,
        "server.request-state-keys: request state signing key is too short: expected at least 32 bytes, got 6"
    );
}

#[tokio::test]
async fn round_trips_pass_through_middleware_hooks() {
    // Typed hooks (the cache's `on_call_tool`) have no place for `input_required`:
    // it passes them, neither cached nor counted as an error.
    let toml = r#"
[[middleware]]
type = "error-handling"

[[middleware]]
type = "response-cache"
include-tools = ["test_input_required_result_elicitation"]
"#;
    let (server, _dir) = serve_with(&[], toml).await;
    let tool = "test_input_required_result_elicitation";
    let first = call(&server, 1, tool, json!({})).await;
    assert_eq!(first["result"]["resultType"], "input_required", "{first}");
    let state = first["result"]["requestState"].as_str().unwrap();
    let done = call(
        &server,
        2,
        tool,
        json!({"inputResponses": {"user_name": accept("name", "Ada")}, "requestState": state}),
    )
    .await;
    assert_eq!(
        done["result"]["content"][0]["text"], "Hello, Ada!",
        "{done}"
    );
    server.shutdown().await;
}
