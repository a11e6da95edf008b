//! Every MCP method pier serves, over an in-process pipe, with exact expected outputs.
#![allow(deprecated)]

mod common;

use common::*;
use rmcp::model::*;
use serde_json::{Value, json};

#[tokio::test]
async fn initialize_advertises_tools_resources_prompts_logging_and_completions() {
    let (_app, client, _) = start(&PluginDir::examples()).await;
    let info = client.peer().peer_info().expect("server info");
    let server = info.server_info.as_ref().expect("serverInfo");
    assert_eq!(server.name, "pier");
    assert_eq!(server.version, env!("CARGO_PKG_VERSION"));
    let caps = serde_json::to_value(&info.capabilities).unwrap();
    for cap in ["tools", "resources", "prompts", "logging", "completions"] {
        assert!(
            caps.get(cap).is_some(),
            "capability {cap} missing in {caps}"
        );
    }
    let pong = client
        .peer()
        .send_request(ClientRequest::PingRequest(Default::default()))
        .await
        .expect("ping answers");
    assert_eq!(serde_json::to_value(pong).unwrap(), json!({}));
}

#[tokio::test]
async fn tools_list_shows_namespaced_tools_with_schemas() {
    let (_app, client, _) = start(&PluginDir::examples()).await;
    let tools = client.peer().list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(
        names,
        ["calc_add", "calc_divide", "calc_countdown", "hello_greet"]
    );

    let greet = serde_json::to_value(&tools[3]).unwrap();
    assert_eq!(greet["description"], "Greet someone by name.");
    assert_eq!(
        greet["inputSchema"],
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": { "name": { "type": "string", "description": "Who to greet." } },
            "required": ["name"],
            "additionalProperties": false
        })
    );
    assert_eq!(greet["annotations"], json!({ "readOnlyHint": true }));

    let add = serde_json::to_value(&tools[0]).unwrap();
    assert_eq!(
        add["outputSchema"],
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "description": "The result of a calculation.",
            "properties": { "result": { "type": "number", "description": "The sum." } },
            "required": ["result"]
        })
    );
}

#[tokio::test]
async fn hello_greet_answers_with_the_greeting() {
    let (_app, client, _) = start(&PluginDir::examples()).await;
    let result = call(&client, "hello_greet", json!({"name": "Ada"}))
        .await
        .unwrap();
    assert_eq!(text(&result), "Hello, Ada!");
    assert_eq!(result.is_error, Some(false));
    assert_eq!(result.structured_content, None);
}

#[tokio::test]
async fn calc_add_returns_text_and_structured_content() {
    let (_app, client, _) = start(&PluginDir::examples()).await;
    let result = call(&client, "calc_add", json!({"a": 2, "b": 3.5}))
        .await
        .unwrap();
    assert_eq!(text(&result), "5.5");
    assert_eq!(result.structured_content, Some(json!({"result": 5.5})));
    assert_eq!(result.is_error, Some(false));
}

#[tokio::test]
async fn calc_divide_by_zero_is_a_tool_error() {
    let (_app, client, _) = start(&PluginDir::examples()).await;
    let result = call(&client, "calc_divide", json!({"a": 1, "b": 0}))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    assert_eq!(text(&result), "division by zero");
    let ok = call(&client, "calc_divide", json!({"a": 1, "b": 4}))
        .await
        .unwrap();
    assert_eq!(text(&ok), "0.25");
}

#[tokio::test]
async fn countdown_logs_each_step_and_reports_increasing_progress() {
    let (_app, client, recorder) = start(&PluginDir::examples()).await;
    let result = call(&client, "calc_countdown", json!({"from": 3}))
        .await
        .unwrap();
    assert_eq!(text(&result), "counted down from 3");

    recorder
        .wait_for("4 logs and 4 progress", |r| {
            r.logs.len() == 4 && r.progress.len() == 4
        })
        .await;
    assert_eq!(
        recorder.log_texts(),
        [
            "countdown: 3",
            "countdown: 2",
            "countdown: 1",
            "countdown: 0"
        ]
    );
    let received = recorder.received.lock().unwrap();
    assert!(
        received
            .logs
            .iter()
            .all(|l| l.level == LoggingLevel::Info && l.logger.as_deref() == Some("calc"))
    );
    let progress: Vec<(f64, Option<f64>, Option<String>)> = received
        .progress
        .iter()
        .map(|p| (p.progress, p.total, p.message.clone()))
        .collect();
    assert_eq!(
        progress,
        [
            (0.0, Some(3.0), Some("3 left".into())),
            (1.0, Some(3.0), Some("2 left".into())),
            (2.0, Some(3.0), Some("1 left".into())),
            (3.0, Some(3.0), Some("0 left".into())),
        ]
    );
    // Every notification carries the token of the request (the rmcp client sets one).
    let token = &received.progress[0].progress_token;
    assert!(received.progress.iter().all(|p| &p.progress_token == token));
}

