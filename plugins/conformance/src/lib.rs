//! `conformance`: what the server scenarios of the official MCP conformance suite
//! (`@modelcontextprotocol/conformance`) expect of a server, value for value. Served with
//! namespace `""` (see `conformance.toml`) so the names are exactly the suite's.

use pier_sdk::prelude::*;
use pier_sdk::{Body, Component, Elicitation, Sampling};
use serde_json::{Value, json};

/// A 1×1 red PNG.
const RED_PIXEL: &[u8] = include_bytes!("red-pixel.png");
/// 10 ms of silence, 8 kHz mono WAV.
const SILENCE: &[u8] = include_bytes!("silence.wav");

fn pause() {
    std::thread::sleep(std::time::Duration::from_millis(50));
}

fn png() -> Content {
    Content::Image {
        data: RED_PIXEL.to_vec(),
        mime_type: "image/png".into(),
    }
}

/// Returns a simple text.
#[tool]
fn test_simple_text() -> String {
    "This is a simple text response for testing.".into()
}

/// Returns a 1×1 red PNG image.
#[tool]
fn test_image_content() -> ToolResult {
    ToolResult::new(vec![png()])
}

/// Returns a short WAV audio clip.
#[tool]
fn test_audio_content() -> ToolResult {
    ToolResult::new(vec![Content::Audio {
        data: SILENCE.to_vec(),
        mime_type: "audio/wav".into(),
    }])
}

/// Returns an embedded text resource.
#[tool]
fn test_embedded_resource() -> ToolResult {
    ToolResult::new(vec![Content::resource(
        "test://embedded-resource",
        "text/plain",
        "This is an embedded resource content.",
    )])
}

/// Returns text, an image and an embedded resource.
#[tool]
fn test_multiple_content_types() -> ToolResult {
    ToolResult::new(vec![
        Content::text("Multiple content types test:"),
        png(),
        Content::resource(
            "test://mixed-content-resource",
            "application/json",
            json!({"test": "data", "value": 123}).to_string(),
        ),
    ])
}

/// Sends three log messages while it runs.
#[tool]
fn test_tool_with_logging(ctx: &Context) -> String {
    ctx.info("Tool execution started");
    pause();
    ctx.info("Tool processing data");
    pause();
    ctx.info("Tool execution completed");
    "Tool with logging executed successfully".into()
}

/// Reports progress 0, 50 and 100 of 100.
#[tool]
fn test_tool_with_progress(ctx: &Context) -> String {
    ctx.progress(0.0, Some(100.0), None);
    pause();
    ctx.progress(50.0, Some(100.0), None);
    pause();
    ctx.progress(100.0, Some(100.0), None);
    "Tool with progress executed successfully".into()
}

/// Always fails.
#[tool]
fn test_error_handling() -> ToolResult {
    ToolResult::error("This tool intentionally returns an error for testing")
}

/// Asks the client's model to answer `prompt`.
#[tool]
fn test_sampling(
    ctx: &Context,
    /// The prompt to send to the model.
    prompt: String,
) -> Result<String, Error> {
    let answer = ctx.sample(&Sampling::new(prompt).max_tokens(100))?;
    Ok(format!("LLM response: {}", answer.text.unwrap_or_default()))
}

fn describe(answer: Elicitation<Value>) -> String {
    match answer {
        Elicitation::Accept(content) => format!("action=accept, content={content}"),
        Elicitation::Decline => "action=decline".into(),
        Elicitation::Cancel => "action=cancel".into(),
    }
}

/// Asks the user for a username and an e-mail address.
#[tool]
fn test_elicitation(
    ctx: &Context,
    /// The message to show the user.
    message: String,
) -> Result<String, Error> {
    let schema = json!({
        "type": "object",
        "properties": {
            "username": { "type": "string", "description": "User's response" },
            "email": { "type": "string", "description": "User's email address" }
        },
        "required": ["username", "email"]
    });
    let answer = ctx.elicit_raw(&message, &schema)?;
    Ok(format!("User response: {}", describe(answer)))
}

/// Elicits a form whose fields all have defaults (SEP-1034).
#[tool]
fn test_elicitation_sep1034_defaults(ctx: &Context) -> Result<String, Error> {
    let schema = json!({
        "type": "object",
        "properties": {
            "name": { "type": "string", "default": "John Doe" },
            "age": { "type": "integer", "default": 30 },
            "score": { "type": "number", "default": 95.5 },
            "status": {
                "type": "string",
                "enum": ["active", "inactive", "pending"],
                "default": "active"
            },
            "verified": { "type": "boolean", "default": true }
        }
    });
    let answer = ctx.elicit_raw(
        "Please review and update the form fields with defaults",
        &schema,
    )?;
    Ok(format!("Elicitation completed: {}", describe(answer)))
}

