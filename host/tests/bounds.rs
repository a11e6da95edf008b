//! Bounds on what clients and guests send: long URIs, many subscriptions, repeated
//! notifications; log floods, request state, calls at once. Each test shows the clear
//! error and that everything else keeps serving.

mod common;

use std::time::Duration;

use common::*;
use pier::App;
use serde_json::{Value, json};

/// Far longer than any of these requests takes when pier works, far shorter than the
/// minutes to hours they took when it did not.
const GENEROUS: Duration = Duration::from_secs(30);

/// The JSON-RPC response with `id` in an SSE (or JSON) response body; the whole body
/// must arrive (the stream ends) within [`GENEROUS`].
async fn response_with_id(response: reqwest::Response, id: u64) -> Value {
    let body = tokio::time::timeout(GENEROUS, response.text())
        .await
        .expect("the response stream ends")
        .unwrap();
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .chain(std::iter::once(body.as_str()))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("no response with id {id} in {body:.300}"))
}

fn read_request(id: u64, uri: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "resources/read", "params": {"uri": uri}})
        .to_string()
}

/// `hello://hello/greeting/` + `len` bytes + `/`: matches the start of hello's template
/// `hello://hello/greeting/{name}`, then fails at the very end.
fn long_uri(len: usize) -> String {
    format!("hello://hello/greeting/{}/", "a".repeat(len))
}

async fn serve(config: &pier::ServeConfig) -> Server {
    Server::start_with(config.clone()).await
}

#[tokio::test]
async fn a_megabyte_uri_is_refused_as_too_long_while_other_clients_are_served() {
    let dir = PluginDir::examples();
    let server = serve(&dir.config()).await;
    let (client, _) = server.client().await;
    let session = raw_session(&server.url).await;
    let uri = long_uri(1 << 20);
    let sent = in_session(&server.url, &session, &read_request(5, &uri)).send();
    let (response, ()) = tokio::join!(sent, assert_still_serving(&client));
    let answer = response_with_id(response.unwrap(), 5).await;
    assert_eq!(answer["error"]["code"], -32602, "{answer:.300}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "resource URI of 1048600 bytes is longer than the limit of 8192 (server.max-uri-bytes): hello://hello/greeting/aaa"
        ),
        "{message:.400}"
    );
    assert!(
        message.ends_with("… [1048344 more bytes]"),
        "the URI is not echoed whole: {message:.400}"
    );
    // The same for a subscription, and for a completion reference.
    let subscribe =
        json!({"jsonrpc": "2.0", "id": 6, "method": "resources/subscribe", "params": {"uri": uri}});
    let response = in_session(&server.url, &session, &subscribe.to_string())
        .send()
        .await
        .unwrap();
    let answer = response_with_id(response, 6).await;
    assert_eq!(answer["error"]["code"], -32602, "{answer:.300}");
    assert_still_serving(&client).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_long_uris_on_one_session_are_both_answered_quickly_and_briefly() {
    // At the largest limit the operator may set, a URI that fails only at its last
    // byte: matching is linear, and each answer ends its stream.
    let dir = PluginDir::examples();
    let config = pier::ServeConfig {
        max_uri_bytes: 1 << 20,
        ..dir.config()
    };
    let server = serve(&config).await;
    let (client, _) = server.client().await;
    let session = raw_session(&server.url).await;
    let uri = long_uri(1_000_000);
    let (a, b) = tokio::join!(
        in_session(&server.url, &session, &read_request(11, &uri)).send(),
        in_session(&server.url, &session, &read_request(12, &uri)).send(),
    );
    let (a, b) = tokio::join!(
        response_with_id(a.unwrap(), 11),
        response_with_id(b.unwrap(), 12)
    );
    for answer in [a, b] {
        assert_eq!(answer["error"]["code"], -32002, "{answer:.300}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("resource not found: hello://hello/greeting/aaa")
                && message.ends_with("… [999768 more bytes]"),
            "{message:.400}"
        );
        assert!(
            answer["error"]["data"]["uri"].as_str().unwrap().len() < 1000,
            "the data echoes the clipped URI only"
        );
    }
    assert_still_serving(&client).await;
    server.shutdown().await;
}

