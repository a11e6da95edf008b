//! A server of the official MCP TypeScript SDK served by pier through the JavaScript SDK
//! (`guest-sdk/js`): `tests/polyglot/ts/server.ts`, whose only difference is its import of
//! `McpServer`, bundled and built by `make polyglot` into the `js-sdk` fixture and called
//! through MCP. (The SDK's lists and results are compared with the official SDK's own by
//! `guest-sdk/js/test`.)
#![allow(deprecated)] // MCP sampling is served up to 2025-11-25.

mod common;

use common::*;
use rmcp::model::*;
use serde_json::{Value, json};

fn weather() -> PluginDir {
    PluginDir::new()
        .with(&fixture("js-sdk"), "weather")
        .with(&example("hello"), "hello")
}

async fn call_json(client: &Client, tool: &str, arguments: Value) -> Value {
    serde_json::to_value(call(client, tool, arguments).await.unwrap()).unwrap()
}

#[tokio::test]
async fn tools_are_listed_as_the_official_sdk_declares_them() {
    let (app, client, _) = start(&weather()).await;
    assert!(app.refused().is_empty(), "{:?}", app.refused());
    let tools = serde_json::to_value(client.peer().list_all_tools().await.unwrap()).unwrap();
    let tools: Vec<&Value> = tools
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"].as_str().unwrap().starts_with("weather_"))
        .collect();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "weather_forecast",
            "weather_add",
            "weather_pixel",
            "weather_refuse",
            "weather_unshaped",
            "weather_summarise",
            "weather_readme",
            "weather_visit",
            "weather_setting",
            "weather_fetch"
        ]
    );
    let forecast = tools[0];
    assert_eq!(forecast["title"], "Forecast");
    assert_eq!(forecast["description"], "The forecast for a city.");
    assert_eq!(
        forecast["inputSchema"],
        json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city's name"},
                "days": {"type": "integer", "default": 1, "minimum": 1, "maximum": 7}
            },
            "required": ["city"]
        })
    );
    assert_eq!(
        forecast["outputSchema"],
        json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"city": {"type": "string"}, "temperature": {"type": "number"}},
            "required": ["city", "temperature"],
            "additionalProperties": false
        })
    );
    assert_eq!(tools[1]["annotations"], json!({"readOnlyHint": true}));
    assert_eq!(
        tools[2]["inputSchema"],
        json!({"type": "object", "properties": {}}),
        "a tool without arguments"
    );
}

#[tokio::test]
async fn calls_return_what_the_official_sdk_returns() {
    let (_app, client, recorder) = start(&weather()).await;
    let forecast = call_json(
        &client,
        "weather_forecast",
        json!({"city": "Delft", "days": 2}),
    )
    .await;
    assert_eq!(
        forecast,
        json!({
            "content": [{"type": "text", "text": "{\"city\":\"Delft\",\"temperature\":23.5}"}],
            "structuredContent": {"city": "Delft", "temperature": 23.5},
            "isError": false
        })
    );
    recorder
        .wait_for("the tool's log", |r| !r.logs.is_empty())
        .await;
    let logs = recorder.received.lock().unwrap().logs.clone();
    assert_eq!(
        serde_json::to_value(&logs).unwrap(),
        json!([{"level": "info", "logger": "weather", "data": "forecast for Delft"}])
    );
    // The default applies (zod parses the arguments in the plugin).
    let one_day = call_json(&client, "weather_forecast", json!({"city": "Oslo"})).await;
    assert_eq!(
        one_day["structuredContent"],
        json!({"city": "Oslo", "temperature": 22.5})
    );
    let added = call_json(&client, "weather_add", json!({"a": 2, "b": 3.5})).await;
    assert_eq!(
        added,
        json!({"content": [{"type": "text", "text": "5.5"}], "isError": false})
    );
    let pixel = call_json(&client, "weather_pixel", json!({})).await;
    assert_eq!(pixel["content"][0]["type"], "image");
    assert_eq!(pixel["content"][0]["mimeType"], "image/png");
    assert_eq!(
        pixel["content"][0]["data"],
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
        "the bytes cross intact"
    );
}

