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

/// `pier serve` with `config` (a pier.toml), plugins from `dir`, its own data dir.
async fn pier(dir: &PluginDir, config: &str, data: &tempfile::TempDir) -> ChildPier {
    let file = data.path().join("pier.toml");
    std::fs::write(&file, config).unwrap();
    ChildPier::serve(&[
        "--config",
        file.to_str().unwrap(),
        "--plugins",
        dir.path().to_str().unwrap(),
        "--data-dir",
        data.path().to_str().unwrap(),
    ])
    .await
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
        "{}\n[grants]\nprivate-networks = true\n\n[auth]\nmode = \"tokens\"\nresource = \"http://127.0.0.1/mcp\"\n\n[[auth.token]]\nhash = \"{}\"\nsubject = \"alice\"\nscopes = [\"tools\"]\n\n[[auth.rule]]\ntools = [\"outbound_*\"]\nscopes = [\"tools\"]\n\n[[middleware]]\ntype = \"timing\"\n\n[[mount]]\nnamespace = \"up\"\nurl = \"{}\"\n",
        telemetry(&receiver, "downstream", "trace-content = [\"outbound\"]"),
        pier::auth::hash_token(TOKEN),
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
}