#[tokio::test]
async fn two_large_results_on_one_session_both_arrive_whole() {
    // A response event of several MiB on each of two concurrent requests of one
    // session: each stream carries its result and ends.
    let dir = PluginDir::examples().with(&fixture("probe"), "probe");
    let server = serve(&dir.config()).await;
    let session = raw_session(&server.url).await;
    let big = |id: u64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": "probe_big", "arguments": {"bytes": 3 << 20}}})
        .to_string()
    };
    let (a, b) = tokio::join!(
        in_session(&server.url, &session, &big(21)).send(),
        in_session(&server.url, &session, &big(22)).send(),
    );
    let (a, b) = tokio::join!(
        response_with_id(a.unwrap(), 21),
        response_with_id(b.unwrap(), 22)
    );
    for answer in [a, b] {
        let text = answer["result"]["content"][0]["text"].as_str().unwrap();
        assert_eq!(text.len(), 3 << 20);
    }
    server.shutdown().await;
}

/// Polls `condition` every 10 ms for up to [`GENEROUS`].
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + GENEROUS;
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_session_subscribes_to_a_bounded_number_of_uris_and_ending_it_drops_them() {
    let dir = PluginDir::examples();
    let config = pier::ServeConfig {
        max_subscriptions: 3,
        ..dir.config()
    };
    let app = App::start(&config).await.unwrap();
    let mut raw = RawSession::open(&app).await;
    let uri = |n: &str| json!({ "uri": format!("hello://hello/greeting/{n}") });
    for (id, name) in [(2, "a"), (3, "b"), (4, "c"), (5, "a")] {
        let (answer, _) = raw.request(id, "resources/subscribe", uri(name)).await;
        assert_eq!(answer["result"], json!({}), "{answer}");
    }
    let (refused, _) = raw.request(6, "resources/subscribe", uri("d")).await;
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    assert_eq!(
        refused["error"]["message"],
        "this session already subscribes to 3 resources (server.max-subscriptions); unsubscribe from one first"
    );
    assert_eq!(app.subscriptions().len(), 3);
    // Another session has its own allowance.
    let mut other = RawSession::open(&app).await;
    let (answer, _) = other.request(2, "resources/subscribe", uri("d")).await;
    assert_eq!(answer["result"], json!({}), "{answer}");
    // Unsubscribing makes room.
    let (answer, _) = raw.request(7, "resources/unsubscribe", uri("b")).await;
    assert_eq!(answer["result"], json!({}), "{answer}");
    let (answer, _) = raw.request(8, "resources/subscribe", uri("d")).await;
    assert_eq!(answer["result"], json!({}), "{answer}");
    assert_eq!(app.subscriptions().len(), 4);
    // Ending a session drops its subscriptions; the other session keeps its own.
    drop(raw);
    eventually("the ended session's subscriptions are dropped", || {
        app.subscriptions().len() == 1
    })
    .await;
    let (answer, _) = other.request(3, "tools/list", json!({})).await;
    assert!(answer["result"]["tools"].is_array(), "{answer}");
}

#[tokio::test]
async fn repeated_initialized_notifications_start_one_change_forwarder() {
    let dir = PluginDir::examples();
    let app = App::start(&dir.config()).await.unwrap();
    let before = app.registry().subscribers();
    let mut raw = RawSession::open(&app).await;
    for _ in 0..50 {
        raw.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
    }
    // The notifications were handled before this request's answer arrived...
    let (answer, _) = raw.request(9, "ping", json!({})).await;
    assert_eq!(answer["result"], json!({}));
    // ...and give a forwarder per notification (51) ample time to show up.
    let deadline = std::time::Instant::now() + Duration::from_millis(500);
    while std::time::Instant::now() < deadline {
        assert_eq!(app.registry().subscribers(), before + 1);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn plugins_see_a_hash_of_the_http_session_id_never_the_id() {
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("hostile"), "hostile");
    let server = serve(&dir.config()).await;
    let session = raw_session(&server.url).await;
    let whoami = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                        "params": {"name": "hostile_whoami", "arguments": {}}});
    let response = in_session(&server.url, &session, &whoami.to_string())
        .send()
        .await
        .unwrap();
    let answer = response_with_id(response, 3).await;
    let text = answer["result"]["content"][0]["text"].as_str().unwrap();
    let seen = text
        .split(' ')
        .find_map(|w| w.strip_prefix("session="))
        .unwrap();
    assert!(!seen.contains(&session), "{text}");
    assert!(
        seen.starts_with("s-") && seen.len() == 18,
        "an opaque short id: {text}"
    );
    // The same session gives the same id; replaying it as a session id is refused.
    let response = in_session(&server.url, &session, &whoami.to_string())
        .send()
        .await
        .unwrap();
    let again = response_with_id(response, 3).await;
    assert_eq!(again["result"]["content"][0]["text"], text);
    let replayed = in_session(&server.url, seen, &whoami.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 404);
    server.shutdown().await;
}

fn hostile_with(limits: &str) -> PluginDir {
    PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("hostile"), "hostile")
        .with_sidecar("hostile", &format!("[limits]\n{limits}"))
}

