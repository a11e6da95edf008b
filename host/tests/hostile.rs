//! Bad plugins and misbehaving guests: each is refused or fails alone, with a clear
//! error, and `hello_greet` keeps answering.

mod common;

#[path = "hostile/instances.rs"]
mod instances;
#[path = "hostile/principals.rs"]
mod principals;

use common::*;
use serde_json::json;

/// hello beside the hostile fixture, with tight limits so the tests are quick.
fn hostile_dir() -> PluginDir {
    PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("hostile"), "hostile")
        .with_sidecar("hostile", "[limits]\ntimeout-ms = 1000\nmemory-mb = 32\n")
}

async fn assert_tool_error(client: &Client, tool: &str, expected: &str) {
    let result = call(client, tool, json!({}))
        .await
        .expect("a tool result, not a protocol error");
    assert_eq!(result.is_error, Some(true), "{tool} should fail");
    assert_eq!(text(&result), expected);
    assert_still_serving(client).await;
}

#[tokio::test]
async fn a_panicking_tool_is_a_tool_error_with_the_panic_message() {
    let (_app, client, _) = start(&hostile_dir()).await;
    assert_tool_error(
        &client,
        "hostile_panic",
        "plugin `hostile` panicked: boom (wasm trap: wasm `unreachable` instruction executed)",
    )
    .await;
}

#[tokio::test]
async fn a_trapping_tool_is_a_tool_error_naming_the_trap() {
    let (_app, client, _) = start(&hostile_dir()).await;
    assert_tool_error(
        &client,
        "hostile_trap",
        "plugin `hostile` trapped: wasm trap: wasm `unreachable` instruction executed",
    )
    .await;
}

#[tokio::test]
async fn a_tool_that_loops_forever_hits_the_timeout() {
    let (_app, client, _) = start(&hostile_dir()).await;
    assert_tool_error(
        &client,
        "hostile_spin",
        "plugin `hostile` timed out after 1000 ms",
    )
    .await;
}

#[tokio::test]
async fn a_tool_that_allocates_without_bound_hits_the_memory_limit() {
    let (_app, client, _) = start(&hostile_dir()).await;
    assert_tool_error(
        &client,
        "hostile_hog",
        "plugin `hostile` ran out of memory: it tried to grow past its limit of 32 MiB",
    )
    .await;
}