/// Elicits a form with every kind of enum field (SEP-1330).
#[tool]
fn test_elicitation_sep1330_enums(ctx: &Context) -> Result<String, Error> {
    let schema = json!({
        "type": "object",
        "properties": {
            "untitledSingle": {
                "type": "string",
                "enum": ["option1", "option2", "option3"]
            },
            "titledSingle": {
                "type": "string",
                "oneOf": [
                    { "const": "value1", "title": "First Option" },
                    { "const": "value2", "title": "Second Option" },
                    { "const": "value3", "title": "Third Option" }
                ]
            },
            "legacyEnum": {
                "type": "string",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"]
            },
            "untitledMulti": {
                "type": "array",
                "items": { "type": "string", "enum": ["option1", "option2", "option3"] }
            },
            "titledMulti": {
                "type": "array",
                "items": {
                    "anyOf": [
                        { "const": "value1", "title": "First Choice" },
                        { "const": "value2", "title": "Second Choice" },
                        { "const": "value3", "title": "Third Choice" }
                    ]
                }
            }
        }
    });
    let answer = ctx.elicit_raw("Please select options from the enum fields", &schema)?;
    Ok(format!("Elicitation completed: {}", describe(answer)))
}

/// The input schema of `json_schema_2020_12_tool`, as the conformance suite spells it:
/// `$schema`, `$defs` with an `$anchor`, `allOf`/`anyOf`, `if`/`then`/`else`.
fn contact_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": {
                    "street": { "type": "string" },
                    "city": { "type": "string" }
                }
            }
        },
        "properties": {
            "name": { "type": "string" },
            "address": { "$ref": "#/$defs/address" },
            "contactMethod": { "type": "string", "enum": ["phone", "email"] },
            "phone": { "type": "string" },
            "email": { "type": "string" }
        },
        "allOf": [{ "anyOf": [{ "required": ["phone"] }, { "required": ["email"] }] }],
        "if": {
            "properties": { "contactMethod": { "const": "phone" } },
            "required": ["contactMethod"]
        },
        "then": { "required": ["phone"] },
        "else": { "required": ["email"] },
        "additionalProperties": false
    })
}

/// Tool with JSON Schema 2020-12 features
#[tool(input_schema = "contact_schema")]
#[allow(non_snake_case)]
fn json_schema_2020_12_tool(
    name: Option<String>,
    address: Option<Value>,
    contactMethod: Option<String>,
    phone: Option<String>,
    email: Option<String>,
) -> String {
    let _ = (address, contactMethod);
    let via = phone.or(email).unwrap_or_default();
    format!("Hello, {}! (contact: {via})", name.unwrap_or_default())
}

/// Drops the connection's stream mid-call (SEP-1699): answers after a pause, so that
/// a client can reconnect and still get the result.
#[tool]
fn test_reconnection() -> String {
    pause();
    "Reconnection test completed".into()
}

/// Needs the client's model: a request that declares no `sampling` capability fails
/// with MissingRequiredClientCapability (-32021) over MCP 2026-07-28.
#[tool]
fn test_missing_capability(ctx: &Context) -> Result<String, Error> {
    let answer = ctx.sample(&Sampling::new("Say hello").max_tokens(20))?;
    Ok(format!("LLM response: {}", answer.text.unwrap_or_default()))
}

/// Asks the user to confirm: over MCP 2026-07-28 its response stream carries the
/// input_required result, never a request of the server's own.
#[tool]
fn test_streaming_elicitation(ctx: &Context) -> Result<String, Error> {
    let schema = json!({
        "type": "object",
        "properties": { "confirm": { "type": "boolean" } },
        "required": ["confirm"]
    });
    let answer = ctx.elicit_raw("Please confirm", &schema)?;
    Ok(format!("Elicitation completed: {}", describe(answer)))
}

/// Logs at once at every level from debug to error: over MCP 2026-07-28 a request
/// without `logLevel` in its `_meta` hears none of them.
#[tool]
fn test_logging_tool(ctx: &Context) -> String {
    ctx.debug("debug message");
    ctx.info("info message");
    ctx.warn("warning message");
    ctx.error("error message");
    "Logged four messages".into()
}

/// The input schema of `test_custom_header`: `region` travels in the
/// `Mcp-Param-Region` header too (SEP-2243).
fn region_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "region": {
                "type": "string",
                "description": "Where to run",
                "x-mcp-header": "Region"
            }
        },
        "required": ["region"]
    })
}