#[tokio::test]
async fn a_guest_flooding_logs_and_output_is_cut_at_its_budget() {
    // Ten messages per call: the flood alternates log messages and stdout lines, so
    // five log messages reach the client.
    let dir = hostile_with("log-messages = 10\n");
    let (app, client, recorder) = start(&dir).await;
    let result = call(&client, "hostile_flood", json!({"n": 100}))
        .await
        .unwrap();
    assert_eq!(text(&result), "sent 100");
    recorder
        .wait_for("five log messages", |r| r.logs.len() >= 5)
        .await;
    assert_still_serving(&client).await;
    assert_eq!(
        recorder.log_texts(),
        ["flood 0", "flood 1", "flood 2", "flood 3", "flood 4"]
    );
    // The budget is per call: the next call has its own.
    call(&client, "hostile_flood", json!({"n": 1}))
        .await
        .unwrap();
    recorder
        .wait_for("one more log message", |r| r.logs.len() == 6)
        .await;
    drop(app);
}

#[tokio::test]
async fn request_state_past_its_limit_fails_the_call_saying_so() {
    let dir = hostile_with("");
    let (_app, client, _) = start(&dir).await;
    let kept = call(&client, "hostile_hoard", json!({"n": 10}))
        .await
        .unwrap();
    assert_eq!(
        text(&kept),
        "kept 10",
        "2.5 MiB is within the default 4 MiB"
    );
    let result = call(&client, "hostile_hoard", json!({"n": 20}))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    let message = text(&result);
    assert!(
        message.starts_with(
            "plugin `hostile` trapped: context.set-state: the request state would hold "
        ) && message.ends_with("bytes, over its limit of 4194304 (server.max-request-state-bytes)"),
        "{message}"
    );
    assert_still_serving(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_at_its_concurrency_limit_answers_busy_and_others_keep_serving() {
    let dir = hostile_with("timeout-ms = 3000\nmax-concurrent-calls = 1\n");
    let (app, client, _) = start(&dir).await;
    let spinning = {
        let peer = client.peer().clone();
        tokio::spawn(async move {
            peer.call_tool(rmcp::model::CallToolRequestParams::new("hostile_spin"))
                .await
        })
    };
    eventually("the first call runs", || app.in_flight().count() == 1).await;
    let busy = call(&client, "hostile_spin", json!({})).await.unwrap();
    assert_eq!(busy.is_error, Some(true));
    assert_eq!(
        text(&busy),
        "plugin `hostile` is busy: 1 calls are running (max-concurrent-calls); try again later"
    );
    assert_still_serving(&client).await;
    let first = spinning.await.unwrap().unwrap();
    assert_eq!(text(&first), "plugin `hostile` timed out after 3000 ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_reusing_the_id_of_one_in_flight_is_refused_and_both_streams_end() {
    // rmcp routes a response by request id: a second request with the id of one in
    // flight took its route, and the first stream stayed open for good.
    let dir = hostile_with("timeout-ms = 3000\n");
    let server = serve(&dir.config()).await;
    let session = raw_session(&server.url).await;
    let request = |tool: &str| {
        let arguments = if tool == "hello_greet" {
            json!({"name": "Ada"})
        } else {
            json!({})
        };
        json!({"jsonrpc": "2.0", "id": 41, "method": "tools/call",
               "params": {"name": tool, "arguments": arguments}})
        .to_string()
    };
    let first = in_session(&server.url, &session, &request("hostile_spin"))
        .send()
        .await
        .unwrap();
    let second = in_session(&server.url, &session, &request("hello_greet"))
        .send()
        .await
        .unwrap();
    let first = tokio::spawn(response_with_id(first, 41));
    let refused = response_with_id(second, 41).await;
    assert!(
        !first.is_finished(),
        "answered while the first request still runs (for three seconds)"
    );
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    assert_eq!(
        refused["error"]["message"],
        "request id 41 is in use by a request in flight in this session; a client must not reuse it"
    );
    // The first request's stream carries its own answer and ends.
    let answer = first.await.unwrap();
    assert_eq!(
        answer["result"]["content"][0]["text"], "plugin `hostile` timed out after 3000 ms",
        "{answer}"
    );
    // Once answered, the id may be used again.
    let again = in_session(&server.url, &session, &request("hello_greet"))
        .send()
        .await
        .unwrap();
    let answer = response_with_id(again, 41).await;
    assert_eq!(
        answer["result"]["content"][0]["text"], "Hello, Ada!",
        "{answer}"
    );
    server.shutdown().await;
}