#[tokio::test]
async fn failures_reach_the_model_and_nothing_else_breaks() {
    let (_app, client, _) = start(&weather()).await;
    let refused = call_json(&client, "weather_refuse", json!({"city": "Atlantis"})).await;
    assert_eq!(
        refused,
        json!({"content": [{"type": "text", "text": "no data for Atlantis"}], "isError": true})
    );
    let unshaped = call_json(&client, "weather_unshaped", json!({})).await;
    assert_eq!(
        unshaped,
        json!({"content": [{"type": "text", "text": "MCP error -32602: Output validation error: Tool unshaped has an output schema but no structured content was provided"}], "isError": true})
    );
    // pier checks the published schema before the plugin runs.
    let err = mcp_error(
        call(
            &client,
            "weather_forecast",
            json!({"city": "Delft", "days": 9}),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(
        err.message,
        "invalid arguments for tool `weather_forecast`: /days: 9 is greater than the maximum of 7"
    );
    let ok = call_json(&client, "weather_add", json!({"a": 1, "b": 1})).await;
    assert_eq!(ok["content"][0]["text"], "2");
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn resources_prompts_and_completions_are_served() {
    let (_app, client, _) = start(&weather()).await;
    let resources = client.peer().list_all_resources().await.unwrap();
    let stations = resources
        .iter()
        .find(|r| r.uri == "weather://weather/stations")
        .unwrap();
    assert_eq!(
        serde_json::to_value(stations).unwrap(),
        json!({"uri": "weather://weather/stations", "name": "stations", "title": "Stations",
               "description": "Every station.", "mimeType": "application/json"})
    );
    assert_eq!(
        read(&client, "weather://weather/stations").await.unwrap()["contents"],
        json!([{"uri": "weather://weather/stations", "text": "{\"stations\":[\"Delft\",\"Oslo\"]}"}])
    );
    assert_eq!(
        read(&client, "weather://weather/Delft/now").await.unwrap()["contents"],
        json!([{"uri": "weather://weather/Delft/now", "text": "{\"city\":\"Delft\",\"temperature\":20}"}])
    );
    let err = mcp_error(read(&client, "weather://weather/nope").await.unwrap_err());
    assert_eq!(err.code, ErrorCode::RESOURCE_NOT_FOUND);

    let prompts = client.peer().list_all_prompts().await.unwrap();
    let prompts: Vec<_> = prompts
        .iter()
        .filter(|p| p.name.starts_with("weather_"))
        .collect();
    assert_eq!(
        serde_json::to_value(&prompts).unwrap(),
        json!([{
            "name": "weather_briefing",
            "description": "A weather briefing.",
            "arguments": [
                {"name": "city", "description": "The city", "required": true},
                {"name": "days", "required": false}
            ]
        }])
    );
    let params = GetPromptRequestParams::new("weather_briefing").with_arguments(
        json!({"city": "Oslo", "days": "3"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let rendered = serde_json::to_value(client.peer().get_prompt(params).await.unwrap()).unwrap();
    assert_eq!(
        rendered["messages"],
        json!([
            {"role": "user", "content": {"type": "text", "text": "Brief me on Oslo for 3 day(s)."}},
            {"role": "assistant", "content": {"type": "text", "text": "Here it comes."}}
        ])
    );
    let missing = GetPromptRequestParams::new("weather_briefing");
    let err = mcp_error(client.peer().get_prompt(missing).await.unwrap_err());
    assert_eq!(err.code, ErrorCode::INVALID_PARAMS);

    let complete = |reference: Reference, argument: &str, value: &str| {
        let params = CompleteRequestParams::new(reference, ArgumentInfo::new(argument, value));
        let peer = client.peer().clone();
        async move { peer.complete(params).await.unwrap().completion.values }
    };
    assert_eq!(
        complete(Reference::for_prompt("weather_briefing"), "city", "O").await,
        ["Oslo"]
    );
    assert_eq!(
        complete(
            Reference::for_resource("weather://weather/{city}/now"),
            "city",
            "De"
        )
        .await,
        ["Delft", "Denver"]
    );
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn the_server_asks_the_client_and_reads_other_mounts() {
    let answers = |action: &str, content: Option<Value>| Answers {
        sampling: Some(Ok(sampled("Mild and dry."))),
        elicitation: Some(
            serde_json::from_value(match content {
                Some(content) => json!({"action": action, "content": content}),
                None => json!({"action": action}),
            })
            .unwrap(),
        ),
    };
    let (_app, client, recorder) =
        start_answering(&weather(), answers("accept", Some(json!({"share": true})))).await;
    let result = call(&client, "weather_summarise", json!({"city": "Oslo"}))
        .await
        .unwrap();
    assert_eq!(text(&result), "Mild and dry. (shared: true)");
    {
        let received = recorder.received.lock().unwrap();
        let sampling = serde_json::to_value(&received.sampling).unwrap();
        assert_eq!(
            sampling[0]["messages"],
            json!([{"role": "user", "content": {"type": "text", "text": "Summarise the weather in Oslo."}}])
        );
        assert_eq!(sampling[0]["maxTokens"], 40);
        let elicitation = serde_json::to_value(&received.elicitations).unwrap();
        assert_eq!(elicitation[0]["message"], "Share it?");
        assert_eq!(
            elicitation[0]["requestedSchema"],
            json!({"type": "object", "properties": {"share": {"type": "boolean"}}, "required": ["share"]})
        );
    }
    let readme = call(&client, "weather_readme", json!({})).await.unwrap();
    let first_line = std::fs::read_to_string(root().join("plugins/hello/README.md"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(text(&readme), first_line);

    let (_app, declining, _) = start_answering(&weather(), answers("decline", None)).await;
    let result = call(&declining, "weather_summarise", json!({"city": "Oslo"}))
        .await
        .unwrap();
    assert_eq!(text(&result), "not shared (decline)");

    // A client that cannot sample: the tool fails with the reason, nothing else does.
    let (_app, plain, _) = start(&weather()).await;
    let result = call(&plain, "weather_summarise", json!({"city": "Oslo"}))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        text(&result),
        "client `pier-tests` does not support sampling (it declared no `sampling` capability)"
    );
    assert_still_serving(&plain).await;
}

/// `weather_summarise` over MCP 2026-07-28: each question is an input round, and the
/// retry runs the JavaScript handler again from the start with the answers so far.
#[tokio::test]
async fn over_the_stateless_revision_questions_are_input_rounds() {
    let dir = weather();
    let config = pier::ServeConfig {
        max_protocol: rmcp::model::ProtocolVersion::V_2026_07_28,
        ..dir.config()
    };
    let server = Server::start_with(config).await;
    let capabilities = json!({"elicitation": {"form": {}}, "sampling": {}});
    let round = |id: u64, extra: Value| {
        modern_tool_round(
            &server.url,
            id,
            "weather_summarise",
            json!({"city": "Oslo"}),
            extra,
            capabilities.clone(),
        )
    };
    let first = round(1, json!({})).await;
    let result = &first["result"];
    assert_eq!(result["resultType"], "input_required", "{first}");
    assert_eq!(
        result["inputRequests"]["sample-1"]["params"]["maxTokens"],
        40
    );
    let state = result["requestState"].as_str().unwrap().to_string();
    let sampled = json!({"role": "assistant", "content": {"type": "text", "text": "Mild and dry."}, "model": "m"});
    let second = round(
        2,
        json!({"inputResponses": {"sample-1": sampled}, "requestState": state}),
    )
    .await;
    let result = &second["result"];
    assert_eq!(result["resultType"], "input_required", "{second}");
    assert_eq!(
        result["inputRequests"]["elicit-2"]["params"]["message"],
        "Share it?"
    );
    let state = result["requestState"].as_str().unwrap().to_string();
    let third = round(
        3,
        json!({"inputResponses": {"elicit-2": {"action": "accept", "content": {"share": false}}},
               "requestState": state}),
    )
    .await;
    assert_eq!(
        third["result"],
        json!({"resultType": "complete", "isError": false,
               "content": [{"type": "text", "text": "Mild and dry. (shared: false)"}]}),
        "{third}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn storage_and_configuration_reach_the_javascript_plugin() {
    let dir = weather().with_sidecar("weather", "[config]\ngreeting = \"ahoy\"\n");
    let (_app, client, _) = start(&dir).await;
    assert_weather_storage_and_settings(&client).await;
    // Plain fetch() over wasi:http; no grants: refused before any connection.
    let refused = call_json(
        &client,
        "weather_fetch",
        json!({"url": "http://127.0.0.1:9/"}),
    )
    .await;
    assert_eq!(refused["isError"], true, "{refused}");
    assert_eq!(
        refused["content"][0]["text"],
        "plugin `weather` may not reach http://127.0.0.1:9: not in its [grants] http",
        "{refused}"
    );
    assert_still_serving(&client).await;
}
