//! Composition: other MCP servers mounted beside plugins under namespaces — a pier over
//! streamable HTTP and a pier started as a child process over stdio — with forwarding,
//! progress and log relay, list_changed propagation, and the static import mode.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use pier::registry::proxy::Remote;
use pier::registry::spec::{Mode, MountSpec, Target};
use pier::transport::http::HttpOptions;
use pier::{App, ServeConfig};
use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams, ResourceContents};
use serde_json::json;

fn http_mount(namespace: &str, url: &str, mode: Mode) -> MountSpec {
    MountSpec {
        namespace: namespace.into(),
        target: Target::Remote(Remote::Http {
            url: url.into(),
            token: None,
        }),
        mode,
        middleware: Vec::new(),
    }
}

/// A pier serving `dir` over HTTP on a free port, following the directory.
async fn upstream(dir: &PluginDir) -> Server {
    let mut config = ServeConfig {
        debounce: Duration::from_millis(50),
        ..dir.watched_config()
    };
    config.http = HttpOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..config.http
    };
    let app = Arc::new(App::start(&config).await.unwrap());
    Server::serve(app, &config).await
}

fn names<T>(items: &[T], name: impl Fn(&T) -> String) -> Vec<String> {
    items.iter().map(name).collect()
}

fn text_of(contents: &ResourceContents) -> (&str, &str) {
    match contents {
        ResourceContents::TextResourceContents { uri, text, .. } => (uri, text),
        other => panic!("expected text contents, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_over_http_and_stdio_are_served_under_their_namespaces() {
    let remote_dir = PluginDir::new().with(&example("hello"), "hello");
    let remote = upstream(&remote_dir).await;
    let stdio_dir = PluginDir::new().with(&example("calc"), "calc");
    let local = MountSpec {
        namespace: "local".into(),
        target: Target::Remote(Remote::Command {
            command: env!("CARGO_BIN_EXE_pier").into(),
            args: vec![
                "serve".into(),
                "--transport".into(),
                "stdio".into(),
                "--plugins".into(),
                stdio_dir.path().display().to_string(),
                "--data-dir".into(),
                shared_data_dir().display().to_string(),
                "--storage".into(),
                "memory".into(),
                "--log-level".into(),
                "warn".into(),
            ],
            env: Default::default(),
        }),
        mode: Mode::Mount,
        middleware: Vec::new(),
    };
    let front_dir = PluginDir::new();
    let config = ServeConfig {
        mounts: vec![
            http_mount("web", &remote.url, Mode::Mount),
            local,
            http_mount("snap", &remote.url, Mode::Import),
        ],
        ..front_dir.config()
    };
    let app = App::start(&config).await.unwrap();
    assert!(app.refused().is_empty(), "{:?}", app.refused());
    let (client, heard) = connect(&app).await;

    // Names: tools and prompts `{ns}_{name}`, URIs `{scheme}://{ns}/{path}`, on top of
    // the upstream pier's own namespacing.
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(
        names(&tools, |t| t.name.to_string()),
        [
            "web_hello_greet",
            "local_calc_add",
            "local_calc_divide",
            "local_calc_countdown",
            "snap_hello_greet"
        ]
    );
    let resources = client.list_all_resources().await.unwrap();
    assert_eq!(
        names(&resources, |r| r.uri.clone()),
        ["hello://web/hello/readme", "hello://snap/hello/readme"]
    );
    let templates = client.list_all_resource_templates().await.unwrap();
    assert_eq!(
        names(&templates, |t| t.uri_template.clone()),
        [
            "hello://web/hello/greeting/{name}",
            "hello://snap/hello/greeting/{name}"
        ]
    );
    let prompts = client.list_all_prompts().await.unwrap();
    assert_eq!(
        names(&prompts, |p| p.name.clone()),
        ["web_hello_introduce", "snap_hello_introduce"]
    );

    // Forwarding.
    let greeting = call(&client, "web_hello_greet", json!({"name": "Ada"}))
        .await
        .unwrap();
    assert_eq!(text(&greeting), "Hello, Ada!");
    let sum = call(&client, "local_calc_add", json!({"a": 2, "b": 3}))
        .await
        .unwrap();
    assert_eq!(text(&sum), "5");
    let divided = call(&client, "local_calc_divide", json!({"a": 1, "b": 0}))
        .await
        .unwrap();
    assert_eq!(divided.is_error, Some(true));
    assert_eq!(text(&divided), "division by zero");
    let error = mcp_error(
        call(&client, "web_hello_greet", json!({"name": 3}))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, rmcp::model::ErrorCode::INVALID_PARAMS);
    assert!(
        error
            .message
            .starts_with("invalid arguments for tool `web_hello_greet`"),
        "{}",
        error.message
    );
    let read = client
        .read_resource(ReadResourceRequestParams::new(
            "hello://web/hello/greeting/Ada",
        ))
        .await
        .unwrap();
    assert_eq!(
        text_of(&read.contents[0]),
        ("hello://web/hello/greeting/Ada", "Hello, Ada!")
    );
    let prompt = client
        .get_prompt(
            GetPromptRequestParams::new("web_hello_introduce")
                .with_arguments(json!({"name": "Ada"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&prompt.messages[0].content).unwrap(),
        json!({"type": "text", "text": "Please introduce yourself to Ada."})
    );

    // Progress and logs of the stdio server reach the calling client.
    let counted = call(&client, "local_calc_countdown", json!({"from": 2}))
        .await
        .unwrap();
    assert_eq!(text(&counted), "counted down from 2");
    // The rmcp client handles each notification in a task of its own, so pier may relay
    // the upstream progress out of order; one that arrives after a higher value is
    // dropped (progress must increase). The last one always arrives.
    heard
        .wait_for("the last progress notification", |r| {
            r.progress.iter().any(|p| p.progress == 2.0)
        })
        .await;
    {
        let r = heard.received.lock().unwrap();
        let mut progress: Vec<(u64, Option<f64>, Option<String>)> = r
            .progress
            .iter()
            .map(|p| (p.progress as u64, p.total, p.message.clone()))
            .collect();
        progress.sort_by_key(|p| p.0);
        let expected = [
            (0, Some(2.0), Some("2 left".to_string())),
            (1, Some(2.0), Some("1 left".to_string())),
            (2, Some(2.0), Some("0 left".to_string())),
        ];
        assert!(
            progress.iter().all(|p| expected.contains(p)) && progress.ends_with(&expected[2..]),
            "{progress:?}"
        );
        progress.dedup();
        assert_eq!(progress.len(), r.progress.len(), "no duplicates");
    }
    heard
        .wait_for("three log messages", |r| r.logs.len() == 3)
        .await;
    let mut logs = heard.log_texts();
    logs.sort();
    assert_eq!(logs, ["countdown: 0", "countdown: 1", "countdown: 2"]);

    // A plugin added upstream appears under `web` (live), not under `snap` (imported).
    replace_by_copy(&fixture("hello_v2"), &remote_dir.path().join("wave.wasm"));
    heard
        .wait_for("tools/list_changed", |r| r.tools_changed >= 1)
        .await;
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(
        names(&tools, |t| t.name.to_string()),
        [
            "web_hello_greet",
            "web_wave_greet",
            "web_wave_wave",
            "local_calc_add",
            "local_calc_divide",
            "local_calc_countdown",
            "snap_hello_greet"
        ]
    );
    let waved = call(&client, "web_wave_wave", json!({"name": "Ada"}))
        .await
        .unwrap();
    assert_eq!(text(&waved), "*waves at Ada*");
    remote.shutdown().await;
}

fn replace_by_copy(source: &std::path::Path, target: &std::path::Path) {
    let temporary = target.with_extension("part");
    std::fs::copy(source, &temporary).unwrap();
    std::fs::rename(&temporary, target).unwrap();
}

#[tokio::test]
async fn a_server_that_cannot_be_reached_is_refused_and_the_rest_serves() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let config = ServeConfig {
        mounts: vec![http_mount("gone", "http://127.0.0.1:9/mcp", Mode::Mount)],
        ..dir.config()
    };
    let app = App::start(&config).await.unwrap();
    let refusals = app.refusals();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].mount.as_deref(), Some("gone"));
    assert!(
        refusals[0].error.reason.starts_with("cannot connect: "),
        "{}",
        refusals[0].error.reason
    );
    let (client, _) = connect(&app).await;
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn a_command_mount_gets_path_home_and_its_own_env_not_piers() {
    let python = root().join(".venv/bin/python");
    assert!(python.exists(), "run `make setup` (or `make test`)");
    let spec = MountSpec {
        namespace: "env".into(),
        target: Target::Remote(Remote::Command {
            command: python.display().to_string(),
            args: vec![
                root()
                    .join("tests/clients/env_server.py")
                    .display()
                    .to_string(),
            ],
            env: [("GIVEN_TO_IT".to_string(), "yes".to_string())].into(),
        }),
        mode: Mode::Mount,
        middleware: Vec::new(),
    };
    let dir = PluginDir::new();
    let config = ServeConfig {
        mounts: vec![spec],
        ..dir.config()
    };
    // This test process has many variables (CARGO_*, and whatever secrets a real
    // operator's pier would have): none of them reaches the child.
    assert!(std::env::vars().any(|(k, _)| k.starts_with("CARGO")));
    let app = App::start(&config).await.unwrap();
    assert!(app.refused().is_empty(), "{:?}", app.refused());
    let (client, _) = connect(&app).await;
    let result = call(&client, "env_names", json!({})).await.unwrap();
    let names: Vec<String> = text(&result)
        .split(',')
        .map(String::from)
        // Python itself sets LC_CTYPE when no locale is configured (PEP 538).
        .filter(|n| n != "LC_CTYPE")
        .collect();
    assert_eq!(names, ["GIVEN_TO_IT", "HOME", "PATH"]);
}
