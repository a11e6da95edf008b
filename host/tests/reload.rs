//! Hot mount, swap and unmount: pier follows its plugin directory while serving, never
//! fails a request because of a change, keeps the previous version when a replacement
//! is broken, and tells every session which lists changed.

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use pier::registry::mounts::Outcome;
use pier::{App, ServeConfig};
use serde_json::{Value, json};

/// A watching configuration with a short debounce, so that the tests are quick.
fn watching(dir: &PluginDir) -> ServeConfig {
    ServeConfig {
        debounce: Duration::from_millis(50),
        ..dir.watched_config()
    }
}

/// The version hash `plugin` is served at, if it is mounted.
fn serving(app: &App, plugin: &str) -> Option<String> {
    app.registry()
        .snapshot()
        .mounts
        .iter()
        .find(|m| m.name == plugin)
        .map(|m| m.version.clone())
}

/// Waits until the watcher has handled every change made to `dir` before this call.
/// It handles settled changes one at a time, in order (a batch sorted by name), and a
/// file that cannot load is refused only after it has been unchanged for a second: so a
/// junk file written now, named to sort last, is refused after all of them. The junk
/// is then removed (and its refusal with it); it changes no list.
async fn caught_up(app: &App, dir: &Path) {
    let sentinel = dir.join("zzzz-sync.wasm");
    let refused = || app.refusals().iter().any(|r| r.error.file == sentinel);
    std::fs::write(&sentinel, b"not a component").unwrap();
    wait_until(
        "the watcher refuses a file written after the change",
        refused,
    )
    .await;
    std::fs::remove_file(&sentinel).unwrap();
    wait_until("the watcher forgets it", || !refused()).await;
}

/// Replaces `dir/NAME.wasm` the way deployment tools do: write beside, then rename.
fn replace_by_rename(dir: &Path, name: &str, source: &Path) {
    let temporary = dir.join(format!(".{name}.wasm.part"));
    std::fs::copy(source, &temporary).unwrap();
    std::fs::rename(&temporary, dir.join(format!("{name}.wasm"))).unwrap();
}

/// Replaces `dir/NAME.wasm` the way `cp` does: truncate and write in place.
fn replace_in_place(dir: &Path, name: &str, source: &Path) {
    std::fs::copy(source, dir.join(format!("{name}.wasm"))).unwrap();
}

