//! MCP 2026-07-28 over raw HTTP, so that every byte of the protocol shows.
//!
//! Input round trips: a plugin's questions (`context.ask`, `elicit`, `sample`) answered
//! by the client's retry. pier stops the call and answers `input_required` with the
//! questions and a sealed `requestState`; the retry runs the call again from the start.
//! Also: capabilities and log levels per request, the `Mcp-Param-*` headers of
//! SEP-2243, list cache hints; `subscriptions/listen` in `listen.rs`, tasks in
//! `tasks.rs`.

#[path = "../common/mod.rs"]
mod common;
mod listen;
mod tasks;

use tasks::tasks_declared;

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
    let config = pier::ServeConfig {
        max_protocol: rmcp::model::ProtocolVersion::V_2026_07_28,
        request_state_keys: keys.iter().map(|k| k.to_string()).collect(),
        middleware,
        ..dir.config()
    };
    (Server::start_with(config).await, dir)
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

/// The keys of the questions an `input_required` result asks.
fn asked(result: &Value) -> Vec<&str> {
    result["inputRequests"]
        .as_object()
        .map(|asked| asked.keys().map(String::as_str).collect())
        .unwrap_or_default()
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
    assert_eq!(asked(result), ["colour"]);
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
    // A state changed by one character is refused, naming why. (A middle character: the
    // last one of base64url text may carry padding bits, and a change there can make the
    // text invalid base64 rather than a forged state.)
    let mut tampered = state.clone().into_bytes();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
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
    assert_eq!(asked(&first["result"]), ["elicitation"], "{first}");
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

/// The JSON-RPC messages of an SSE response, read as they arrive.
#[tokio::test]
async fn a_call_needing_an_undeclared_capability_is_refused_naming_it() {
    let (server, _dir) = serve(&[]).await;
    let body = modern(
        1,
        "tools/call",
        json!({"name": "test_missing_capability", "arguments": {}}),
        json!({}),
    );
    let response = post_modern(
        &server.url,
        &body,
        "tools/call",
        Some("test_missing_capability"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    let refused = message(response).await;
    assert_eq!(
        refused["error"],
        json!({
            "code": -32021,
            "message": "tool `test_missing_capability` needs the client's `sampling` capability, which the request did not declare",
            "data": {"requiredCapabilities": {"sampling": {}}},
        })
    );
    // Declared, the same call asks for a sample.
    let body = modern(
        2,
        "tools/call",
        json!({"name": "test_missing_capability", "arguments": {}}),
        json!({"sampling": {}}),
    );
    let asked = message(
        post_modern(
            &server.url,
            &body,
            "tools/call",
            Some("test_missing_capability"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(asked["result"]["resultType"], "input_required", "{asked}");
    assert_eq!(
        asked["result"]["inputRequests"]["sample-1"]["method"],
        "sampling/createMessage"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_request_hears_logs_at_its_own_level_and_none_without_one() {
    let (server, _dir) = serve(&[]).await;
    let call = |id: u64, level: Option<&str>| {
        let body = modern(
            id,
            "tools/call",
            json!({"name": "test_logging_tool", "arguments": {}}),
            json!({}),
        );
        let mut body: Value = serde_json::from_str(&body).unwrap();
        if let Some(level) = level {
            body["params"]["_meta"]["io.modelcontextprotocol/logLevel"] = json!(level);
        }
        post_modern(
            &server.url,
            &body.to_string(),
            "tools/call",
            Some("test_logging_tool"),
        )
        .send()
    };
    // Only the result: one JSON response, no stream.
    let response = call(1, None).await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    let quiet = messages(response).await;
    assert_eq!(quiet.len(), 1, "only the result: {quiet:?}");
    assert_eq!(
        quiet[0]["result"]["content"][0]["text"],
        "Logged four messages"
    );

    // Log messages before the result: a stream of them all.
    let response = call(2, Some("warning")).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let heard = messages(response).await;
    let levels: Vec<&Value> = heard
        .iter()
        .filter(|m| m["method"] == "notifications/message")
        .map(|m| &m["params"]["level"])
        .collect();
    assert_eq!(levels, [&json!("warning"), &json!("error")], "{heard:?}");
    assert_eq!(
        heard.last().unwrap()["result"]["content"][0]["text"],
        "Logged four messages"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn param_headers_must_agree_with_the_arguments() {
    let (server, _dir) = serve(&[]).await;
    let send = |id: u64, header: Option<&str>| {
        let body = modern(
            id,
            "tools/call",
            json!({"name": "test_custom_header", "arguments": {"region": "eu-west"}}),
            json!({}),
        );
        let request = post_modern(&server.url, &body, "tools/call", Some("test_custom_header"));
        match header {
            Some(value) => request.header("mcp-param-region", value),
            None => request,
        }
        .send()
    };
    let agreed = send(1, Some("eu-west")).await.unwrap();
    assert_eq!(agreed.status(), 200);
    assert_eq!(
        message(agreed).await["result"]["content"][0]["text"],
        "region: eu-west"
    );
    // Base64 spelling of the same value.
    let encoded = send(2, Some("=?base64?ZXUtd2VzdA==?=")).await.unwrap();
    assert_eq!(
        message(encoded).await["result"]["content"][0]["text"],
        "region: eu-west"
    );
    for (id, header) in [
        (3, Some("us-east")),
        (4, None),
        (5, Some("=?base64?ZXUtd2VzdA?=")),
    ] {
        let refused = send(id, header).await.unwrap();
        assert_eq!(refused.status(), 400, "{header:?}");
        let refused = message(refused).await;
        assert_eq!(refused["error"]["code"], -32020, "{header:?}: {refused}");
        assert_eq!(refused["id"], id);
    }
    // Nothing broke: the tool still answers.
    let again = send(6, Some("eu-west")).await.unwrap();
    assert_eq!(
        message(again).await["result"]["content"][0]["text"],
        "region: eu-west"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_per_session_limit_holds_across_requests_without_a_session() {
    // MCP 2026-07-28 has no session: each request would be a new one, so the limit
    // counts the client (its IP over HTTP) instead.
    let toml = r#"
[[middleware]]
type = "rate-limit"
capacity = 2
refill-per-second = 0.001
per = "session"
methods = ["tools/call"]
"#;
    let (server, _dir) = serve_with(&[], toml).await;
    let mut answers = Vec::new();
    for id in 1..=3 {
        let body = modern(
            id,
            "tools/call",
            json!({"name": "test_simple_text", "arguments": {}}),
            json!({}),
        );
        let response = post_modern(&server.url, &body, "tools/call", Some("test_simple_text"))
            .send()
            .await
            .unwrap();
        answers.push(message(response).await);
    }
    assert!(answers[0]["result"].is_object(), "{}", answers[0]);
    assert!(answers[1]["result"].is_object(), "{}", answers[1]);
    let refused = answers[2]["error"]["message"].as_str().unwrap_or_default();
    assert!(
        refused.starts_with(
            "rate limit exceeded (2 requests, then 0.001 per second, per session); retry after"
        ),
        "{}",
        answers[2]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn list_results_carry_cache_hints_for_the_new_revision_only() {
    let list = |url: String, id: u64| async move {
        let body = modern(id, "tools/list", json!({}), json!({}));
        message(
            post_modern(&url, &body, "tools/list", None)
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    let (server, _dir) = serve(&[]).await;
    let first = list(server.url.clone(), 1).await;
    assert_eq!(
        (&first["result"]["ttlMs"], &first["result"]["cacheScope"]),
        (&json!(1000), &json!("public")),
        "{first}"
    );
    // The same list in the same order every time.
    let names = |m: &Value| -> Vec<String> {
        m["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&list(server.url.clone(), 2).await), names(&first));
    // A 2025-11-25 session's list is as it always was.
    let session = raw_session(&server.url).await;
    let body = r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#;
    let legacy = message(
        in_session(&server.url, &session, body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(legacy["result"]["ttlMs"], Value::Null, "{legacy}");
    assert_eq!(legacy["result"]["cacheScope"], Value::Null, "{legacy}");
    assert_eq!(names(&legacy), names(&first));
    server.shutdown().await;

    // With middleware, what a client is shown may depend on who it is: private.
    let toml = "[[middleware]]\ntype = \"timing\"\n";
    let (server, _dir) = serve_with(&[], toml).await;
    let private = list(server.url.clone(), 1).await;
    assert_eq!(private["result"]["cacheScope"], "private", "{private}");
    server.shutdown().await;
}

#[tokio::test]
async fn two_piers_sharing_redis_and_keys_serve_one_client_without_a_session() {
    let redis = RedisServer::start();
    let key = "fleet:a-shared-secret-of-at-least-32-bytes!";
    let dir = PluginDir::new().with(&fixture("probe"), "probe");
    let start = || async {
        let config = pier::ServeConfig {
            max_protocol: rmcp::model::ProtocolVersion::V_2026_07_28,
            request_state_keys: vec![key.into()],
            storage: pier::storage::Backend::Redis {
                url: redis.url(),
                prefix: "fleet:".into(),
            },
            ..dir.config()
        };
        Server::start_with(config).await
    };
    let (a, b) = (start().await, start().await);
    // Each round of the interview reaches the other replica; the plugin counts its runs
    // in the shared store.
    let first = call(&a, 1, "probe_interview", json!({})).await;
    assert_eq!(
        first["result"]["inputRequests"]["name"]["method"], "elicitation/create",
        "{first}"
    );
    let state = first["result"]["requestState"].as_str().unwrap();
    let second = call(
        &b,
        2,
        "probe_interview",
        json!({"inputResponses": {"name": accept("name", "Ada")}, "requestState": state}),
    )
    .await;
    assert_eq!(asked(&second["result"]), ["colour"], "{second}");
    let state = second["result"]["requestState"].as_str().unwrap();
    let done = call(
        &a,
        3,
        "probe_interview",
        json!({"inputResponses": {"colour": accept("colour", "blue")}, "requestState": state}),
    )
    .await;
    assert_eq!(
        done["result"]["content"][0]["text"], "run 3: Ada likes blue",
        "{done}"
    );
    a.shutdown().await;
    b.shutdown().await;
}

/// What a client declaring the tasks extension (and forms) sends.
#[tokio::test]
async fn stdio_serves_the_new_revision_without_initialize_rounds_and_tasks_included() {
    let (server, _dir) = serve(&[]).await;
    let mut raw = RawSession::connect(&server.app);
    let meta = |caps: Value| {
        json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": caps,
        })
    };
    let (plain, _) = raw
        .request(
            1,
            "tools/call",
            json!({"name": "test_simple_text", "arguments": {}, "_meta": meta(json!({}))}),
        )
        .await;
    assert_eq!(plain["result"]["resultType"], "complete", "{plain}");
    let (asked, _) = raw
        .request(
            2,
            "tools/call",
            json!({"name": "test_input_required_result_elicitation", "arguments": {}, "_meta": meta(forms())}),
        )
        .await;
    assert_eq!(asked["result"]["resultType"], "input_required", "{asked}");
    let state = asked["result"]["requestState"].clone();
    let (done, _) = raw
        .request(
            3,
            "tools/call",
            json!({
                "name": "test_input_required_result_elicitation", "arguments": {},
                "inputResponses": {"user_name": accept("name", "Ada")}, "requestState": state,
                "_meta": meta(forms()),
            }),
        )
        .await;
    assert_eq!(
        done["result"]["content"][0]["text"], "Hello, Ada!",
        "{done}"
    );
    let (created, _) = raw
        .request(
            4,
            "tools/call",
            json!({"name": "slow_compute", "arguments": {"seconds": 0}, "_meta": meta(tasks_declared())}),
        )
        .await;
    let id = created["result"]["taskId"].as_str().unwrap().to_string();
    let mut status = Value::Null;
    for n in 0..100 {
        let (got, _) = raw
            .request(
                10 + n,
                "tasks/get",
                json!({"taskId": id, "_meta": meta(tasks_declared())}),
            )
            .await;
        status = got["result"]["status"].clone();
        if status == "completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, "completed");
    server.shutdown().await;
}

#[tokio::test]
async fn the_response_cache_never_serves_an_answered_round_trip() {
    // A retry carrying answers is neither answered from the cache nor cached: the
    // next client (by default the cache is everyone's) is asked its own question.
    let toml = "[[middleware]]\ntype = \"response-cache\"\n";
    let (server, _dir) = serve_with(&[], toml).await;
    let tool = "test_input_required_result_elicitation";
    let first = call(&server, 1, tool, json!({})).await;
    assert_eq!(first["result"]["resultType"], "input_required", "{first}");
    let state = first["result"]["requestState"].as_str().unwrap();
    let answered = json!({
        "inputResponses": {"user_name": accept("name", "Mallory-secret")},
        "requestState": state,
    });
    let done = call(&server, 2, tool, answered.clone()).await;
    assert_eq!(
        done["result"]["content"][0]["text"],
        "Hello, Mallory-secret!"
    );
    let other = call(&server, 3, tool, json!({})).await;
    assert_eq!(other["result"]["resultType"], "input_required", "{other}");
    assert_eq!(asked(&other["result"]), ["user_name"]);
    // The same answers again: run again, not replayed from a cache entry.
    let again = call(&server, 4, tool, answered).await;
    assert_eq!(
        again["result"]["content"][0]["text"],
        "Hello, Mallory-secret!"
    );
    // Answers to a tool that asks nothing: it runs (the answers are ignored), uncached.
    let count = |id, extra| {
        let server = &server;
        async move {
            let params = json!({"name": "probe_count", "arguments": {"label": "x"}});
            let mut params = params.as_object().unwrap().clone();
            if let Value::Object(extra) = extra {
                params.extend(extra);
            }
            let body = modern(id, "tools/call", Value::Object(params), forms());
            let response = post_modern(&server.url, &body, "tools/call", Some("probe_count"))
                .send()
                .await
                .unwrap();
            message(response).await["result"]["content"][0]["text"].clone()
        }
    };
    assert_eq!(count(5, json!({})).await, "1");
    assert_eq!(count(6, json!({})).await, "1", "cached");
    let with_answers = json!({"inputResponses": {"x": accept("name", "y")}});
    assert_eq!(count(7, with_answers).await, "2", "not from the cache");
    assert_eq!(
        count(8, json!({})).await,
        "1",
        "the cache entry is the first call's"
    );
    server.shutdown().await;
}
