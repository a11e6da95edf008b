//! A FastMCP server file served by pier through the Python SDK (`guest-sdk/python`):
//! `tests/polyglot/fastmcp/server.py`, whose only difference from a FastMCP file is its
//! import line, built by `make polyglot` into the `py-fastmcp` fixture and called
//! through MCP. (The SDK's schemas and results are compared with FastMCP's own by
//! `guest-sdk/python/tests`.)
#![allow(deprecated)] // MCP sampling is served up to 2025-11-25.

mod common;

use common::*;
use rmcp::model::*;
use serde_json::{Value, json};

fn weather() -> PluginDir {
    PluginDir::new()
        .with(&fixture("py-fastmcp"), "weather")
        .with(&example("hello"), "hello")
}

async fn call_json(client: &Client, tool: &str, arguments: Value) -> Value {
    serde_json::to_value(call(client, tool, arguments).await.unwrap()).unwrap()
}

#[tokio::test]
async fn tools_are_listed_as_fastmcp_declares_them() {
    let (app, client, _) = start(&weather()).await;
    assert!(app.refused().is_empty(), "{:?}", app.refused());
    let tools = serde_json::to_value(client.peer().list_all_tools().await.unwrap()).unwrap();
    let names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .filter(|name| name.starts_with("weather_"))
        .collect();
    assert_eq!(
        names,
        [
            "weather_forecast",
            "weather_convert",
            "weather_cities",
            "weather_pixel",
            "weather_slow_add",
            "weather_refuse",
            "weather_crash",
            "weather_summarise",
            "weather_readme",
            "weather_visit",
            "weather_setting",
            "weather_fetch"
        ]
    );
    let tools: Vec<&Value> = tools
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"].as_str().unwrap().starts_with("weather_"))
        .collect();
    let forecast = tools[0];
    assert_eq!(forecast["description"], "The forecast for a city.");
    assert_eq!(
        forecast["inputSchema"],
        json!({
            "additionalProperties": false,
            "properties": {
                "city": {"description": "The city's name", "type": "string"},
                "days": {"default": 1, "description": "How many days ahead.", "type": "integer"}
            },
            "required": ["city"],
            "type": "object"
        })
    );
    assert_eq!(
        forecast["outputSchema"],
        json!({
            "properties": {
                "city": {"type": "string"},
                "temperature": {"type": "number"},
                "unit": {
                    "description": "Temperature units.",
                    "enum": ["celsius", "fahrenheit"],
                    "type": "string",
                    "default": "celsius"
                }
            },
            "required": ["city", "temperature"],
            "type": "object"
        })
    );
    let cities = tools[2];
    assert_eq!(cities["annotations"], json!({"readOnlyHint": true}));
    assert_eq!(
        cities["outputSchema"],
        json!({
            "properties": {"result": {"items": {"type": "string"}, "type": "array"}},
            "required": ["result"],
            "type": "object",
            "x-fastmcp-wrap-result": true
        })
    );
    assert_eq!(tools[3]["outputSchema"], Value::Null, "an image has none");
}

#[tokio::test]
async fn calls_return_what_fastmcp_returns() {
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
            "content": [{"type": "text", "text": "{\"city\":\"Delft\",\"temperature\":23.5,\"unit\":\"celsius\"}"}],
            "structuredContent": {"city": "Delft", "temperature": 23.5, "unit": "celsius"},
            "isError": false
        })
    );
    recorder
        .wait_for("the tool's log", |r| !r.logs.is_empty())
        .await;
    let logs = recorder.received.lock().unwrap().logs.clone();
    assert_eq!(
        serde_json::to_value(&logs).unwrap(),
        json!([{
            "level": "info",
            "logger": "weather",
            "data": {"message": "forecast for Delft", "data": {"extra": {"days": 2}}}
        }])
    );

    let converted = call_json(
        &client,
        "weather_convert",
        json!({"value": 20, "to": "fahrenheit"}),
    )
    .await;
    assert_eq!(converted["structuredContent"], json!({"result": 68.0}));
    assert_eq!(
        converted["content"],
        json!([{"type": "text", "text": "68.0"}])
    );
    let summed = call_json(&client, "weather_slow_add", json!({"a": 2, "b": 3})).await;
    assert_eq!(
        summed["structuredContent"],
        json!({"result": 5}),
        "an async def tool"
    );
    let cities = call_json(&client, "weather_cities", json!({"prefix": "De"})).await;
    assert_eq!(
        cities["structuredContent"],
        json!({"result": ["Delft", "Denver"]})
    );
    let pixel = call_json(&client, "weather_pixel", json!({})).await;
    assert_eq!(pixel["content"][0]["type"], "image");
    assert_eq!(pixel["content"][0]["mimeType"], "image/png");
    assert_eq!(pixel.get("structuredContent"), None);
}

