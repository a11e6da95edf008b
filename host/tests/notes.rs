//! Storage through the whole server: the `notes` example plugin over MCP, plugins
//! isolated from each other's keys, a note surviving `kill -9` (sled), calls failing
//! cleanly while Redis is down, and `pier storage` on the data a server left.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use rmcp::model::*;
use serde_json::json;

fn notes_dir() -> PluginDir {
    PluginDir::new()
        .with(&example("notes"), "notes")
        .with(&example("hello"), "hello")
}

async fn tool_text(client: &Client, tool: &str, args: serde_json::Value) -> (String, bool) {
    let result = call(client, tool, args).await.unwrap();
    (text(&result), result.is_error == Some(true))
}

async fn read(client: &Client, uri: &str) -> Result<String, rmcp::ServiceError> {
    let result = client
        .peer()
        .read_resource(ReadResourceRequestParams::new(uri))
        .await?;
    let contents = serde_json::to_value(&result.contents).unwrap();
    Ok(contents[0]["text"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn notes_are_added_read_listed_and_deleted() {
    let (_app, client, _) = start(&notes_dir()).await;
    let tools = client.peer().list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "hello_greet",
            "notes_add",
            "notes_delete",
            "notes_get",
            "notes_list"
        ]
    );
    assert_eq!(
        tool_text(&client, "notes_list", json!({})).await,
        ("No notes yet.".into(), false)
    );
    let add = |title: &str, body: &str| json!({ "title": title, "body": body });
    assert_eq!(
        tool_text(&client, "notes_add", add("groceries", "milk")).await,
        ("Saved the note `groceries`.".into(), false)
    );
    assert_eq!(
        tool_text(&client, "notes_add", add("groceries", "milk, eggs")).await,
        ("Replaced the note `groceries`.".into(), false)
    );
    assert_eq!(
        tool_text(&client, "notes_add", add("zebra facts", "stripes")).await,
        ("Saved the note `zebra facts`.".into(), false)
    );
    assert_eq!(
        tool_text(&client, "notes_list", json!({})).await,
        ("groceries\nzebra facts".into(), false)
    );
    assert_eq!(
        tool_text(&client, "notes_get", json!({"title": "groceries"})).await,
        ("milk, eggs".into(), false)
    );
    assert_eq!(
        tool_text(&client, "notes_get", json!({"title": "nope"})).await,
        ("there is no note titled `nope`".into(), true)
    );
    assert_eq!(
        tool_text(&client, "notes_add", add("  ", "x")).await,
        ("the title is empty".into(), true)
    );

    // The template, namespaced, reads the same notes.
    let templates = client.peer().list_all_resource_templates().await.unwrap();
    let uris: Vec<&str> = templates.iter().map(|t| t.uri_template.as_str()).collect();
    assert_eq!(
        uris,
        ["hello://hello/greeting/{name}", "notes://notes/{title}"]
    );
    assert_eq!(
        read(&client, "notes://notes/groceries").await.unwrap(),
        "milk, eggs"
    );
    assert_eq!(
        read(&client, "notes://notes/zebra%20facts").await.unwrap(),
        "stripes"
    );
    let err = mcp_error(read(&client, "notes://notes/nope").await.unwrap_err());
    assert_eq!(
        (err.code, err.message.as_ref()),
        (
            ErrorCode::RESOURCE_NOT_FOUND,
            "there is no note titled `nope`"
        )
    );
    let titles = client
        .peer()
        .complete_resource_argument("notes://notes/{title}", "title", "g", None)
        .await
        .unwrap();
    assert_eq!(titles.values, ["groceries"]);

    assert_eq!(
        tool_text(&client, "notes_delete", json!({"title": "groceries"})).await,
        ("Deleted the note `groceries`.".into(), false)
    );
    assert_eq!(
        tool_text(&client, "notes_delete", json!({"title": "groceries"})).await,
        ("there is no note titled `groceries`".into(), true)
    );
    assert_eq!(
        tool_text(&client, "notes_list", json!({})).await,
        ("zebra facts".into(), false)
    );
}

#[tokio::test]
async fn a_plugin_never_sees_another_plugins_keys() {
    let dir = PluginDir::new()
        .with(&fixture("probe"), "probe")
        .with(&fixture("probe"), "other");
    let (app, client, _) = start(&dir).await;
    let put = |key: &str, value: &str| json!({ "key": key, "value": value });
    assert_eq!(
        tool_text(&client, "probe_put", put("k", "secret")).await,
        ("stored".into(), false)
    );
    assert_eq!(
        tool_text(&client, "other_fetch", json!({"key": "k"})).await,
        ("absent".into(), false)
    );
    assert_eq!(
        tool_text(&client, "other_keys", json!({"prefix": ""})).await,
        ("".into(), false)
    );
    for key in ["../probe/k", "/../probe/k", "plugin/probe/k"] {
        assert_eq!(
            tool_text(&client, "other_fetch", json!({"key": key})).await,
            ("absent".into(), false),
            "{key}"
        );
        assert_eq!(
            tool_text(&client, "other_put", put(key, "evil")).await,
            ("stored".into(), false)
        );
    }
    assert_eq!(
        tool_text(&client, "probe_fetch", json!({"key": "k"})).await,
        ("secret".into(), false)
    );
    assert_eq!(
        tool_text(&client, "probe_keys", json!({"prefix": ""})).await,
        ("k".into(), false)
    );
    assert_eq!(
        tool_text(&client, "other_keys", json!({"prefix": ""})).await,
        ("../probe/k,/../probe/k,plugin/probe/k".into(), false)
    );
    for (key, reason) in [
        ("a\u{0}k", "the key contains the control character U+0000"),
        (
            &*"k".repeat(600),
            "the key is 600 bytes long; keys may have at most 512",
        ),
    ] {
        assert_eq!(
            tool_text(&client, "other_put", put(key, "x")).await,
            (format!("storage: {reason}"), true)
        );
    }
    // What each plugin holds, in the store itself.
    let store = app.store();
    assert_eq!(
        store.list("plugin/", None, 10).await.unwrap().keys,
        [
            "plugin/other/../probe/k",
            "plugin/other//../probe/k",
            "plugin/other/plugin/probe/k",
            "plugin/probe/k"
        ]
    );
}

#[tokio::test]
async fn two_mounts_of_one_file_keep_their_data_apart() {
    // The directory's `probe.wasm` and a `[[mount]]` of the very same file under
    // another namespace: storage follows the namespace, not the file name.
    let dir = PluginDir::new().with(&fixture("probe"), "probe");
    let config = pier::ServeConfig {
        mounts: vec![pier::registry::spec::MountSpec {
            namespace: "second".into(),
            target: pier::registry::spec::Target::Path(dir.path().join("probe.wasm")),
            mode: pier::registry::spec::Mode::Mount,
            middleware: Vec::new(),
            storage: None,
            tools: Vec::new(),
        }],
        ..dir.config()
    };
    let app = pier::App::start(&config).await.unwrap();
    let (client, _) = connect(&app).await;
    let put = |value: &str| json!({ "key": "k", "value": value });
    assert_eq!(
        tool_text(&client, "probe_put", put("one")).await,
        ("stored".into(), false)
    );
    assert_eq!(
        tool_text(&client, "second_fetch", json!({"key": "k"})).await,
        ("absent".into(), false)
    );
    assert_eq!(
        tool_text(&client, "second_put", put("two")).await,
        ("stored".into(), false)
    );
    assert_eq!(
        tool_text(&client, "probe_fetch", json!({"key": "k"})).await,
        ("one".into(), false)
    );
    assert_eq!(
        app.store().list("plugin/", None, 10).await.unwrap().keys,
        ["plugin/probe/k", "plugin/second/k"]
    );
}

#[tokio::test]
async fn sidecar_quotas_limit_a_plugin_and_errors_name_the_limit() {
    let dir = PluginDir::new()
        .with(&fixture("probe"), "probe")
        .with_sidecar(
            "probe",
            "[limits]\nstorage-keys = 2\nstorage-value-bytes = 8\n",
        );
    let (_app, client, _) = start(&dir).await;
    let put = |key: &str, value: &str| json!({ "key": key, "value": value });
    assert_eq!(
        tool_text(&client, "probe_put", put("a", "12345678")).await,
        ("stored".into(), false)
    );
    assert_eq!(
        tool_text(&client, "probe_put", put("a", "123456789")).await,
        (
            "storage: a value of 9 bytes is over plugin `probe`'s limit of 8 bytes per value"
                .into(),
            true
        )
    );
    assert_eq!(
        tool_text(&client, "probe_put", put("b", "x")).await,
        ("stored".into(), false)
    );
    assert_eq!(
        tool_text(&client, "probe_put", put("c", "x")).await,
        (
            "storage: plugin `probe` holds 2 keys, its limit; delete some before adding more"
                .into(),
            true
        )
    );
    assert_eq!(
        tool_text(&client, "probe_keys", json!({"prefix": ""})).await,
        ("a,b".into(), false)
    );
}

fn pier_storage(data: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_pier"))
        .arg("storage")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn a_note_survives_kill_9_and_pier_storage_reads_and_repairs_it() {
    let dir = notes_dir();
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("pier.toml");
    std::fs::write(&config, "[admin]\ntoken = \"t0ken\"\n").unwrap();
    let args = [
        "--plugins",
        dir.path().to_str().unwrap(),
        "--data-dir",
        data.path().to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ];
    let mut pier = ChildPier::serve(&args).await;
    let client = pier.client().await;
    assert_eq!(
        tool_text(
            &client,
            "notes_add",
            json!({"title": "plan", "body": "survive"})
        )
        .await,
        ("Saved the note `plan`.".into(), false)
    );
    // The store is the running server's alone.
    let store = data.path().join("store");
    assert_eq!(
        pier_storage(data.path(), &["list", "--plugin", "notes"]),
        (
            2,
            String::new(),
            format!(
                "pier: sled storage is unavailable: {} is in use by another process (a running pier?); go through its admin API instead: --server http://HOST:PORT\n",
                store.display()
            )
        )
    );
    // …but its admin API serves it.
    let server = pier.url.trim_end_matches("/mcp").to_string();
    let via = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--server", &server, "--token", "t0ken"]);
        pier_storage(data.path(), &all)
    };
    assert_eq!(
        tool_text(
            &client,
            "notes_add",
            json!({"title": "scratch", "body": "x"})
        )
        .await,
        ("Saved the note `scratch`.".into(), false)
    );
    assert_eq!(
        via(&["list", "--plugin", "notes"]),
        (0, "note/plan\nnote/scratch\n".into(), String::new())
    );
    assert_eq!(
        via(&["delete", "--plugin", "notes", "note/scratch"]),
        (
            0,
            String::new(),
            "pier: deleted `note/scratch` of plugin `notes`\n".into()
        )
    );
    assert_eq!(
        via(&["list", "--plugin", "notes"]),
        (0, "note/plan\n".into(), String::new())
    );
    assert_eq!(
        via(&["get", "--plugin", "notes", "note/plan"]),
        (
            0,
            r#"{"title":"plan","body":"survive"}"#.into(),
            String::new()
        )
    );
    assert_eq!(
        via(&["get", "--plugin", "notes", "note/a b/c"]),
        (
            1,
            String::new(),
            "pier: plugin `notes` has no key `note/a b/c`\n".into()
        )
    );
    assert_eq!(
        via(&["delete", "--plugin", "other", "note/plan"]),
        (
            1,
            String::new(),
            "pier: plugin `other` has no key `note/plan`\n".into()
        )
    );
    assert_eq!(
        pier_storage(
            data.path(),
            &[
                "list", "--plugin", "notes", "--server", &server, "--token", "nope"
            ]
        ),
        (
            2,
            String::new(),
            "pier: wrong admin token (HTTP 403)\n".into()
        )
    );
    let status = pier.signal("-KILL");
    assert_eq!(status.code(), None, "killed by a signal: {status}");
    drop(client);

    let pier = ChildPier::serve(&args).await;
    let client = pier.client().await;
    assert_eq!(
        tool_text(&client, "notes_get", json!({"title": "plan"})).await,
        ("survive".into(), false)
    );
    drop(client);
    drop(pier);

    // Operators read and repair the data of a stopped server.
    assert_eq!(
        pier_storage(data.path(), &["list", "--plugin", "notes"]),
        (0, "note/plan\n".into(), String::new())
    );
    assert_eq!(
        pier_storage(data.path(), &["list", "--plugin", "notes", "other/"]),
        (0, String::new(), String::new())
    );
    assert_eq!(
        pier_storage(data.path(), &["get", "--plugin", "notes", "note/plan"]),
        (
            0,
            r#"{"title":"plan","body":"survive"}"#.into(),
            String::new()
        )
    );
    assert_eq!(
        pier_storage(data.path(), &["get", "--plugin", "hello", "note/plan"]),
        (
            1,
            String::new(),
            format!(
                "pier: plugin `hello` has no key `note/plan` in sled at {}\n",
                store.display()
            )
        )
    );
    assert_eq!(
        pier_storage(data.path(), &["delete", "--plugin", "notes", "note/plan"]),
        (
            0,
            String::new(),
            "pier: deleted `note/plan` of plugin `notes`\n".into()
        )
    );
    assert_eq!(
        pier_storage(data.path(), &["list", "--plugin", "notes"]),
        (0, String::new(), String::new())
    );
}

#[tokio::test]
async fn calls_fail_cleanly_while_redis_is_down_and_succeed_after() {
    let mut redis = RedisServer::start();
    let dir = notes_dir();
    let url = redis.url();
    let pier = ChildPier::serve(&[
        "--plugins",
        dir.path().to_str().unwrap(),
        "--data-dir",
        shared_data_dir().to_str().unwrap(),
        "--storage-url",
        &url,
    ])
    .await;
    let client = pier.client().await;
    let add = json!({"title": "t", "body": "before"});
    assert_eq!(
        tool_text(&client, "notes_add", add).await,
        ("Saved the note `t`.".into(), false)
    );

    redis.stop();
    let (message, is_error) = tool_text(&client, "notes_get", json!({"title": "t"})).await;
    assert!(is_error, "{message}");
    assert!(
        message.starts_with("storage: redis storage is unavailable: "),
        "{message}"
    );
    assert_still_serving(&client).await;

    redis.restart();
    // Redis kept nothing (no persistence in the test): write again once it answers.
    let add = json!({"title": "t", "body": "after"});
    let mut last = None;
    for _ in 0..50 {
        let outcome = tool_text(&client, "notes_add", add.clone()).await;
        if !outcome.1 {
            last = Some(outcome);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last, Some(("Saved the note `t`.".into(), false)));
    assert_eq!(
        tool_text(&client, "notes_get", json!({"title": "t"})).await,
        ("after".into(), false)
    );
}