fn sha256(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn tool_names(tools: &[rmcp::model::Tool]) -> Vec<String> {
    tools.iter().map(|t| t.name.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn swapping_a_plugin_fifty_times_under_load_fails_no_request() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let server = Server::start_with(watching(&dir)).await;
    let app = server.app.clone();
    let (listener, heard) = server.client().await;

    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = Vec::new();
    for _ in 0..4 {
        let (client, _) = server.client().await;
        let stop = stop.clone();
        callers.push(tokio::spawn(async move {
            let (mut hello, mut howdy, mut failed) = (0usize, 0usize, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                match call(&client, "hello_greet", json!({"name": "Ada"})).await {
                    Ok(r) if r.is_error != Some(true) && text(&r) == "Hello, Ada!" => hello += 1,
                    Ok(r) if r.is_error != Some(true) && text(&r) == "Howdy, Ada!" => howdy += 1,
                    Ok(r) => failed.push(format!("unexpected answer {r:?}")),
                    Err(e) => failed.push(format!("request failed: {e}")),
                }
            }
            (hello, howdy, failed)
        }));
    }

    let versions = [fixture("hello_v2"), example("hello")];
    for i in 0..50 {
        let source = &versions[i % 2];
        let expected = sha256(source);
        if i % 2 == 0 {
            replace_by_rename(dir.path(), "hello", source);
        } else {
            replace_in_place(dir.path(), "hello", source);
        }
        wait_until(&format!("swap {i} is served"), || {
            serving(&app, "hello").as_deref() == Some(expected.as_str())
        })
        .await;
        // Let the callers see this version before the next swap.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let (mut hello, mut howdy) = (0, 0);
    for caller in callers {
        let (h, w, failed) = caller.await.unwrap();
        assert_eq!(failed, Vec::<String>::new(), "no request may fail");
        hello += h;
        howdy += w;
    }
    assert!(
        hello > 0 && howdy > 0,
        "both versions answered ({hello} hello, {howdy} howdy)"
    );

    // Every swap changed every list (hello has a resource and a prompt, v2 does not).
    heard
        .wait_for("50 tools/list_changed", |r| r.tools_changed >= 50)
        .await;
    heard
        .wait_for("50 resources and prompts list_changed", |r| {
            r.resources_changed >= 50 && r.prompts_changed >= 50
        })
        .await;
    assert_eq!(heard.received.lock().unwrap().tools_changed, 50);

    // The last version (index 49) is the example: then the file is deleted.
    std::fs::remove_file(dir.path().join("hello.wasm")).unwrap();
    wait_until("hello is unmounted", || serving(&app, "hello").is_none()).await;
    heard
        .wait_for("the 51st tools/list_changed", |r| r.tools_changed == 51)
        .await;
    let tools = listener.list_all_tools().await.unwrap();
    assert_eq!(tool_names(&tools), Vec::<String>::new());
    let error = mcp_error(
        call(&listener, "hello_greet", json!({"name": "Ada"}))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, rmcp::model::ErrorCode::INVALID_PARAMS);
    assert_eq!(error.message, "unknown tool `hello_greet`");
    server.shutdown().await;
}

async fn get_json(url: String) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn metric_lines(base: &str, name: &str) -> Vec<String> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with(name))
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_replacement_leaves_the_previous_version_serving() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let server = Server::start_with(watching(&dir)).await;
    let app = server.app.clone();
    let (client, _) = server.client().await;
    let good = sha256(&example("hello"));
    let file = dir.path().join("hello.wasm").display().to_string();

    let broken = [
        (
            "garbage bytes",
            b"not wasm at all".to_vec(),
            "not a WebAssembly file (no `\\0asm` header)",
        ),
        (
            "a component of another world",
            std::fs::read(fixture("wrong_world")).unwrap(),
            "not a pier plugin: ",
        ),
    ];
    for (n, (what, bytes, reason)) in broken.iter().enumerate() {
        std::fs::write(dir.path().join("hello.wasm"), bytes).unwrap();
        wait_until(&format!("{what} is refused"), || {
            app.refusals().len() == 1 && app.refusals()[0].error.reason.starts_with(reason)
        })
        .await;
        assert_still_serving(&client).await;
        assert_eq!(serving(&app, "hello").as_deref(), Some(good.as_str()));

        let (status, body) = get_json(format!("{}/ready", server.base)).await;
        assert_eq!(status, 200, "the previous version serves: still ready");
        assert_eq!(body["ready"], true);
        assert_eq!(body["mounts"], 1);
        let update = &body["refused_updates"][0];
        assert_eq!(update["file"], file.as_str());
        assert!(
            update["reason"].as_str().unwrap().starts_with(reason),
            "{update}"
        );
        assert_eq!(update["serving"], good.as_str());

        assert_eq!(
            metric_lines(&server.base, "pier_plugins_refused").await,
            ["pier_plugins_refused 1"]
        );
        assert_eq!(
            metric_lines(
                &server.base,
                "pier_plugin_changes_total{plugin=\"hello\",outcome=\"refused\"}"
            )
            .await,
            [format!(
                "pier_plugin_changes_total{{plugin=\"hello\",outcome=\"refused\"}} {}",
                n + 1
            )]
        );
    }

    // A good file again: swapped in, and the refusal is gone.
    replace_in_place(dir.path(), "hello", &fixture("hello_v2"));
    let v2 = sha256(&fixture("hello_v2"));
    wait_until("v2 is served", || {
        serving(&app, "hello").as_deref() == Some(v2.as_str())
    })
    .await;
    assert!(app.refusals().is_empty());
    let (status, body) = get_json(format!("{}/ready", server.base)).await;
    assert_eq!((status, body), (200, json!({"ready": true, "mounts": 1})));
    assert_eq!(
        metric_lines(&server.base, "pier_plugins_refused").await,
        ["pier_plugins_refused 0"]
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_written_in_two_steps_is_mounted_once_and_never_refused() {
    let dir = PluginDir::new();
    let app = App::start(&watching(&dir)).await.unwrap();
    let (client, heard) = connect(&app).await;
    let bytes = std::fs::read(example("hello")).unwrap();
    let (first, rest) = bytes.split_at(bytes.len() / 2);
    let mut file = std::fs::File::create(dir.path().join("hello.wasm")).unwrap();
    file.write_all(first).unwrap();
    file.flush().unwrap();
    // The watcher handles a file written after this one, while the writer still has
    // this one open: half a file is neither loaded nor refused.
    caught_up(&app, dir.path()).await;
    assert_eq!(serving(&app, "hello"), None, "half a file is not loaded");
    assert!(app.refusals().is_empty(), "{:?}", app.refusals());
    file.write_all(rest).unwrap();
    drop(file);

    heard
        .wait_for("tools/list_changed", |r| r.tools_changed == 1)
        .await;
    assert_still_serving(&client).await;
    assert!(app.refusals().is_empty());
    // Every event of the write is handled: then there was one load.
    caught_up(&app, dir.path()).await;
    let metrics = app.metrics().render(&app.registry().snapshot(), 0);
    let changes: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("pier_plugin_changes_total{plugin=\"hello\""))
        .collect();
    assert_eq!(
        changes,
        ["pier_plugin_changes_total{plugin=\"hello\",outcome=\"mounted\"} 1"]
    );
    assert_eq!(heard.received.lock().unwrap().tools_changed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecar_changes_are_applied_and_each_session_hears_only_what_changed() {
    let dir = PluginDir::new().with(&example("calc"), "calc");
    let app = App::start(&watching(&dir)).await.unwrap();
    let (client, heard) = connect(&app).await;

    // A new plugin with only tools: tools/list changes, prompts and resources do not.
    replace_by_rename(dir.path(), "wave", &fixture("hello_v2"));
    heard
        .wait_for("tools/list_changed", |r| r.tools_changed == 1)
        .await;
    let names = tool_names(&client.list_all_tools().await.unwrap());
    assert!(names.contains(&"wave_wave".to_string()), "{names:?}");
    {
        let r = heard.received.lock().unwrap();
        assert_eq!((r.resources_changed, r.prompts_changed), (0, 0));
    }

    // Its sidecar renames the namespace.
    std::fs::write(dir.path().join("wave.toml"), "namespace = \"hi\"\n").unwrap();
    heard
        .wait_for("a second tools/list_changed", |r| r.tools_changed == 2)
        .await;
    let names = tool_names(&client.list_all_tools().await.unwrap());
    assert!(names.contains(&"hi_wave".to_string()), "{names:?}");
    assert!(!names.contains(&"wave_wave".to_string()), "{names:?}");

    // A broken sidecar is refused; the namespace stays.
    std::fs::write(dir.path().join("wave.toml"), "namespace = 3\n").unwrap();
    wait_until("the bad sidecar is refused", || app.refusals().len() == 1).await;
    assert!(
        app.refusals()[0].error.reason.starts_with("sidecar "),
        "{:?}",
        app.refusals()
    );
    let result = call(&client, "hi_wave", json!({"name": "Ada"}))
        .await
        .unwrap();
    assert_eq!(text(&result), "*waves at Ada*");

    // `enabled = false` unmounts it.
    std::fs::write(dir.path().join("wave.toml"), "enabled = false\n").unwrap();
    heard
        .wait_for("a third tools/list_changed", |r| r.tools_changed == 3)
        .await;
    let names = tool_names(&client.list_all_tools().await.unwrap());
    assert!(!names.iter().any(|n| n.ends_with("_wave")), "{names:?}");
    assert!(app.refusals().is_empty());
    // calc was never touched.
    let sum = call(&client, "calc_add", json!({"a": 2, "b": 3}))
        .await
        .unwrap();
    assert_eq!(text(&sum), "5");
    let r = heard.received.lock().unwrap();
    assert_eq!((r.resources_changed, r.prompts_changed), (0, 0));
}

#[tokio::test]
async fn reconciling_an_unchanged_file_changes_nothing() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let app = App::start(&dir.config()).await.unwrap();
    let file = dir.path().join("hello.wasm");
    assert!(matches!(app.reconcile(&file).await, Outcome::Unchanged));
    assert!(matches!(
        app.reconcile(&dir.path().join("absent.wasm")).await,
        Outcome::Unchanged
    ));
    std::fs::remove_file(&file).unwrap();
    match app.reconcile(&file).await {
        Outcome::Unmounted { file: f, changes } => {
            assert_eq!(f, file);
            assert_eq!(changes, pier::registry::Changes::ALL);
        }
        _ => panic!("expected the plugin to be unmounted"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_written_by_two_writers_in_a_row_is_never_refused() {
    let dir = PluginDir::new();
    let app = App::start(&watching(&dir)).await.unwrap();
    let (client, heard) = connect(&app).await;
    let bytes = std::fs::read(example("hello")).unwrap();
    let (first, rest) = bytes.split_at(bytes.len() / 2);
    let path = dir.path().join("hello.wasm");
    // The first half is closed, settles past the debounce and is read (and fails)...
    std::fs::write(&path, first).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    // ...then the rest is appended, within a second: no refusal is ever recorded.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(rest).unwrap();
    drop(file);
    heard
        .wait_for("tools/list_changed", |r| r.tools_changed == 1)
        .await;
    assert_still_serving(&client).await;
    let metrics = app.metrics().render(&app.registry().snapshot(), 0);
    let changes: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("pier_plugin_changes_total"))
        .collect();
    assert_eq!(
        changes,
        ["pier_plugin_changes_total{plugin=\"hello\",outcome=\"mounted\"} 1"]
    );
}

#[tokio::test]
async fn a_manifest_that_once_panicked_the_loader_is_refused_and_watching_goes_on() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let app = App::start(&watching(&dir)).await.unwrap();
    // Annotations MCP's types cannot hold (`"readOnlyHint": "yes"`): this panicked the
    // watcher's task, and hot reload stopped.
    replace_by_rename(dir.path(), "sloppy", &fixture("bad-annotations"));
    wait_until("the bad file is refused", || {
        app.refused()
            .iter()
            .any(|e| e.reason.contains("do not fit MCP's ToolAnnotations"))
    })
    .await;
    // The watcher still follows the directory.
    replace_by_rename(dir.path(), "calc", &example("calc"));
    wait_until("calc is mounted", || serving(&app, "calc").is_some()).await;
    assert!(serving(&app, "hello").is_some());
}
