//! `/metrics`: Prometheus text with the counters an operator watches.

mod common;

use common::*;
use serde_json::json;

/// The value of the sample `line_start` (name and labels) in Prometheus text.
fn sample(metrics: &str, line_start: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(line_start) && l[line_start.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_calls_plugins_sessions_and_the_aot_cache() {
    let dir = PluginDir::examples();
    let data = tempfile::tempdir().unwrap();
    let mut config = dir.config();
    config.data_dir = data.path().to_path_buf();
    let server = Server::start_with(config).await;
    let (client, _) = server.client().await;
    assert_still_serving(&client).await;
    assert_still_serving(&client).await;
    let divided = call(&client, "calc_divide", json!({"a": 1, "b": 0}))
        .await
        .unwrap();
    assert_eq!(divided.is_error, Some(true));
    assert!(call(&client, "hello_greet", json!({})).await.is_err());

    let response = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4"
    );
    let text = response.text().await.unwrap();
    let expect =
        |line: &str, value: f64| assert_eq!(sample(&text, line), Some(value), "{line} in:\n{text}");
    expect(
        "pier_tool_calls_total{tool=\"hello_greet\",outcome=\"ok\"}",
        2.0,
    );
    expect(
        "pier_tool_calls_total{tool=\"calc_divide\",outcome=\"tool_error\"}",
        1.0,
    );
    expect(
        "pier_tool_calls_total{tool=\"hello_greet\",outcome=\"invalid_arguments\"}",
        1.0,
    );
    expect(
        "pier_tool_call_duration_seconds_count{tool=\"hello_greet\"}",
        3.0,
    );
    expect("pier_plugins_mounted", 2.0);
    // describe once at mount, then one fresh instance per call.
    expect("pier_instantiations_total{plugin=\"hello\"}", 3.0);
    expect("pier_instantiations_total{plugin=\"calc\"}", 2.0);
    expect("pier_aot_cache_total{outcome=\"miss\"}", 2.0);
    expect("pier_active_sessions", 1.0);
    expect(
        "pier_mcp_requests_total{method=\"tools/call\",outcome=\"ok\"}",
        3.0,
    );
    expect(
        "pier_mcp_requests_total{method=\"tools/call\",outcome=\"error\"}",
        1.0,
    );
    assert!(
        sample(
            &text,
            "pier_http_requests_total{method=\"POST\",status=\"200\"}"
        )
        .is_some_and(|n| n >= 5.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "pier_http_requests_total{method=\"POST\",status=\"202\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    client.cancel().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn mcp_requests_are_counted_on_stdio_too() {
    let (app, client, _) = start(&PluginDir::examples()).await;
    client.list_all_tools().await.unwrap();
    assert_still_serving(&client).await;
    let unknown = call(&client, "nope_nothing", json!({})).await;
    assert!(unknown.is_err(), "an unknown tool is a protocol error");
    let text = app.metrics().render(&app.registry().snapshot(), 0);
    let expect =
        |line: &str, value: f64| assert_eq!(sample(&text, line), Some(value), "{line} in:\n{text}");
    expect(
        "pier_mcp_requests_total{method=\"tools/list\",outcome=\"ok\"}",
        1.0,
    );
    expect(
        "pier_mcp_requests_total{method=\"tools/call\",outcome=\"ok\"}",
        1.0,
    );
    expect(
        "pier_mcp_requests_total{method=\"tools/call\",outcome=\"error\"}",
        1.0,
    );
    expect(
        "pier_mcp_request_duration_seconds_count{method=\"tools/call\"}",
        2.0,
    );
    assert_eq!(
        sample(
            &text,
            "pier_http_requests_total{method=\"POST\",status=\"200\"}"
        ),
        None,
        "no HTTP on stdio"
    );
}

#[tokio::test]
async fn invented_http_methods_share_one_label() {
    let dir = PluginDir::examples();
    let config = dir.config();
    let server = Server::start_with(config).await;
    let http = reqwest::Client::new();
    for i in 0..20 {
        let method = reqwest::Method::from_bytes(format!("BREW{i}").as_bytes()).unwrap();
        let response = http.request(method, &server.url).send().await.unwrap();
        assert_eq!(response.status(), 405);
    }
    let text = server.metrics().await;
    assert_eq!(
        sample(
            &text,
            "pier_http_requests_total{method=\"other\",status=\"405\"}"
        ),
        Some(20.0),
        "{text}"
    );
    assert!(!text.contains("BREW"), "{text}");
    let (client, _) = server.client().await;
    assert_still_serving(&client).await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_conventions_duration_names_known_tools_only_and_labels_errors_and_transport() {
    let dir = PluginDir::examples().with_sidecar("hello", "instances = \"reuse\"\n");
    let (app, client, _) = start(&dir).await;
    for name in ["a", "b"] {
        call(&client, "hello_greet", json!({"name": name}))
            .await
            .unwrap();
    }
    let divided = call(&client, "calc_divide", json!({"a": 1, "b": 0}))
        .await
        .unwrap();
    assert_eq!(divided.is_error, Some(true));
    assert!(call(&client, "hello_greet", json!({})).await.is_err());
    // A name nothing serves is no label: the client chooses it.
    let unknown = mcp_error(call(&client, "made_up_tool", json!({})).await.unwrap_err());
    let code = unknown.code.0;
    let text = app
        .metrics()
        .render(&app.registry().snapshot(), app.refused().len());
    let expect =
        |line: &str, value: f64| assert_eq!(sample(&text, line), Some(value), "{line} in:\n{text}");
    let tool = |name: &str, error: Option<&str>| {
        let error = error
            .map(|e| format!(",error_type=\"{e}\""))
            .unwrap_or_default();
        format!(
            "mcp_server_operation_duration_seconds_count{{mcp_method_name=\"tools/call\",network_transport=\"pipe\",gen_ai_tool_name=\"{name}\",gen_ai_operation_name=\"execute_tool\"{error},mcp_protocol_version=\"2025-11-25\"}}"
        )
    };
    expect(&tool("hello_greet", None), 2.0);
    expect(&tool("calc_divide", Some("tool_error")), 1.0);
    expect(&tool("hello_greet", Some("-32602")), 1.0);
    expect(
        &format!(
            "mcp_server_operation_duration_seconds_count{{mcp_method_name=\"tools/call\",network_transport=\"pipe\",error_type=\"{code}\",mcp_protocol_version=\"2025-11-25\"}}"
        ),
        1.0,
    );
    assert!(!text.contains("made_up_tool"), "{text}");
    // Per mount: its calls by outcome (arguments refused at the mount are its
    // errors); the second call of `hello` ran on the first one's warm instance.
    expect(
        "pier_mount_calls_total{mount=\"hello\",outcome=\"ok\"}",
        2.0,
    );
    expect(
        "pier_mount_calls_total{mount=\"hello\",outcome=\"error\"}",
        1.0,
    );
    expect(
        "pier_mount_calls_total{mount=\"calc\",outcome=\"tool_error\"}",
        1.0,
    );
    expect(
        "pier_mount_call_duration_seconds_count{mount=\"hello\"}",
        3.0,
    );
    expect("pier_warm_hits_total{plugin=\"hello\"}", 1.0);
}