/// Echoes its region; over HTTP the client mirrors it in `Mcp-Param-Region`, and a
/// header that disagrees with the body is refused before the call.
#[tool(input_schema = "region_schema")]
fn test_custom_header(region: String) -> String {
    format!("region: {region}")
}

/// Greets at once: a tool that never runs as a task.
#[tool]
fn greet(
    /// Who to greet.
    name: String,
) -> String {
    format!("Hello, {name}!")
}

/// Works for `seconds` seconds as a task (started at once), then reports.
#[tool(task = "optional")]
fn slow_compute(
    ctx: &Context,
    /// How long to work.
    seconds: u32,
    /// A label for the result.
    label: Option<String>,
) -> String {
    ctx.start_task();
    std::thread::sleep(std::time::Duration::from_secs(u64::from(seconds.min(600))));
    format!(
        "Computed for {seconds} s ({})",
        label.unwrap_or_else(|| "no label".into())
    )
}

/// Fails as a task after about a second: a tool error, so the task completes with
/// `isError`. Clients that did not declare the tasks extension are refused.
#[tool(task = "required")]
fn failing_job(ctx: &Context) -> Result<String, Error> {
    ctx.start_task();
    std::thread::sleep(std::time::Duration::from_secs(1));
    Err(Error::Failed("the job failed".into()))
}

/// Crashes as a task (the guest traps): the task fails with the error.
#[tool(task = "optional")]
fn protocol_error_job(ctx: &Context) -> String {
    ctx.start_task();
    panic!("the job crashed")
}

/// Asks, as a task, whether to delete `filename`.
#[tool(task = "optional")]
fn confirm_delete(
    ctx: &Context,
    /// The file to delete.
    filename: String,
) -> Result<String, Error> {
    ctx.start_task();
    let answers = ctx.ask(&[elicit(
        "confirm",
        &format!("Delete {filename}?"),
        "confirm",
        "boolean",
    )])?;
    Ok(format!(
        "{filename}: confirm={}",
        accepted(&answers[0], "confirm")
    ))
}

/// Asks two questions at once, as a task.
#[tool(task = "optional")]
fn multi_input(ctx: &Context) -> Result<String, Error> {
    ctx.start_task();
    let answers = ctx.ask(&[
        elicit("first", "Your name?", "name", "string"),
        elicit("second", "Confirm?", "confirm", "boolean"),
    ])?;
    Ok(format!(
        "name={} confirm={}",
        accepted(&answers[0], "name"),
        accepted(&answers[1], "confirm")
    ))
}

/// Asks for a name in a round trip of the call, then goes on as a task that greets.
#[tool(task = "required")]
fn test_tool_with_task(ctx: &Context) -> Result<String, Error> {
    let answers = ctx.ask(&[elicit("user_name", "What is your name?", "name", "string")])?;
    ctx.start_task();
    Ok(format!("Hello, {}!", accepted(&answers[0], "name")))
}

/// Switched off and on by `test_trigger_tool_change`.
#[tool]
fn test_switched_tool() -> String {
    "This tool comes and goes.".into()
}

/// Switches `kind` `name` of this plugin off, or on when it is off: its list changes
/// either way.
fn toggle(ctx: &Context, kind: Component, name: &str) -> Result<String, Error> {
    let state = if ctx.set_enabled(kind, name, false)? {
        "off"
    } else {
        ctx.set_enabled(kind, name, true)?;
        "on"
    };
    Ok(format!("{name} is {state}"))
}

/// Changes the tool list: switches `test_switched_tool` off (or on again).
#[tool]
fn test_trigger_tool_change(ctx: &Context) -> Result<String, Error> {
    toggle(ctx, Component::Tool, "test_switched_tool")
}

/// Changes the prompt list: switches `test_switched_prompt` off (or on again).
#[tool]
fn test_trigger_prompt_change(ctx: &Context) -> Result<String, Error> {
    toggle(ctx, Component::Prompt, "test_switched_prompt")
}

/// A static text resource.
#[resource(
    uri = "test://static-text",
    name = "static-text",
    mime_type = "text/plain"
)]
fn static_text() -> String {
    "This is the content of the static text resource.".into()
}

/// A static binary resource: a 1×1 red PNG.
#[resource(
    uri = "test://static-binary",
    name = "static-binary",
    mime_type = "image/png"
)]
fn static_binary() -> Vec<u8> {
    RED_PIXEL.to_vec()
}

