//! The browser console (`/console`): off in `pier serve` unless asked for, on in
//! `pier dev`; what it shows and calls, tried in a real headless Chromium
//! (`tests/clients/console.py`, Playwright); who may reach it; its bounds.

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use serde_json::{Value, json};

/// A configuration serving `dir` with the console on (and `extra` of `pier.toml`).
fn console_config(dir: &PluginDir, extra: &str) -> pier::ServeConfig {
    let configured = configured(&format!("[console]\nenabled = true\n{extra}"))
        .expect("the configuration is valid");
    pier::ServeConfig {
        console: configured.console,
        auth: configured.auth,
        admin_token: configured.admin_token,
        ..dir.config()
    }
}

fn get(server: &Server, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new().get(format!("{}{path}", server.base))
}

fn call(server: &Server, body: Value) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("{}/console/api/call", server.base))
        .json(&body)
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// The next event of a live stream that `keep` accepts, within 10 s.
async fn next_event(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffer: &mut String,
    keep: impl Fn(&Value) -> bool,
) -> Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                if let Some(data) = block.strip_prefix("data: ") {
                    let event: Value = serde_json::from_str(data.trim()).unwrap();
                    if keep(&event) {
                        return event;
                    }
                }
            }
            let chunk = stream.next().await.expect("the stream goes on").unwrap();
            buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    })
    .await
    .expect("the event comes")
}

#[tokio::test]
async fn pier_serve_has_no_console_unless_asked_and_a_remote_one_needs_a_token() {
    let dir = PluginDir::examples();
    let server = Server::start(&dir, |_| {}).await;
    for path in ["/console", "/console/api/mounts", "/console/console.js"] {
        let status = get(&server, path).send().await.unwrap().status();
        assert_eq!(status, 404, "{path}");
    }
    server.shutdown().await;
    assert_eq!(
        configured("[console]\nenabled = true\nremote = true\n").unwrap_err(),
        "pier.toml: console.remote: a console served beyond loopback needs admin.token or auth.mode tokens or jwt: without either, anyone who reaches the port would see every mount and call every tool"
    );
    let remote =
        configured("[console]\nenabled = true\nremote = true\n[admin]\ntoken = \"t\"\n").unwrap();
    assert_eq!(
        remote.console,
        pier::console::ConsoleOptions {
            enabled: true,
            remote: true
        }
    );
}

