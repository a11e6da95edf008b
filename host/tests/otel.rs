//! OpenTelemetry export against a real OTLP receiver on loopback: one call's span tree
//! (client → pier → middleware → mount → guest → its outbound HTTP request, and through
//! a proxied mount into a second pier and its storage), the trace id taken from the
//! request, the context seen by the plugin's HTTP server and by the upstream pier, the
//! metrics of the MCP conventions, sampling, and what never goes into a span.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::otlp::{Received, Receiver, attribute};
use common::*;
use opentelemetry_proto::tonic::metrics::v1::metric;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::{Value, json};

const TOKEN: &str = "otel-test-token";
/// A token without the scope the rule on `outbound_*` asks for.
const BOB: &str = "otel-test-token-of-bob";

/// A loopback HTTP server recording the `traceparent` of each request it gets.
async fn echo() -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let keep = seen.clone();
    let router = axum::Router::new().route(
        "/echo",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let keep = keep.clone();
            async move {
                let parent = headers
                    .get("traceparent")
                    .and_then(|v| v.to_str().ok())
                    .map(String::from);
                keep.lock().unwrap().push(parent);
                "echoed"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/echo", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, seen)
}

/// `pier serve` with `config` (a pier.toml), plugins from `dir`, its own data dir;
/// spans sent every 100 ms.
async fn pier(dir: &PluginDir, config: &str, data: &tempfile::TempDir) -> ChildPier {
    pier_with_env(dir, config, data, &[]).await
}

/// [`pier`] with the environment variables `env` set too.
async fn pier_with_env(
    dir: &PluginDir,
    config: &str,
    data: &tempfile::TempDir,
    env: &[(&str, &str)],
) -> ChildPier {
    let mut env = env.to_vec();
    env.push(("OTEL_BSP_SCHEDULE_DELAY", "100"));
    let file = data.path().join("pier.toml");
    std::fs::write(&file, config).unwrap();
    ChildPier::serve_with_env(
        &[
            "--config",
            file.to_str().unwrap(),
            "--plugins",
            dir.path().to_str().unwrap(),
            "--data-dir",
            data.path().to_str().unwrap(),
        ],
        &env,
    )
    .await
}

/// A pier serving the `hello` example, exporting to `receiver` as `service` with
/// `more` in `[telemetry]`; its plugin and data directories live as long as it.
async fn hello_pier(
    receiver: &Receiver,
    service: &str,
    more: &str,
) -> (ChildPier, PluginDir, tempfile::TempDir) {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let data = tempfile::tempdir().unwrap();
    let pier = pier(&dir, &telemetry(receiver, service, more), &data).await;
    (pier, dir, data)
}

/// `[telemetry]` sending to `receiver` as `service`, metrics every 200 ms.
fn telemetry(receiver: &Receiver, service: &str, more: &str) -> String {
    format!(
        "[telemetry]\notlp-endpoint = \"{}\"\nservice-name = \"{service}\"\nexport-interval-ms = 200\n{more}\n",
        receiver.endpoint
    )
}

/// A 2026-07-28 `tools/call` of `tool` (no session), with `meta` added to its `_meta`
/// and `headers` to the HTTP request; its result.
async fn call(
    url: &str,
    tool: &str,
    arguments: Value,
    meta: Value,
    headers: &[(&str, &str)],
) -> Value {
    let mut body: Value = serde_json::from_str(&modern(
        7,
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
        json!({}),
    ))
    .unwrap();
    for (k, v) in meta.as_object().unwrap() {
        body["params"]["_meta"][k] = v.clone();
    }
    let mut request = post_modern(url, &body.to_string(), "tools/call", Some(tool))
        .header("authorization", format!("Bearer {TOKEN}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let message = message(request.send().await.unwrap()).await;
    assert!(message.get("error").is_none(), "{message}");
    message["result"].clone()
}

/// The spans of one trace, by name (a name met twice keeps the first).
fn by_name(spans: &[Received]) -> HashMap<String, Received> {
    let mut named = HashMap::new();
    for r in spans {
        named
            .entry(r.span.name.clone())
            .or_insert_with(|| r.clone());
    }
    named
}

fn has(spans: &[Received], names: &[&str]) -> bool {
    names
        .iter()
        .all(|n| spans.iter().any(|r| r.span.name == *n))
}

/// `child`'s parent is `parent`.
fn assert_child(named: &HashMap<String, Received>, child: &str, parent: &str) {
    let (c, p) = (&named[child].span, &named[parent].span);
    assert_eq!(
        hex::encode(&c.parent_span_id),
        hex::encode(&p.span_id),
        "`{child}` is a child of `{parent}`"
    );
}

fn attr(named: &HashMap<String, Received>, span: &str, key: &str) -> Option<String> {
    attribute(&named[span].span.attributes, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_is_one_trace_from_the_client_through_the_guest_to_its_http_server_and_an_upstream_pier()
 {
    let receiver = Receiver::start().await;
    let (echo_url, echoed) = echo().await;

    let up_dir = PluginDir::new().with(&example("notes"), "notes");
    let up_data = tempfile::tempdir().unwrap();
    let upstream = pier(&up_dir, &telemetry(&receiver, "upstream", ""), &up_data).await;

    let dir = PluginDir::new()
        .with(&fixture("outbound"), "outbound")
        .with_sidecar(
            "outbound",
            "[grants]\nhttp = [\"http://127.0.0.1:*\"]\nprivate-networks = true\n",
        );
    let data = tempfile::tempdir().unwrap();
    let config = format!(
        "{}\n[grants]\nprivate-networks = true\n\n[auth]\nmode = \"tokens\"\nresource = \"http://127.0.0.1/mcp\"\n\n[[auth.token]]\nhash = \"{}\"\nsubject = \"alice\"\nscopes = [\"tools\"]\n\n[[auth.token]]\nhash = \"{}\"\nsubject = \"bob\"\nscopes = []\n\n[[auth.rule]]\ntools = [\"outbound_*\"]\nscopes = [\"tools\"]\n\n[[middleware]]\ntype = \"timing\"\n\n[[mount]]\nnamespace = \"up\"\nurl = \"{}\"\n",
        telemetry(&receiver, "downstream", "trace-content = [\"outbound\"]"),
        pier::auth::hash_token(TOKEN),
        pier::auth::hash_token(BOB),
        upstream.url
    );
    let downstream = pier(&dir, &config, &data).await;

    // A call of a plugin whose outbound request goes to a loopback server; the client's
    // context in `_meta`. The URL's query is a secret no span may hold.
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = "00f067aa0ba902b7";
    let secret_url = format!("{echo_url}?token=s3cret-query");
    let result = call(
        &downstream.url,
        "outbound_request",
        json!({"url": secret_url}),
        json!({"traceparent": format!("00-{trace}-{parent}-01"), "tracestate": "vendor=1"}),
        &[],
    )
    .await;
    assert!(
        result["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("200"),
        "{result}"
    );
    let names = [
        "tools/call outbound_request",
        "middleware authorization",
        "middleware timing",
        "mount outbound",
        "run outbound",
        "GET",
    ];
    let spans = receiver.trace(trace, |s| has(s, &names)).await;
    let named = by_name(&spans);
    let server = &named["tools/call outbound_request"];
    assert_eq!(server.service, "downstream");
    assert_eq!(server.span.kind, SpanKind::Server as i32);
    assert_eq!(hex::encode(&server.span.parent_span_id), parent);
    assert_eq!(server.span.trace_state, "vendor=1");
    for (key, value) in [
        ("mcp.method.name", "tools/call"),
        ("gen_ai.tool.name", "outbound_request"),
        ("gen_ai.operation.name", "execute_tool"),
        ("jsonrpc.request.id", "7"),
        ("mcp.protocol.version", "2026-07-28"),
        ("network.transport", "tcp"),
        ("network.protocol.name", "http"),
        ("client.address", "127.0.0.1"),
    ] {
        assert_eq!(
            attr(&named, "tools/call outbound_request", key).as_deref(),
            Some(value),
            "{key}"
        );
    }
    assert_eq!(
        attr(&named, "tools/call outbound_request", "mcp.session.id"),
        None
    );
    assert_eq!(
        attribute(&server.resource, "service.version").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        attribute(&server.resource, "service.instance.id").map(|id| id.len()),
        Some(32)
    );
    // The chain in order, then the mount, the guest (a new instance), its request.
    assert_child(
        &named,
        "middleware authorization",
        "tools/call outbound_request",
    );
    assert_child(&named, "middleware timing", "middleware authorization");
    assert_child(&named, "mount outbound", "middleware timing");
    assert_child(&named, "run outbound", "mount outbound");
    let made = named.contains_key("instantiate outbound") || named.contains_key("reuse outbound");
    assert!(made, "a new or a warm instance: {:?}", named.keys());
    let get = &named["GET"];
    assert_child(&named, "GET", "run outbound");
    assert_eq!(get.span.kind, SpanKind::Client as i32);
    assert_eq!(
        attr(&named, "GET", "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr(&named, "GET", "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        attr(&named, "GET", "http.response.status_code").as_deref(),
        Some("200")
    );
    // The plugin's HTTP server was given the GET span as its parent.
    assert_eq!(
        echoed.lock().unwrap().as_slice(),
        [Some(format!(
            "00-{trace}-{}-01",
            hex::encode(&get.span.span_id)
        ))]
    );
    // The operator listed `outbound` in trace-content: its arguments are on the mount
    // span; the query string is nowhere else.
    let arguments = attr(&named, "mount outbound", "gen_ai.tool.call.arguments").unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"url": secret_url})
    );
    for r in &spans {
        if r.span.name == "mount outbound" {
            continue;
        }
        for kv in &r.span.attributes {
            let value = common::otlp::text(&kv.value).unwrap_or_default();
            assert!(
                !value.contains("s3cret"),
                "{} {}={value}",
                r.span.name,
                kv.key
            );
            assert!(!value.contains(TOKEN), "{} {}={value}", r.span.name, kv.key);
        }
    }

    // Through the proxied mount: the context from the HTTP `traceparent` header.
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let parent = "b7ad6b7169203331";
    call(
        &downstream.url,
        "up_notes_add",
        json!({"title": "otel", "body": "traced"}),
        json!({}),
        &[("traceparent", &format!("00-{trace}-{parent}-01"))],
    )
    .await;
    let names = [
        "tools/call up_notes_add",
        "mount up",
        "tools/call notes_add",
        "run notes",
        "storage set",
    ];
    let spans = receiver
        .trace(trace, |s| {
            has(s, &names)
                && s.iter()
                    .filter(|r| r.span.name == "tools/call notes_add")
                    .count()
                    == 2
        })
        .await;
    let server = spans
        .iter()
        .find(|r| r.span.name == "tools/call up_notes_add")
        .unwrap();
    assert_eq!(hex::encode(&server.span.parent_span_id), parent);
    let mount = spans.iter().find(|r| r.span.name == "mount up").unwrap();
    assert_eq!(mount.span.parent_span_id, {
        // innermost middleware of the chain
        spans
            .iter()
            .find(|r| r.span.name == "middleware timing")
            .unwrap()
            .span
            .span_id
            .clone()
    });
    assert_eq!(
        attribute(&mount.span.attributes, "gen_ai.tool.call.arguments"),
        None
    );
    let client = spans
        .iter()
        .find(|r| r.span.name == "tools/call notes_add" && r.service == "downstream")
        .unwrap();
    assert_eq!(client.span.kind, SpanKind::Client as i32);
    assert_eq!(client.span.parent_span_id, mount.span.span_id);
    assert_eq!(
        attribute(&client.span.attributes, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    let remote = spans
        .iter()
        .find(|r| r.span.name == "tools/call notes_add" && r.service == "upstream")
        .unwrap();
    assert_eq!(remote.span.kind, SpanKind::Server as i32);
    assert_eq!(
        remote.span.parent_span_id, client.span.span_id,
        "the upstream pier continued the trace"
    );
    let upstream_spans: Vec<&Received> = spans.iter().filter(|r| r.service == "upstream").collect();
    let run = upstream_spans
        .iter()
        .find(|r| r.span.name == "run notes")
        .unwrap();
    let mount_notes = upstream_spans
        .iter()
        .find(|r| r.span.name == "mount notes")
        .unwrap();
    assert_eq!(run.span.parent_span_id, mount_notes.span.span_id);
    assert_eq!(mount_notes.span.parent_span_id, remote.span.span_id);
    let storage = upstream_spans
        .iter()
        .find(|r| r.span.name == "storage set")
        .unwrap();
    assert_eq!(storage.span.parent_span_id, run.span.span_id);
    assert_eq!(
        attribute(&storage.span.attributes, "db.operation.name").as_deref(),
        Some("set")
    );

    // The conventions' metric, over OTLP and on /metrics.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let points = loop {
        let points: Vec<_> = receiver
            .metrics()
            .into_iter()
            .filter(|m| {
                m.service == "downstream" && m.metric.name == "mcp.server.operation.duration"
            })
            .filter_map(|m| match m.metric.data {
                Some(metric::Data::Histogram(h)) => Some(h.data_points),
                _ => None,
            })
            .flatten()
            .collect();
        if points.iter().any(|p| {
            attribute(&p.attributes, "gen_ai.tool.name").as_deref() == Some("up_notes_add")
        }) {
            break points;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no mcp.server.operation.duration"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let point = points
        .iter()
        .find(|p| {
            attribute(&p.attributes, "gen_ai.tool.name").as_deref() == Some("outbound_request")
        })
        .unwrap();
    let mut keys: Vec<&str> = point.attributes.iter().map(|kv| kv.key.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "gen_ai.operation.name",
            "gen_ai.tool.name",
            "mcp.method.name",
            "mcp.protocol.version",
            "network.transport"
        ]
    );
    assert_eq!(
        point.explicit_bounds,
        [
            0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0
        ]
    );
    let text = reqwest::get(downstream.url.replace("/mcp", "/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = "mcp_server_operation_duration_seconds_count{mcp_method_name=\"tools/call\",network_transport=\"tcp\",gen_ai_tool_name=\"outbound_request\",gen_ai_operation_name=\"execute_tool\",mcp_protocol_version=\"2026-07-28\"} 1";
    assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    assert!(receiver.bad().is_empty(), "{:?}", receiver.bad());

    // Refusals are counted by reason: no token (401), then a token the rule refuses.
    let body = modern(
        9,
        "tools/call",
        json!({"name": "outbound_request", "arguments": {"url": echo_url}}),
        json!({}),
    );
    let refused = post_modern(
        &downstream.url,
        &body,
        "tools/call",
        Some("outbound_request"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(refused.status(), 401);
    let refused = post_modern(
        &downstream.url,
        &body,
        "tools/call",
        Some("outbound_request"),
    )
    .header("authorization", format!("Bearer {BOB}"))
    .send()
    .await
    .unwrap();
    let refused = message(refused).await;
    assert!(refused["error"]["message"].is_string(), "{refused}");
    let metrics = downstream.url.replace("/mcp", "/metrics");
    wait_until_text(
        &metrics,
        "pier_auth_refusals_total{reason=\"missing_token\"} 1",
    )
    .await;
    wait_until_text(&metrics, "pier_auth_refusals_total{reason=\"rule\"} 1").await;
}

/// A 2026-07-28 `tools/call` of `hello_greet` without a token, `traceparent` in `_meta`
/// when given.
async fn greet(url: &str, traceparent: Option<String>) {
    let mut params = json!({"name": "hello_greet", "arguments": {"name": "otel"}});
    if let Some(parent) = traceparent {
        params["_meta"] = json!({"traceparent": parent});
    }
    let mut body: Value =
        serde_json::from_str(&modern(3, "tools/call", params.clone(), json!({}))).unwrap();
    if let Some(parent) = params["_meta"].get("traceparent") {
        body["params"]["_meta"]["traceparent"] = parent.clone();
    }
    let request = post_modern(url, &body.to_string(), "tools/call", Some("hello_greet"));
    let message = message(request.send().await.unwrap()).await;
    assert!(message.get("error").is_none(), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampled_client_trace_is_followed_an_unsampled_one_is_not_and_new_ones_by_the_ratio() {
    let receiver = Receiver::start().await;
    let (pier, _dir, _data) = hello_pier(&receiver, "sampled", "sample-ratio = 0").await;
    // Ratio 0: a new trace is not recorded, nor one the client did not sample.
    greet(&pier.url, None).await;
    let unsampled = "11111111111111111111111111111111";
    greet(
        &pier.url,
        Some(format!("00-{unsampled}-2222222222222222-00")),
    )
    .await;
    // One the client sampled is, whatever the ratio; it is sent after the others.
    let sampled = "33333333333333333333333333333333";
    greet(&pier.url, Some(format!("00-{sampled}-4444444444444444-01"))).await;
    let spans = receiver
        .trace(sampled, |s| {
            has(s, &["tools/call hello_greet", "run hello"])
        })
        .await;
    assert!(spans.iter().all(|r| r.service == "sampled"));
    let calls: Vec<String> = receiver
        .spans()
        .iter()
        .filter(|r| r.span.name == "tools/call hello_greet")
        .map(|r| hex::encode(&r.span.trace_id))
        .collect();
    assert_eq!(calls, [sampled], "only the sampled call was recorded");
    // Nor any span outside it: none of the unsampled calls' insides, none of the
    // plugin's `describe` at mount (in no request).
    let traces: std::collections::BTreeSet<String> = receiver
        .spans()
        .iter()
        .map(|r| hex::encode(&r.span.trace_id))
        .collect();
    assert_eq!(traces.into_iter().collect::<Vec<_>>(), [sampled]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_named_by_a_hash_and_its_duration_measured() {
    let receiver = Receiver::start().await;
    let (pier, _dir, _data) = hello_pier(&receiver, "sessions", "").await;
    let client = pier.client().await;
    common::call(&client, "hello_greet", json!({"name": "s"}))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let span = loop {
        let found = receiver
            .spans()
            .into_iter()
            .find(|r| r.span.name == "tools/call hello_greet");
        if let Some(found) = found {
            break found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no span of the session's call"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let session = attribute(&span.span.attributes, "mcp.session.id").unwrap();
    assert!(
        session.starts_with("s-") && session.len() == 18,
        "{session}"
    );
    assert_eq!(
        attribute(&span.span.attributes, "mcp.protocol.version").as_deref(),
        Some("2025-11-25")
    );
    client.cancel().await.unwrap();
    let metrics = pier.url.replace("/mcp", "/metrics");
    let line = "mcp_server_session_duration_seconds_count{network_transport=\"tcp\",mcp_protocol_version=\"2025-11-25\"} 1";
    wait_until_text(&metrics, line).await;
    // `initialize` is counted under the revision it settled on, not the one asked.
    let line = "mcp_server_operation_duration_seconds_count{mcp_method_name=\"initialize\",network_transport=\"tcp\",mcp_protocol_version=\"2025-11-25\"} 1";
    wait_until_text(&metrics, line).await;
}

/// Waits (up to 30 s) until the text at `url` has the line `line`.
async fn wait_until_text(url: &str, line: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let text = reqwest::get(url).await.unwrap().text().await.unwrap();
        if text.lines().any(|l| l == line) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{line} in\n{text}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_is_down_never_stops_pier_and_is_reported_in_a_sentence() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let data = tempfile::tempdir().unwrap();
    let config = format!("[telemetry]\notlp-endpoint = \"{endpoint}\"\nexport-interval-ms = 100\n");
    let pier = pier(&dir, &config, &data).await;
    for _ in 0..3 {
        greet(&pier.url, None).await;
    }
    let ready = reqwest::get(pier.url.replace("/mcp", "/ready"))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let said = format!("OpenTelemetry: cannot send to {endpoint}/v1/");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !pier.stderr_text().contains(&said) {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            pier.stderr_text()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let log = pier.stderr_text();
    assert_eq!(
        log.matches("OpenTelemetry: cannot send").count(),
        1,
        "once a minute: {log}"
    );
    assert!(!log.contains("reqwest::Error"), "{log}");
    greet(&pier.url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_sdk_disabled_turns_export_off_whatever_pier_toml_says() {
    let receiver = Receiver::start().await;
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let data = tempfile::tempdir().unwrap();
    let config = telemetry(&receiver, "disabled", "");
    let pier = pier_with_env(&dir, &config, &data, &[("OTEL_SDK_DISABLED", "true")]).await;
    greet(
        &pier.url,
        Some("00-55555555555555555555555555555555-6666666666666666-01".into()),
    )
    .await;
    // Ten times the export intervals (spans 100 ms, metrics 200 ms): nothing came.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(receiver.spans().is_empty(), "{:?}", receiver.spans());
    assert!(receiver.metrics().is_empty());
}

#[test]
fn telemetry_settings_pier_cannot_honour_are_refused_in_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let run = |toml: &str, env: &[(&str, &str)]| {
        let file = dir.path().join("pier.toml");
        std::fs::write(&file, toml).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pier"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&file)
            .args(["--plugins"])
            .arg(dir.path())
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )
    };
    let file = dir.path().join("pier.toml");
    let file = file.display();
    assert_eq!(
        run("[telemetry]\nsample-ratio = 1.5\n", &[]),
        (
            Some(2),
            format!(
                "pier: {file}: telemetry.sample-ratio: expected a number from 0 to 1, or \"\", got 1.5"
            )
        )
    );
    assert_eq!(
        run("[telemetry]\nresource-attributes = [\"team\"]\n", &[]),
        (
            Some(2),
            format!(
                "pier: {file}: telemetry.resource-attributes: expected \"key=value\", got \"team\""
            )
        )
    );
    assert_eq!(
        run("", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]),
        (Some(2), "pier: [telemetry]: OTEL_EXPORTER_OTLP_PROTOCOL is \"grpc\": pier sends OTLP over HTTP/protobuf only; point it at the receiver's HTTP port (4318 on a Collector) and set http/protobuf or nothing".to_string())
    );
}

/// The Python `mcp` SDK's `Client`, tracing with the OpenTelemetry SDK as an agent
/// would: pier's SERVER span is the child of the client's own CLIENT span, in the
/// agent's trace, whichever exporter each side uses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_of_the_python_mcp_client_continues_the_agents_trace() {
    let receiver = Receiver::start().await;
    let (pier, _dir, _data) = hello_pier(&receiver, "pier", "").await;
    let (url, endpoint) = (pier.url.clone(), receiver.endpoint.clone());
    let seen = tokio::task::spawn_blocking(move || python_script("traced.py", &[&url, &endpoint]))
        .await
        .unwrap();
    assert_eq!(seen["text"], "Hello, otel!");
    let trace = seen["trace_id"].as_str().unwrap();
    let spans = receiver
        .trace(trace, |s| {
            has(
                s,
                &[
                    "agent turn",
                    "MCP send tools/call hello_greet",
                    "tools/call hello_greet",
                    "run hello",
                ],
            )
        })
        .await;
    let named = by_name(&spans);
    assert_eq!(named["agent turn"].service, "python-agent");
    assert_eq!(
        hex::encode(&named["agent turn"].span.span_id),
        seen["span_id"].as_str().unwrap()
    );
    assert_child(&named, "MCP send tools/call hello_greet", "agent turn");
    assert_child(
        &named,
        "tools/call hello_greet",
        "MCP send tools/call hello_greet",
    );
    assert_eq!(named["tools/call hello_greet"].service, "pier");
    assert_eq!(
        attr(&named, "tools/call hello_greet", "mcp.protocol.version").as_deref(),
        Some("2026-07-28")
    );
    assert_child(&named, "mount hello", "tools/call hello_greet");
    assert_child(&named, "run hello", "mount hello");
}