/// A resource that can be subscribed to.
#[resource(
    uri = "test://watched-resource",
    name = "watched-resource",
    mime_type = "text/plain"
)]
fn watched_resource() -> String {
    "Watched resource content".into()
}

/// Data for any id: `test://template/{id}/data`.
#[resource(
    uri = "test://template/{id}/data",
    name = "template",
    mime_type = "application/json"
)]
fn template(id: String) -> String {
    json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")}).to_string()
}

/// A simple prompt without arguments.
#[prompt]
fn test_simple_prompt() -> String {
    "This is a simple prompt for testing.".into()
}

/// Switched off and on by `test_trigger_prompt_change`.
#[prompt]
fn test_switched_prompt() -> String {
    "This prompt comes and goes.".into()
}

/// A prompt with two required arguments.
#[prompt]
fn test_prompt_with_arguments(
    /// First test argument.
    arg1: String,
    /// Second test argument.
    arg2: String,
) -> String {
    format!("Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")
}

/// A prompt that embeds the resource it is given.
#[prompt]
#[allow(non_snake_case)]
fn test_prompt_with_embedded_resource(
    /// URI of the resource to embed.
    resourceUri: String,
) -> Vec<Message> {
    vec![
        Message::Content(
            Role::User,
            Content::Resource {
                uri: resourceUri,
                mime_type: Some("text/plain".into()),
                body: Body::Text("Embedded resource content for testing.".into()),
            },
        ),
        Message::User("Please process the embedded resource above.".into()),
    ]
}

/// A prompt with an image.
#[prompt]
fn test_prompt_with_image() -> Vec<Message> {
    vec![
        Message::Content(Role::User, png()),
        Message::User("Please analyze the image above.".into()),
    ]
}

// Input round trips (MCP 2026-07-28, SEP-2322): each question under the key the
// scenario names. Over 2025-11-25 the same tools ask with server requests.

fn form(property: &str, kind: &str) -> Value {
    json!({
        "type": "object",
        "properties": { property: { "type": kind } },
        "required": [property]
    })
}

fn elicit(
    key: &'static str,
    message: &str,
    property: &str,
    kind: &str,
) -> (&'static str, Question) {
    let question = Question::Elicit {
        message: message.into(),
        schema: form(property, kind),
    };
    (key, question)
}

fn sample(prompt: &str, max_tokens: u32) -> Question {
    Question::Sample(Sampling::new(prompt).max_tokens(max_tokens).to_params())
}

/// The accepted content of an elicitation, or what the user did instead.
fn accepted(answer: &Answer, field: &str) -> String {
    match answer {
        Answer::Elicited(Elicitation::Accept(content)) => match &content[field] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        },
        other => format!("{other:?}"),
    }
}

fn sampled_text(answer: &Answer) -> String {
    match answer {
        Answer::Sampled(raw) => match &raw["content"] {
            Value::Array(items) => items.iter().find_map(|c| c["text"].as_str()),
            single => single["text"].as_str(),
        }
        .unwrap_or_default()
        .to_string(),
        other => format!("{other:?}"),
    }
}