/// The console as a person uses it, in Chromium: `pier dev` serving the example
/// plugins, the mounts seen, `calc_add` called through its form, a plugin file
/// replaced and the swap seen live, a refused outbound request seen, the charts, a
/// phone-sized screen, the keyboard.
#[tokio::test]
async fn in_a_browser_pier_dev_shows_mounts_calls_a_tool_and_follows_swaps_and_egress() {
    let plugins = PluginDir::new();
    for name in ["hello", "calc", "fetch", "notes", "assistant"] {
        std::fs::copy(example(name), plugins.path().join(format!("{name}.wasm"))).unwrap();
    }
    std::fs::copy(
        root().join("plugins/fetch/fetch.toml"),
        plugins.path().join("fetch.toml"),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let dir = plugins.path().display().to_string();
    let data_dir = data.path().display().to_string();
    let pier = ChildPier::run(
        "dev",
        &[
            "--plugins",
            &dir,
            "--data-dir",
            &data_dir,
            "--storage",
            "memory",
        ],
        &[],
    )
    .await;
    let base = pier.url.trim_end_matches("/mcp").to_string();
    let new_hello = fixture("hello_v2").display().to_string();
    let seen = tokio::task::spawn_blocking(move || {
        python_script("console.py", &[&base, &dir, &new_hello])
    })
    .await
    .unwrap();
    assert_eq!(
        seen["outside_requests"],
        json!([]),
        "nothing from elsewhere"
    );
    assert_eq!(seen["errors"], json!([]), "no script errors");
    assert_eq!(seen["title"], "Mounts · pier console");
    assert_eq!(
        seen["mounts"],
        json!([
            ["assistant", "✓ serving"],
            ["calc", "✓ serving"],
            ["fetch", "✓ serving"],
            ["hello", "✓ serving"],
            ["notes", "✓ serving"]
        ])
    );
    let fetch = &seen["fetch_facts"];
    assert_eq!(fetch["State"], "✓ serving");
    assert_eq!(fetch["HTTP requested"], "https://*");
    assert_eq!(fetch["HTTP effective"], "https://*");
    assert_eq!(fetch["Private networks"], "no");
    assert_eq!(fetch["Instances"], "fresh");
    assert_eq!(
        fetch["Limits"],
        "http-requests 16, http-response-bytes 16777216, log-bytes 1048576, log-messages 1000, max-concurrent-calls 32, memory-mb 64, storage-keys 10000, storage-value-bytes 1048576, timeout-ms 30000"
    );
    assert_eq!(fetch["Calls"], "0 (0 failed)");
    // The keyboard: skip link, then the pages; Enter moves to the page's heading.
    assert_eq!(seen["first_tab"], "Skip to content");
    assert_eq!(seen["third_page_link"], "Live");
    assert_eq!(seen["focus_after_enter"], "h-live");
    // The form generated from calc_add's schema, and its answer.
    assert_eq!(
        seen["calc_add_fields"],
        json!(["a (required)", "b (required)"])
    );
    assert_eq!(seen["calc_add_result"], "5");
    assert_eq!(seen["calc_add_outcome"], "✓ Result");
    assert_eq!(seen["calc_add_structured"], json!({"result": 5}));
    // Log messages and progress as they came, then the result.
    assert_eq!(
        seen["countdown_logs"],
        json!([
            "info [calc] countdown: 2",
            "info [calc] countdown: 1",
            "info [calc] countdown: 0"
        ])
    );
    assert_eq!(seen["countdown_progress"], "Progress: 2 of 2 — 0 left");
    assert_eq!(seen["countdown_result"], "counted down from 2");
    // fetch may reach https://* only: http://example.com is refused before any
    // connection, and the tool says so.
    assert_eq!(seen["fetch_outcome"], "✗ The tool answered with an error");
    assert_eq!(
        seen["fetch_text"],
        "plugin `fetch` may not reach http://example.com:80: not in its [grants] http"
    );
    let egress = &seen["live_egress"][0];
    assert_eq!(egress[1], "egress");
    assert_eq!(egress[2], "fetch: GET http://example.com:80/");
    assert_eq!(egress[3], "✗ denied");
    assert_eq!(egress[4], "not in its [grants] http");
    // Calls, newest first: who, how long, which instance.
    let calls = seen["live_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(calls[2][2], "tools/call calc_add (calc)");
    assert_eq!(calls[2][3], "✓ ok");
    assert_eq!(calls[1][2], "tools/call calc_countdown (calc)");
    let detail = calls[2][4].as_str().unwrap();
    assert!(
        detail.ends_with(" ms · new instance · by admin"),
        "{detail}"
    );
    assert_eq!(calls[0][2], "tools/call fetch_fetch (fetch)");
    assert_eq!(calls[0][3], "✗ tool_error");
    // The swap of hello.wasm, live, with the versions and what changed.
    let changes = seen["live_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0][2], "hello");
    assert_eq!(changes[0][3], "✓ swapped");
    let detail = changes[0][4].as_str().unwrap();
    assert!(
        detail.starts_with("version ")
            && detail.contains(" · was ")
            && detail.ends_with(" · lists changed: tools, resources, prompts"),
        "{detail}"
    );
    assert_eq!(
        seen["hello_tools_after_swap"],
        json!(["hello_greet", "hello_wave"])
    );
    // Charts of the mounts called, described in words too.
    assert_eq!(seen["charts"], json!(["calc", "fetch"]));
    let labels = seen["chart_labels"].as_array().unwrap();
    assert!(
        labels[0]
            .as_str()
            .unwrap()
            .starts_with("calc requests per second: now "),
        "{labels:?}"
    );
    assert!(
        labels[1]
            .as_str()
            .unwrap()
            .starts_with("calc p99 latency: now "),
        "{labels:?}"
    );
    assert_eq!(seen["calc_calls"], "2");
    assert_eq!(seen["phone_overflow"], 0, "nothing wider than a phone");
    assert_eq!(seen["phone_nav_visible"], true);
}

#[tokio::test]
async fn a_call_goes_through_the_pipeline_and_the_live_feed_tells_it() {
    let dir = PluginDir::examples().with_sidecar("hello", "instances = \"reuse\"\n");
    let server = Server::start_with(console_config(&dir, "")).await;
    let events = get(&server, "/console/api/events").send().await.unwrap();
    assert_eq!(events.status(), 200);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let mut stream = events.bytes_stream();
    let mut buffer = String::new();

    let (status, body) = answer(call(
        &server,
        json!({"name": "calc_add", "arguments": {"a": 2, "b": 3}}),
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["content"][0]["text"], "5");
    let event = next_event(&mut stream, &mut buffer, |e| e["kind"] == "call").await;
    assert_eq!(event["method"], "tools/call");
    assert_eq!(event["target"], "calc_add");
    assert_eq!(event["mount"], "calc");
    assert_eq!(event["subject"], "admin");
    assert_eq!(event["outcome"], "ok");
    assert_eq!(event["instance"], "new");
    assert_eq!(event["error"], Value::Null);
    assert!(event["ms"].as_f64().unwrap() > 0.0);
    assert!(event["seq"].as_u64().unwrap() >= 1);

    // A plugin that reuses instances: a new one first, then the warm one.
    for expected in ["new", "warm"] {
        let (status, _) = answer(call(
            &server,
            json!({"name": "hello_greet", "arguments": {"name": "pier"}}),
        ))
        .await;
        assert_eq!(status, 200);
        let event = next_event(&mut stream, &mut buffer, |e| e["kind"] == "call").await;
        assert_eq!(
            (event["target"].as_str(), event["instance"].as_str()),
            (Some("hello_greet"), Some(expected))
        );
    }

    // A call that logs and reports progress streams them before its result.
    let response = call(
        &server,
        json!({"name": "calc_countdown", "arguments": {"from": 2}}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let messages = messages(response).await;
    let methods: Vec<&str> = messages
        .iter()
        .map(|m| m["method"].as_str().unwrap_or("result"))
        .collect();
    assert!(methods.contains(&"notifications/message"), "{methods:?}");
    assert!(methods.contains(&"notifications/progress"), "{methods:?}");
    assert_eq!(methods.last(), Some(&"result"));

    // A tool that fails answers in the pipeline's words, and the feed says so.
    let (status, body) = answer(call(
        &server,
        json!({"name": "calc_divide", "arguments": {"a": 1, "b": 0}}),
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["isError"], true);
    let event = next_event(&mut stream, &mut buffer, |e| {
        e["kind"] == "call" && e["target"] == "calc_divide"
    })
    .await;
    assert_eq!(event["outcome"], "tool_error");
    let said = body["result"]["content"][0]["text"].as_str().unwrap();
    assert_eq!(event["error"], said);

    // A tool nobody serves: the JSON-RPC error /mcp gives any client.
    let (status, body) = answer(call(&server, json!({"name": "nope", "arguments": {}}))).await;
    assert_eq!(status, 200);
    assert_eq!(body["error"]["code"], -32602, "{body}");

    // Bad calls are refused before anything runs.
    for (body, why) in [
        (
            json!({"arguments": {}}),
            "the call needs `name`, the tool's name",
        ),
        (
            json!({"name": "calc_add", "arguments": [1]}),
            "`arguments` must be an object",
        ),
        (
            json!({"name": "calc\nadd"}),
            "a tool name is printable text without line breaks",
        ),
    ] {
        assert_eq!(
            answer(call(&server, body)).await,
            (400, json!({ "error": why }))
        );
    }
    let huge = "x".repeat(pier_console_max() + 10);
    let (status, body) = answer(
        reqwest::Client::new()
            .post(format!("{}/console/api/call", server.base))
            .body(huge),
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(
        body["error"],
        "a call of the console is at most 1048576 bytes"
    );

    // The mounts page counts the calls.
    let (status, mounts) = answer(get(&server, "/console/api/mounts")).await;
    assert_eq!(status, 200);
    assert_eq!(
        mounts["calls"]["calc"],
        json!({"calls": 3.0, "errors": 1.0})
    );
    let calc = mounts["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["namespace"] == "calc")
        .unwrap();
    assert_eq!(calc["limits"]["timeout-ms"], 30000);
    assert_eq!(calc["instances"], "fresh");
    assert_eq!(mounts["refused"], json!([]));

    // The catalogue: tools with their schemas, and the mount serving each.
    let (_, catalogue) = answer(get(&server, "/console/api/catalogue")).await;
    let add = catalogue["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "calc_add")
        .unwrap();
    assert_eq!(add["mount"], "calc");
    assert_eq!(add["inputSchema"]["required"], json!(["a", "b"]));
    let (_, series) = answer(get(&server, "/console/api/series")).await;
    assert_eq!(series["every_seconds"], 5);
    assert_eq!(series["points_kept"], 72);
    server.shutdown().await;
}

/// The most a console call's body may be.
fn pier_console_max() -> usize {
    1 << 20
}

#[tokio::test]
async fn only_loopback_names_and_the_consoles_own_pages_reach_it() {
    let dir = PluginDir::examples();
    let server = Server::start_with(console_config(&dir, "")).await;
    // A rebound name (DNS rebinding) is refused, page and API alike.
    for path in ["/console", "/console/api/mounts"] {
        let (status, body) = answer(get(&server, path).header("host", "rebound.example:80")).await;
        assert_eq!(status, 403, "{path}");
        assert_eq!(
            body["error"],
            "the console answers only to loopback names (localhost, 127.0.0.1, [::1]), not to `rebound.example:80`"
        );
    }
    // Another site's page may not call a tool through the console.
    let (status, body) = answer(
        call(
            &server,
            json!({"name": "calc_add", "arguments": {"a": 1, "b": 1}}),
        )
        .header("origin", "http://evil.example"),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        body["error"],
        "the console answers only its own pages, not a page of `http://evil.example`"
    );
    assert!(
        !server.metrics().await.contains("pier_mount_calls_total{"),
        "nothing was called"
    );
    // Its own page may.
    let own = server.base.clone();
    let (status, body) = answer(
        call(
            &server,
            json!({"name": "calc_add", "arguments": {"a": 1, "b": 1}}),
        )
        .header("origin", own),
    )
    .await;
    assert_eq!(
        (status, body["result"]["content"][0]["text"].clone()),
        (200, json!("2"))
    );
    // The page is plain: its own script and style only.
    let page = get(&server, "/console").send().await.unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'self';"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from elsewhere"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn its_api_needs_the_admin_token_or_the_admin_scope_and_the_page_holds_no_data() {
    let dir = PluginDir::examples();
    let server = Server::start_with(console_config(&dir, "[admin]\ntoken = \"s3cret\"\n")).await;
    assert_eq!(get(&server, "/console").send().await.unwrap().status(), 200);
    let (status, body) = answer(get(&server, "/console/api/mounts")).await;
    assert_eq!(status, 401);
    assert_eq!(
        body["error"],
        "the admin API needs `Authorization: Bearer <admin.token>`"
    );
    let (status, body) = answer(get(&server, "/console/api/mounts").bearer_auth("guess")).await;
    assert_eq!(
        (status, body["error"].clone()),
        (403, json!("wrong admin token"))
    );
    let (status, _) = answer(call(&server, json!({"name": "calc_add"}))).await;
    assert_eq!(status, 401, "no call without the token");
    let (status, body) = answer(
        call(
            &server,
            json!({"name": "calc_add", "arguments": {"a": 2, "b": 3}}),
        )
        .bearer_auth("s3cret"),
    )
    .await;
    assert_eq!(
        (status, body["result"]["content"][0]["text"].clone()),
        (200, json!("5"))
    );
    server.shutdown().await;

    // With auth on: a token with the admin scope, not another.
    let text = format!(
        "[auth]\nmode = \"tokens\"\nresource = \"http://pier.test/mcp\"\nauthorization-servers = [\"https://auth.pier.test\"]\n\n[[auth.token]]\nhash = \"{}\"\nsubject = \"ci\"\nscopes = [\"tools:read\"]\n\n[[auth.token]]\nhash = \"{}\"\nsubject = \"ops\"\nscopes = [\"pier:admin\"]\n",
        pier::auth::hash_token("ci-token"),
        pier::auth::hash_token("ops-token"),
    );
    let server = Server::start_with(console_config(&dir, &text)).await;
    let (status, _) = answer(get(&server, "/console/api/mounts")).await;
    assert_eq!(status, 401);
    let response = get(&server, "/console/api/mounts")
        .bearer_auth("ci-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
    let events = get(&server, "/console/api/events")
        .bearer_auth("ops-token")
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let mut stream = events.bytes_stream();
    let mut buffer = String::new();
    let (status, _) = answer(
        call(
            &server,
            json!({"name": "calc_add", "arguments": {"a": 2, "b": 3}}),
        )
        .bearer_auth("ops-token"),
    )
    .await;
    assert_eq!(status, 200);
    let event = next_event(&mut stream, &mut buffer, |e| e["kind"] == "call").await;
    assert_eq!(
        event["subject"], "ops",
        "the call ran as the token's subject"
    );
    // A refused client request shows in the feed too.
    let refused = post(&server.url, INIT)
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let event = next_event(&mut stream, &mut buffer, |e| e["kind"] == "refusal").await;
    assert_eq!(event["reason"], "invalid_token");
    server.shutdown().await;
}

#[tokio::test]
async fn live_views_are_bounded_and_end_when_pier_stops() {
    let dir = PluginDir::examples();
    let mut config = console_config(&dir, "");
    config.http.shutdown_grace = Duration::from_secs(300);
    let server = Server::start_with(config).await;
    let mut open = Vec::new();
    for _ in 0..pier::console::MAX_STREAMS {
        let response = get(&server, "/console/api/events").send().await.unwrap();
        assert_eq!(response.status(), 200);
        open.push(response);
    }
    let (status, body) = answer(get(&server, "/console/api/events")).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"], "16 live views are open already; close one");
    drop(open.pop());
    let mut again = None;
    for _ in 0..100 {
        let response = get(&server, "/console/api/events").send().await.unwrap();
        if response.status() == 200 {
            again = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let again = again.expect("a closed view frees its place");
    // Shutting down ends every live view: none holds the shutdown for its grace.
    tokio::time::timeout(Duration::from_secs(60), server.shutdown())
        .await
        .expect("live views do not hold the shutdown");
    let rest: Vec<_> =
        tokio::time::timeout(Duration::from_secs(60), again.bytes_stream().collect())
            .await
            .expect("the live view ended");
    assert!(rest.iter().all(Result::is_ok));
}

/// A newcomer's first `pier dev`, in an empty folder: the plugin directory is made and
/// followed, the console's address printed, and a plugin dropped in shows up.
#[tokio::test]
async fn pier_dev_in_an_empty_folder_makes_its_plugin_directory_and_shows_what_is_dropped_in() {
    let folder = tempfile::tempdir().unwrap();
    let plugins = folder.path().join("plugins.d");
    let data = folder.path().join(".pier");
    let (plugins_arg, data_arg) = (plugins.display().to_string(), data.display().to_string());
    let pier = ChildPier::run(
        "dev",
        &["--plugins", &plugins_arg, "--data-dir", &data_arg],
        &[],
    )
    .await;
    assert!(plugins.is_dir());
    let base = pier.url.trim_end_matches("/mcp").to_string();
    let said = pier.stderr_text();
    assert!(
        said.contains(&format!(
            "pier: created {plugins_arg}/ — drop plugins (.wasm) there\n"
        )),
        "{said}"
    );
    let mounts = || async {
        reqwest::get(format!("{base}/console/api/mounts"))
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    assert_eq!(
        mounts().await,
        json!({"calls": {}, "mounts": [], "refused": []})
    );
    std::fs::copy(example("calc"), plugins.join(".calc.wasm")).unwrap();
    std::fs::rename(plugins.join(".calc.wasm"), plugins.join("calc.wasm")).unwrap();
    let mut seen = Value::Null;
    for _ in 0..200 {
        seen = mounts().await;
        if seen["mounts"][0]["namespace"] == "calc" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen["mounts"][0]["namespace"], "calc", "{seen}");
    assert_eq!(seen["mounts"][0]["state"], "serving");
    let printed = pier.stderr_text();
    assert!(
        printed.contains(&format!("pier: console on {base}/console\n")),
        "{printed}"
    );
}

/// In a browser, a console that wants the admin token asks for it (the page holds no
/// data), says when it is wrong, and shows the mounts once it is right.
#[tokio::test]
async fn in_a_browser_a_console_with_an_admin_token_asks_for_it() {
    let dir = PluginDir::examples();
    let server = Server::start_with(console_config(&dir, "[admin]\ntoken = \"s3cret\"\n")).await;
    let base = server.base.clone();
    let seen = tokio::task::spawn_blocking(move || {
        python_script("console.py", &["login", &base, "s3cret"])
    })
    .await
    .unwrap();
    assert_eq!(seen["asked"], "This pier asks for a token");
    assert_eq!(seen["main_hidden"], true);
    assert_eq!(seen["focused"], "token");
    assert_eq!(seen["wrong"], "Not accepted: wrong admin token");
    assert_eq!(seen["mounts"], json!(["calc", "hello"]));
    server.shutdown().await;
}

#[tokio::test]
async fn a_plugin_switching_a_component_shows_in_the_live_feed() {
    let dir = PluginDir::new().with(&fixture("probe"), "probe");
    let server = Server::start_with(console_config(&dir, "")).await;
    let events = get(&server, "/console/api/events").send().await.unwrap();
    let mut stream = events.bytes_stream();
    let mut buffer = String::new();
    let (status, body) = answer(call(
        &server,
        json!({"name": "probe_switch", "arguments": {"kind": "resource", "name": "probe://counter", "enabled": false}}),
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["content"][0]["text"], "changed: true");
    let event = next_event(&mut stream, &mut buffer, |e| e["kind"] == "lists").await;
    assert_eq!(event["mount"], "probe");
    assert_eq!(event["component"], "resource probe://counter");
    assert_eq!(event["enabled"], false);
    assert_eq!(event["lists"], json!(["resources"]));
    server.shutdown().await;
}
