//! pier as a child process over stdio, driven by the rmcp client; and the AOT cache
//! across two starts.

mod common;

use std::process::Stdio;

use common::*;
use rmcp::ServiceExt;
use rmcp::transport::TokioChildProcess;
use serde_json::json;

fn pier_command(dir: &PluginDir, data_dir: &std::path::Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pier"));
    cmd.args(["serve", "--transport", "stdio", "--plugins"])
        .arg(dir.path())
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--storage", "memory"]);
    cmd
}

#[tokio::test]
async fn a_child_pier_serves_every_method_over_stdio() {
    let dir = PluginDir::examples();
    let (transport, _stderr) = TokioChildProcess::builder(pier_command(&dir, &shared_data_dir()))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let recorder = Recorder::default();
    let client = recorder
        .clone()
        .serve(transport)
        .await
        .expect("initialize over stdio");
    assert_eq!(
        client
            .peer()
            .peer_info()
            .unwrap()
            .server_info
            .as_ref()
            .unwrap()
            .name,
        "pier"
    );

    let tools = client.peer().list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 4);
    assert_still_serving(&client).await;

    let result = call(&client, "calc_add", json!({"a": 1, "b": 2}))
        .await
        .unwrap();
    assert_eq!(result.structured_content, Some(json!({"result": 3.0})));

    let result = call(&client, "calc_countdown", json!({"from": 1}))
        .await
        .unwrap();
    assert_eq!(text(&result), "counted down from 1");
    recorder
        .wait_for("two log messages", |r| r.logs.len() == 2)
        .await;
    assert_eq!(recorder.log_texts(), ["countdown: 1", "countdown: 0"]);

    let readme = client
        .peer()
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "hello://hello/greeting/Bo",
        ))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(readme).unwrap()["contents"][0]["text"],
        "Hello, Bo!"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn guest_output_goes_to_the_log_and_never_to_stdout() {
    let dir = PluginDir::new().with(&fixture("hostile"), "hostile");
    let (transport, stderr) = TokioChildProcess::builder(pier_command(&dir, &shared_data_dir()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = stderr.expect("piped stderr");
    let log = tokio::spawn(async move {
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text)
            .await
            .unwrap();
        text
    });
    // The client parses every stdout line as JSON-RPC: stray guest output would break it.
    let client = Recorder::default().serve(transport).await.unwrap();
    let result = call(&client, "hostile_print", json!({})).await.unwrap();
    assert_eq!(text(&result), "printed");
    assert_eq!(
        text(&call(&client, "hostile_print", json!({})).await.unwrap()),
        "printed"
    );
    client.cancel().await.unwrap();
    let log = log.await.unwrap();
    for stream in ["stdout", "stderr"] {
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(&format!("a line on {stream}")))
            .collect();
        assert_eq!(lines.len(), 2, "{log}");
        assert!(
            lines.iter().all(
                |l| l.contains("plugin=hostile") && l.contains(&format!("stream=\"{stream}\""))
            ),
            "{lines:?}"
        );
    }
}

/// The `aot_cache=` field of the `mounted` log line of `plugin`.
fn cache_outcome(stderr: &str, plugin: &str) -> String {
    let line = stderr
        .lines()
        .find(|l| {
            l.contains("mounted") && l.contains(&format!("plugin=\"{plugin}\""))
                || l.contains("mounted") && l.contains(&format!("plugin={plugin} "))
        })
        .unwrap_or_else(|| panic!("no mounted line for {plugin} in:\n{stderr}"));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("aot_cache="))
        .unwrap_or_else(|| panic!("no aot_cache field in {line}"))
        .to_string()
}

#[tokio::test]
async fn the_second_start_loads_compiled_code_from_the_aot_cache() {
    let dir = PluginDir::examples();
    let data = tempfile::tempdir().unwrap();
    let run = || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_pier"))
            .args(["serve", "--transport", "stdio", "--plugins"])
            .arg(dir.path())
            .arg("--data-dir")
            .arg(data.path())
            .args(["--storage", "memory"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stderr).unwrap()
    };
    let first = run();
    assert_eq!(cache_outcome(&first, "hello"), "Miss");
    assert_eq!(cache_outcome(&first, "calc"), "Miss");
    let artifacts = |dir: &std::path::Path| {
        let mut v: Vec<(std::path::PathBuf, std::time::SystemTime)> =
            std::fs::read_dir(dir.join("aot"))
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (e.path(), e.metadata().unwrap().modified().unwrap())
                })
                .collect();
        v.sort();
        v
    };
    let before = artifacts(data.path());
    assert_eq!(before.len(), 2, "one artifact per plugin: {before:?}");
    assert!(
        before
            .iter()
            .all(|(p, _)| p.extension().is_some_and(|e| e == "cwasm"))
    );

    let second = run();
    assert_eq!(cache_outcome(&second, "hello"), "Hit");
    assert_eq!(cache_outcome(&second, "calc"), "Hit");
    assert_eq!(
        artifacts(data.path()),
        before,
        "nothing was recompiled or rewritten"
    );
}