#[tokio::test]
async fn the_operators_limits_cap_what_a_sidecar_asks_for() {
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("hostile"), "hostile")
        .with_sidecar(
            "hostile",
            "[limits]\ntimeout-ms = 600000\nmemory-mb = 4096\n",
        );
    let operator = tempfile::tempdir().unwrap();
    let config_file = operator.path().join("pier.toml");
    std::fs::write(&config_file, "[limits]\ntimeout-ms = 700\nmemory-mb = 24\n").unwrap();
    let config = pier::cli::ServeArgs {
        config: Some(config_file),
        plugins: Some(dir.path().to_str().unwrap().into()),
        data_dir: Some(shared_data_dir().to_str().unwrap().into()),
        storage: Some("memory".into()),
        ..Default::default()
    }
    .config_with_env(Vec::new())
    .expect("a valid configuration");
    let app = pier::App::start(&config).await.expect("pier starts");
    let (client, _) = connect(&app).await;
    assert_tool_error(
        &client,
        "hostile_spin",
        "plugin `hostile` timed out after 700 ms",
    )
    .await;
    assert_tool_error(
        &client,
        "hostile_hog",
        "plugin `hostile` ran out of memory: it tried to grow past its limit of 24 MiB",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_keep_working_while_another_call_spins() {
    // As pier serves: a runtime with more than one thread, the spin given 5 s.
    let dir = hostile_dir().with_sidecar("hostile", "[limits]\ntimeout-ms = 5000\n");
    let (app, client, _) = start(&dir).await;
    let spinning = {
        let peer = client.peer().clone();
        tokio::spawn(async move {
            peer.call_tool(rmcp::model::CallToolRequestParams::new("hostile_spin"))
                .await
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.in_flight().count() == 0 {
        assert!(std::time::Instant::now() < deadline, "the spin started");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // The spin runs until its timeout; the greeting is answered meanwhile.
    assert_still_serving(&client).await;
    assert!(
        !spinning.is_finished(),
        "the greeting was answered while the spin still ran"
    );
    let spun = spinning.await.unwrap().unwrap();
    assert_eq!(text(&spun), "plugin `hostile` timed out after 5000 ms");
}

#[tokio::test]
async fn host_functions_that_cannot_serve_say_why() {
    let (_app, client, _) = start(&hostile_dir()).await;
    assert_tool_error(
        &client,
        "hostile_storage_get",
        "StorageError::InvalidKey(\"the key contains the control character U+0000\")",
    )
    .await;
    assert_tool_error(
        &client,
        "hostile_sample",
        "Error::Unsupported(\"client `pier-tests` does not support sampling (it declared no `sampling` capability)\")",
    )
    .await;
}

#[tokio::test]
async fn request_info_and_request_state_reach_the_plugin() {
    let (_app, client, _) = start(&hostile_dir()).await;
    let result = call(&client, "hostile_whoami", json!({})).await.unwrap();
    // An in-process session has no transport id: the session is unnamed to plugins.
    assert_eq!(
        text(&result),
        "client=pier-tests session= state={\"n\":1} subject= scopes="
    );
}

#[tokio::test]
async fn structured_content_must_match_the_declared_output_schema() {
    let (_app, client, _) = start(&hostile_dir()).await;
    assert_tool_error(
        &client,
        "hostile_lie",
        "plugin returned an invalid result: structured content does not match the output schema: /n: \"not a number\" is not of type \"integer\"",
    )
    .await;
}

#[tokio::test]
async fn plugins_get_no_environment_filesystem_or_network() {
    let (_app, client, _) = start(&hostile_dir()).await;
    let result = call(&client, "hostile_escape", json!({})).await.unwrap();
    assert_eq!(text(&result), "env=0 file=denied dir=denied net=denied");
}

/// Each bad file and the exact reason it is refused with.
fn bad_files() -> (PluginDir, Vec<(&'static str, String)>) {
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with_bytes("garbage", b"this is not wasm at all")
        // The smallest valid core module: magic + version 1.
        .with_bytes("core", b"\0asm\x01\0\0\0")
        // A component's header, then bytes no compiler accepts.
        .with_bytes("broken", b"\0asm\x0d\0\x01\0\xff\xff\xff")
        .with(&fixture("wrong_world"), "wrong")
        .with(&fixture("bad-annotations"), "annotations")
        .with(&fixture("bad-name"), "badname")
        .with(&fixture("bad-schema"), "badschema")
        .with(&fixture("duplicate"), "dup")
        .with(&example("calc"), "sidecar")
        .with_sidecar("sidecar", "[limits]\nfuel = 10\n");
    let path = |name: &str| {
        dir.path()
            .join(format!("{name}.wasm"))
            .display()
            .to_string()
    };
    let expected = vec![
        (
            "annotations",
            format!(
                "refused plugin {}: invalid manifest: annotations of tool `sloppy` do not fit MCP's ToolAnnotations: invalid type: string \"yes\", expected a boolean",
                path("annotations")
            ),
        ),
        (
            "badname",
            format!(
                "refused plugin {}: invalid manifest: tool name `bad name!` must be 1 to 64 characters of A-Z a-z 0-9 _ - .",
                path("badname")
            ),
        ),
        (
            "badschema",
            format!(
                "refused plugin {}: invalid manifest: input schema of tool `ok` is not a valid JSON Schema: ",
                path("badschema")
            ),
        ),
        (
            "broken",
            format!(
                "refused plugin {}: failed to parse WebAssembly module: malformed section id (at offset 0x8)",
                path("broken")
            ),
        ),
        (
            "core",
            format!(
                "refused plugin {}: a core WebAssembly module, not a component: build it for wasm32-wasip2 or wrap it with `wasm-tools component new`",
                path("core")
            ),
        ),
        (
            "dup",
            format!(
                "refused plugin {}: invalid manifest: duplicate tool `twice`",
                path("dup")
            ),
        ),
        (
            "garbage",
            format!(
                "refused plugin {}: not a WebAssembly file (no `\\0asm` header)",
                path("garbage")
            ),
        ),
        (
            "sidecar",
            format!(
                "refused plugin {}: sidecar {}: line 2, `limits.fuel`: unknown field `fuel`, expected one of `timeout-ms`, `memory-mb`, `storage-keys`, `storage-value-bytes`, `log-messages`, `log-bytes`, `max-concurrent-calls`",
                path("sidecar"),
                dir.path().join("sidecar.toml").display()
            ),
        ),
        (
            "wrong",
            format!("refused plugin {}: not a pier plugin: ", path("wrong")),
        ),
    ];
    (dir, expected)
}

#[tokio::test]
async fn bad_plugin_files_are_refused_each_with_its_reason_and_the_rest_is_served() {
    let (dir, expected) = bad_files();
    let (app, client, _) = start(&dir).await;
    let refused: Vec<String> = app.refused().iter().map(|e| e.to_string()).collect();
    assert_eq!(refused.len(), expected.len(), "{refused:#?}");
    for ((name, prefix), line) in expected.iter().zip(&refused) {
        assert!(
            line.starts_with(prefix.as_str()),
            "{name}:\n  got      {line}\n  expected {prefix}"
        );
    }
    assert!(refused[2].contains("no-such-type"), "{}", refused[2]);
    assert!(
        refused[8].contains("pier:mcp/plugin@0.1.0"),
        "{}",
        refused[8]
    );
    let tools = client.peer().list_all_tools().await.unwrap();
    assert_eq!(
        tools.iter().map(|t| t.name.as_ref()).collect::<Vec<_>>(),
        ["hello_greet"]
    );
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn refused_plugins_are_reported_as_one_stderr_line_each() {
    let (dir, expected) = bad_files();
    let output = serve_until_stdin_closes(dir.path());
    assert!(
        output.status.success(),
        "pier exits cleanly when stdin closes"
    );
    assert!(
        output.stdout.is_empty(),
        "stdout is only for protocol messages: {:?}",
        String::from_utf8_lossy(&output.stdout)
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    let refusals: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("refused plugin"))
        .collect();
    assert_eq!(refusals.len(), expected.len(), "{stderr}");
    for ((_, prefix), line) in expected.iter().zip(&refusals) {
        assert!(line.contains(" ERROR "), "{line}");
        assert!(
            line.contains(prefix.as_str()),
            "{line}\n  expected {prefix}"
        );
    }
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("mounted") && l.contains("hello.wasm")),
        "{stderr}"
    );
}