#[tokio::test]
async fn progress_goes_only_to_requests_with_a_progress_token() {
    let app = pier::App::start(&PluginDir::examples().config())
        .await
        .unwrap();
    let mut raw = RawSession::open(&app).await;

    let (response, notes) = raw
        .request(
            2,
            "tools/call",
            json!({"name": "calc_countdown", "arguments": {"from": 1}}),
        )
        .await;
    assert_eq!(
        response["result"]["content"][0]["text"],
        "counted down from 1"
    );
    assert_eq!(
        notes,
        [
            json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "logger": "calc", "data": "countdown: 1"}}),
            json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "logger": "calc", "data": "countdown: 0"}}),
        ]
    );

    let params = json!({"name": "calc_countdown", "arguments": {"from": 1}, "_meta": {"progressToken": "tok-1"}});
    let (_, notes) = raw.request(3, "tools/call", params).await;
    let progress: Vec<&Value> = notes
        .iter()
        .filter(|n| n["method"] == "notifications/progress")
        .collect();
    assert_eq!(
        progress,
        [
            &json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": "tok-1", "progress": 0.0, "total": 1.0, "message": "1 left"}}),
            &json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": "tok-1", "progress": 1.0, "total": 1.0, "message": "0 left"}}),
        ]
    );
}

#[tokio::test]
async fn set_level_filters_log_messages_per_session() {
    let (_app, client, recorder) = start(&PluginDir::examples()).await;
    client
        .peer()
        .set_level(SetLevelRequestParams::new(LoggingLevel::Warning))
        .await
        .unwrap();
    let result = call(&client, "calc_countdown", json!({"from": 2}))
        .await
        .unwrap();
    assert_eq!(text(&result), "counted down from 2");
    // A later log at a level that passes proves earlier notifications were delivered.
    client
        .peer()
        .set_level(SetLevelRequestParams::new(LoggingLevel::Debug))
        .await
        .unwrap();
    call(&client, "calc_countdown", json!({"from": 0}))
        .await
        .unwrap();
    recorder
        .wait_for("the countdown: 0 log", |r| !r.logs.is_empty())
        .await;
    assert_eq!(recorder.log_texts(), ["countdown: 0"]);
}

#[tokio::test]
async fn resources_and_templates_are_listed_with_namespaced_uris() {
    let (_app, client, _) = start(&PluginDir::examples()).await;
    let resources =
        serde_json::to_value(client.peer().list_all_resources().await.unwrap()).unwrap();
    assert_eq!(
        resources,
        json!([{ "uri": "hello://hello/readme", "name": "readme", "description": "What this plugin is.", "mimeType": "text/markdown" }])
    );
    let templates =
        serde_json::to_value(client.peer().list_all_resource_templates().await.unwrap()).unwrap();
    assert_eq!(
        templates,
        json!([{
            "uriTemplate": "hello://hello/greeting/{name}",
            "name": "greeting",
            "description": "A greeting for anyone: `hello://greeting/{name}`.",
            "mimeType": "text/plain"
        }])
    );
}

#[tokio::test]
async fn resources_read_serves_static_resources_and_templates() {
    let (_app, client, _) = start(&PluginDir::examples()).await;
    let readme = std::fs::read_to_string(root().join("plugins/hello/README.md")).unwrap();
    assert_eq!(
        read(&client, "hello://hello/readme").await.unwrap()["contents"],
        json!([{ "uri": "hello://hello/readme", "mimeType": "text/markdown", "text": readme }])
    );
    assert_eq!(
        read(&client, "hello://hello/greeting/Ada%20Lovelace")
            .await
            .unwrap()["contents"],
        json!([{ "uri": "hello://hello/greeting/Ada%20Lovelace", "mimeType": "text/plain", "text": "Hello, Ada Lovelace!" }])
    );
}