fn roots_of(answer: &Answer) -> String {
    match answer {
        Answer::Roots(raw) => raw["roots"]
            .as_array()
            .map(|roots| {
                roots
                    .iter()
                    .filter_map(|r| r["uri"].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        other => format!("{other:?}"),
    }
}

/// Asks the user's name in one round trip.
#[tool]
fn test_input_required_result_elicitation(ctx: &Context) -> Result<String, Error> {
    let answers = ctx.ask(&[elicit("user_name", "What is your name?", "name", "string")])?;
    Ok(format!("Hello, {}!", accepted(&answers[0], "name")))
}

/// Asks the client's model a question in one round trip.
#[tool]
fn test_input_required_result_sampling(ctx: &Context) -> Result<String, Error> {
    let question = sample("What is the capital of France?", 100);
    let answers = ctx.ask(&[("capital_question", question)])?;
    Ok(format!("The model says: {}", sampled_text(&answers[0])))
}

/// Asks for the client's roots in one round trip.
#[tool]
fn test_input_required_result_list_roots(ctx: &Context) -> Result<String, Error> {
    let answers = ctx.ask(&[("client_roots", Question::ListRoots)])?;
    Ok(format!("Client roots: {}", roots_of(&answers[0])))
}

/// Asks for a confirmation; pier checks the sealed requestState of the retry.
#[tool]
fn test_input_required_result_request_state(ctx: &Context) -> Result<String, Error> {
    let answers = ctx.ask(&[elicit("confirm", "Please confirm", "ok", "boolean")])?;
    Ok(format!(
        "state-ok: confirmed={}",
        accepted(&answers[0], "ok")
    ))
}

/// Asks three questions in one round trip.
#[tool]
fn test_input_required_result_multiple_inputs(ctx: &Context) -> Result<String, Error> {
    let answers = ctx.ask(&[
        elicit("user_name", "What is your name?", "name", "string"),
        ("greeting", sample("Generate a greeting", 50)),
        ("client_roots", Question::ListRoots),
    ])?;
    Ok(format!(
        "name={}, greeting={}, roots={}",
        accepted(&answers[0], "name"),
        sampled_text(&answers[1]),
        roots_of(&answers[2])
    ))
}

/// Asks two questions, one round trip each.
#[tool]
fn test_input_required_result_multi_round(ctx: &Context) -> Result<String, Error> {
    let name = ctx.ask(&[elicit(
        "step1",
        "Step 1: What is your name?",
        "name",
        "string",
    )])?;
    let color = ctx.ask(&[elicit(
        "step2",
        "Step 2: What is your favorite color?",
        "color",
        "string",
    )])?;
    Ok(format!(
        "{} likes {}",
        accepted(&name[0], "name"),
        accepted(&color[0], "color")
    ))
}

/// Asks for a confirmation: a tampered requestState on the retry is refused by pier.
#[tool]
fn test_input_required_result_tampered_state(ctx: &Context) -> Result<String, Error> {
    let answers = ctx.ask(&[elicit("confirm", "Please confirm", "ok", "boolean")])?;
    Ok(format!("confirmed={}", accepted(&answers[0], "ok")))
}

/// Asks only what the client declared it can answer: a question of another kind
/// fails at once, asking nothing.
#[tool]
fn test_input_required_result_capabilities(ctx: &Context) -> Result<String, Error> {
    let mut answered = Vec::new();
    if let Ok(answers) = ctx.ask(&[("sampling", sample("Say hello", 20))]) {
        answered.push(format!("sampling: {}", sampled_text(&answers[0])));
    }
    if let Ok(answers) = ctx.ask(&[elicit(
        "elicitation",
        "What is your name?",
        "name",
        "string",
    )]) {
        answered.push(format!("elicitation: {}", accepted(&answers[0], "name")));
    }
    if let Ok(answers) = ctx.ask(&[("roots", Question::ListRoots)]) {
        answered.push(format!("roots: {}", roots_of(&answers[0])));
    }
    Ok(format!("answered: [{}]", answered.join("; ")))
}

/// A prompt that asks the user for its context first.
#[prompt]
fn test_input_required_result_prompt(ctx: &Context) -> Result<String, Error> {
    let answers = ctx.ask(&[elicit(
        "user_context",
        "What context should the prompt use?",
        "context",
        "string",
    )])?;
    Ok(format!(
        "Use this context: {}",
        accepted(&answers[0], "context")
    ))
}

pier_sdk::plugin! {
    name: "conformance",
    version: env!("CARGO_PKG_VERSION"),
    tools: [
        test_simple_text, test_image_content, test_audio_content, test_embedded_resource,
        test_multiple_content_types, test_tool_with_logging, test_tool_with_progress,
        test_error_handling, test_sampling, test_elicitation, test_elicitation_sep1034_defaults,
        test_elicitation_sep1330_enums, json_schema_2020_12_tool, test_reconnection,
        test_input_required_result_elicitation, test_input_required_result_sampling,
        test_input_required_result_list_roots, test_input_required_result_request_state,
        test_input_required_result_multiple_inputs, test_input_required_result_multi_round,
        test_input_required_result_tampered_state, test_input_required_result_capabilities,
        test_missing_capability, test_streaming_elicitation, test_logging_tool,
        test_custom_header, greet, slow_compute, failing_job, protocol_error_job, confirm_delete,
        multi_input, test_tool_with_task, test_switched_tool, test_trigger_tool_change,
        test_trigger_prompt_change,
    ],
    resources: [static_text, static_binary, watched_resource, template],
    prompts: [
        test_simple_prompt, test_prompt_with_arguments, test_prompt_with_embedded_resource,
        test_prompt_with_image, test_input_required_result_prompt, test_switched_prompt,
    ],
    complete: |_reference, argument, value| {
        // Completions for the prompt arguments and the template's `id`.
        let candidates: &[&str] = match argument {
            "arg1" | "arg2" => &["paris", "park", "party"],
            "id" => &["1", "12", "123"],
            _ => &[],
        };
        candidates
            .iter()
            .filter(|c| c.starts_with(value))
            .map(|c| c.to_string())
            .collect()
    },
}