#[tokio::test]
async fn failures_reach_the_model_and_nothing_else_breaks() {
    let (_app, client, _) = start(&weather()).await;
    let refused = call_json(&client, "weather_refuse", json!({"city": "Atlantis"})).await;
    assert_eq!(
        refused,
        json!({"content": [{"type": "text", "text": "no data for Atlantis"}], "isError": true})
    );
    let crashed = call_json(&client, "weather_crash", json!({})).await;
    assert_eq!(
        crashed,
        json!({"content": [{"type": "text", "text": "Error calling tool 'crash': 'missing'"}], "isError": true})
    );
    let err = mcp_error(
        call(
            &client,
            "weather_convert",
            json!({"value": 20, "to": "kelvin"}),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(
        err.message,
        "invalid arguments for tool `weather_convert`: /to: \"kelvin\" is not one of \"celsius\" or \"fahrenheit\""
    );
    let ok = call_json(
        &client,
        "weather_convert",
        json!({"value": 68, "to": "celsius"}),
    )
    .await;
    assert_eq!(ok["structuredContent"], json!({"result": 20.0}));
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn resources_prompts_and_completions_are_served() {
    let (_app, client, recorder) = start(&weather()).await;
    assert_eq!(
        read(&client, "weather://weather/stations").await.unwrap()["contents"],
        json!([{"uri": "weather://weather/stations", "mimeType": "text/plain", "text": "{\"stations\": [\"Delft\", \"Oslo\"]}"}])
    );
    assert_eq!(
        read(&client, "weather://weather/Delft/now").await.unwrap()["contents"],
        json!([{"uri": "weather://weather/Delft/now", "mimeType": "application/json", "text": "{\"city\": \"Delft\", \"temperature\": 20}"}])
    );
    // The resource function got its Context.
    recorder
        .wait_for("the resource's log", |r| !r.logs.is_empty())
        .await;
    assert_eq!(recorder.log_texts(), ["reading the weather in Delft"]);
    let err = mcp_error(read(&client, "weather://weather/nope").await.unwrap_err());
    assert_eq!(err.code, ErrorCode::RESOURCE_NOT_FOUND);
    let params = CompleteRequestParams::new(
        Reference::for_resource("weather://weather/{city}/now"),
        ArgumentInfo::new("city", "De"),
    );
    assert_eq!(
        client
            .peer()
            .complete(params)
            .await
            .unwrap()
            .completion
            .values,
        ["Delft", "Denver"]
    );

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
                {"name": "city", "required": true},
                {
                    "name": "days",
                    "description": "Provide a value matching the following JSON schema: {\"type\":\"integer\"}. Encode non-string values as JSON.",
                    "required": false
                }
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
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn the_context_asks_the_client_and_reads_other_mounts() {
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
        start_answering(&weather(), answers("accept", Some(json!({"value": true})))).await;
    let result = call(&client, "weather_summarise", json!({"city": "Oslo"}))
        .await
        .unwrap();
    assert_eq!(text(&result), "Mild and dry. (shared: True)");
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
            json!({"properties": {"value": {"title": "Value", "type": "boolean"}}, "required": ["value"], "type": "object"})
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
    assert!(
        text(&result).starts_with("Error calling tool 'summarise': "),
        "{}",
        text(&result)
    );
    assert_still_serving(&plain).await;
}

/// `weather_summarise` over MCP 2026-07-28: each question is an input round, and the
/// retry runs the Python tool again from the start with the answers so far.
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
        result["inputRequests"]["sample-1"]["params"]["messages"],
        json!([{"role": "user", "content": {"type": "text", "text": "Summarise the weather in Oslo."}}])
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
        json!({"inputResponses": {"elicit-2": {"action": "accept", "content": {"value": true}}},
               "requestState": state}),
    )
    .await;
    assert_eq!(
        third["result"],
        json!({"resultType": "complete", "isError": false,
               "content": [{"type": "text", "text": "Mild and dry. (shared: True)"}],
               "structuredContent": {"result": "Mild and dry. (shared: True)"}}),
        "{third}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn storage_and_configuration_reach_the_python_plugin() {
    let dir = weather().with_sidecar("weather", "[config]\ngreeting = \"ahoy\"\n");
    let (_app, client, _) = start(&dir).await;
    assert_weather_storage_and_settings(&client).await;
    // No grants: the request is refused before any connection, in pier's words.
    let refused = call_json(
        &client,
        "weather_fetch",
        json!({"url": "http://127.0.0.1:9/"}),
    )
    .await;
    assert_eq!(
        refused,
        json!({
            "content": [
                {"type": "text", "text": "plugin `weather` may not reach http://127.0.0.1:9: not in its [grants] http"},
                {"type": "text", "text": "GET http://127.0.0.1:9/: ErrorCode_HttpRequestDenied"}
            ],
            "isError": true
        })
    );
    assert_still_serving(&client).await;
}