#[tokio::test]
async fn reading_an_unknown_resource_is_error_32002() {
    let (_app, client, _) = start(&PluginDir::examples()).await;
    for uri in ["hello://hello/nope", "hello://readme", "other://x"] {
        let err = mcp_error(read(&client, uri).await.unwrap_err());
        assert_eq!(err.code, ErrorCode::RESOURCE_NOT_FOUND, "{uri}");
        assert_eq!(err.message, format!("resource not found: {uri}"));
    }
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn prompts_are_listed_and_rendered() {
    let (_app, client, _) = start(&PluginDir::examples()).await;
    let prompts = serde_json::to_value(client.peer().list_all_prompts().await.unwrap()).unwrap();
    assert_eq!(
        prompts,
        json!([{
            "name": "hello_introduce",
            "description": "Ask the model to introduce itself to someone.",
            "arguments": [{ "name": "name", "description": "Who the model should introduce itself to.", "required": true }]
        }])
    );
    let params = GetPromptRequestParams::new("hello_introduce")
        .with_arguments(json!({"name": "Ada"}).as_object().unwrap().clone());
    let result = serde_json::to_value(client.peer().get_prompt(params).await.unwrap()).unwrap();
    assert_eq!(
        result["messages"],
        json!([{ "role": "user", "content": { "type": "text", "text": "Please introduce yourself to Ada." } }])
    );
}

#[tokio::test]
async fn a_prompt_without_its_required_argument_is_error_32602() {
    let (_app, client, _) = start(&PluginDir::examples()).await;
    let err = mcp_error(
        client
            .peer()
            .get_prompt(GetPromptRequestParams::new("hello_introduce"))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
    assert_eq!(
        err.message,
        "missing required argument `name` of prompt `hello_introduce`"
    );
    let err = mcp_error(
        client
            .peer()
            .get_prompt(GetPromptRequestParams::new("hello_nope"))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
    assert_eq!(err.message, "unknown prompt `hello_nope`");
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn completion_is_routed_to_the_plugin() {
    let (_app, client, _) = start(&PluginDir::examples()).await;
    let info = client
        .peer()
        .complete_prompt_argument("hello_introduce", "name", "a", None)
        .await
        .unwrap();
    assert_eq!(info.values, ["Ada", "Alan"]);
    let info = client
        .peer()
        .complete_resource_argument("hello://hello/greeting/{name}", "name", "g", None)
        .await
        .unwrap();
    assert_eq!(info.values, ["Grace"]);
}

#[tokio::test]
async fn unknown_tool_is_error_32602_and_the_server_keeps_serving() {
    let (_app, client, _) = start(&PluginDir::examples()).await;
    let err = mcp_error(call(&client, "nope", json!({})).await.unwrap_err());
    assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
    assert_eq!(err.message, "unknown tool `nope`");
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn invalid_arguments_are_error_32602_naming_the_field() {
    let (_app, client, _) = start(&PluginDir::examples()).await;
    let err = mcp_error(
        call(&client, "hello_greet", json!({"name": 5}))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
    assert_eq!(
        err.message,
        "invalid arguments for tool `hello_greet`: /name: 5 is not of type \"string\""
    );

    let err = mcp_error(call(&client, "hello_greet", json!({})).await.unwrap_err());
    assert_eq!(
        err.message,
        "invalid arguments for tool `hello_greet`: \"name\" is a required property"
    );

    let err = mcp_error(
        call(&client, "calc_add", json!({"a": 1, "b": 2, "c": 3}))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
    assert!(
        err.message
            .starts_with("invalid arguments for tool `calc_add`: "),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("'c'") || err.message.contains("\"c\""),
        "{}",
        err.message
    );
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn lists_are_paginated_with_cursors() {
    let dir = PluginDir::examples();
    let config = pier::ServeConfig {
        page_size: 3,
        ..dir.config()
    };
    let app = pier::App::start(&config).await.unwrap();
    let (client, _) = connect(&app).await;
    let first = client.peer().list_tools(None).await.unwrap();
    let names: Vec<&str> = first.tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["calc_add", "calc_divide", "calc_countdown"]);
    let cursor = first.next_cursor.clone().expect("a second page");
    let second = client
        .peer()
        .list_tools(Some(
            PaginatedRequestParams::default().with_cursor(Some(cursor)),
        ))
        .await
        .unwrap();
    let names: Vec<&str> = second.tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["hello_greet"]);
    assert_eq!(second.next_cursor, None);

    let err = mcp_error(
        client
            .peer()
            .list_tools(Some(
                PaginatedRequestParams::default().with_cursor(Some("bogus".into())),
            ))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
    assert_eq!(err.message, "invalid cursor `bogus`");
}

#[tokio::test]
async fn an_empty_namespace_keeps_names() {
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with_sidecar("hello", "namespace = \"\"\n");
    let (_app, client, _) = start(&dir).await;
    let tools = client.peer().list_all_tools().await.unwrap();
    assert_eq!(
        tools.iter().map(|t| t.name.as_ref()).collect::<Vec<_>>(),
        ["greet"]
    );
    let result = call(&client, "greet", json!({"name": "Bo"})).await.unwrap();
    assert_eq!(text(&result), "Hello, Bo!");
    assert_eq!(
        read(&client, "hello://greeting/Bo").await.unwrap()["contents"][0]["text"],
        "Hello, Bo!"
    );
}

#[tokio::test]
async fn a_plugin_disabled_by_its_sidecar_is_not_mounted() {
    let dir = PluginDir::examples().with_sidecar("calc", "enabled = false\n");
    let (app, client, _) = start(&dir).await;
    assert!(app.refused().is_empty(), "disabled is not refused");
    let tools = client.peer().list_all_tools().await.unwrap();
    assert_eq!(
        tools.iter().map(|t| t.name.as_ref()).collect::<Vec<_>>(),
        ["hello_greet"]
    );
    let err = mcp_error(
        call(&client, "calc_add", json!({"a": 1, "b": 2}))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.message, "unknown tool `calc_add`");
}
