//! `error-handling`, `logging`, `timing` and `detailed-timing`: what reaches clients,
//! logs and metrics.

use super::*;

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

/// Fails every tool call with the JSON-RPC error `code`, as a proxied server might.
struct FailsWith(i32);

#[async_trait]
impl Middleware for FailsWith {
    fn name(&self) -> &str {
        "fails-with"
    }

    async fn on_call_tool(
        &self,
        _: &MiddlewareContext,
        _: ToolCall,
        _: Next<'_>,
    ) -> Outcome<CallToolResult> {
        Err(rmcp::ErrorData::new(
            rmcp::model::ErrorCode(self.0),
            "upstream says no",
            None,
        ))
    }
}

#[tokio::test]
async fn error_codes_no_one_defined_are_counted_as_other() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let (app, client) = start_with(&dir, "[[middleware]]\ntype = \"error-handling\"\n").await;
    let pipeline = app.pipeline();
    let configured = pipeline.server();
    for code in [-32602, 4242, -1, 7, 4242] {
        let mut chain = (*configured).clone();
        chain.push(Arc::new(FailsWith(code)));
        pipeline.set_server(chain);
        let failed = call(&client, "hello_greet", json!({"name": "Ada"})).await;
        assert!(failed.is_err(), "{code}");
    }
    let metrics = app.metrics().render(&app.registry().snapshot(), 0);
    let mut counted: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("pier_errors_total{"))
        .collect();
    counted.sort();
    assert_eq!(
        counted,
        [
            "pier_errors_total{method=\"tools/call\",component=\"hello_greet\",kind=\"-32602\"} 1",
            "pier_errors_total{method=\"tools/call\",component=\"hello_greet\",kind=\"other\"} 4",
        ]
    );
}
