//! Grants beyond HTTP: preopened directories, configuration values and secrets, and
//! what `pier inspect` and the admin API show of grants (never a secret).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_directories_are_seen_read_only_or_read_write_and_nothing_else() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "not yours").unwrap();
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("outbound"), "outbound")
        .with_sidecar(
            "outbound",
            "[[grants.files]]\npath = \"data\"\nguest = \"/data\"\nmode = \"ro\"\n\
             [[grants.files]]\npath = \"work\"\nguest = \"/work\"\nmode = \"rw\"\n\
             [[grants.files]]\npath = \"elsewhere\"\nguest = \"/elsewhere\"\n",
        );
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(dir.path().join("work")).unwrap();
    std::fs::write(data.join("hello.txt"), "hello from the host").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), data.join("escape")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("elsewhere")).unwrap();
    let mut config: ServeConfig = dir.config();
    config.grants.files = vec![dir.path().to_path_buf()];
    let app = App::start(&config).await.expect("pier starts");
    let (client, _) = connect(&app).await;
    let tool = |name: &'static str, args: serde_json::Value| {
        let client = &client;
        async move {
            let result = call(client, name, args).await.unwrap();
            (text_of(&result), result.is_error == Some(true))
        }
    };
    assert_eq!(
        tool("outbound_read_file", json!({"path": "/data/hello.txt"})).await,
        ("hello from the host".into(), false)
    );
    assert_eq!(
        tool("outbound_list_dir", json!({"path": "/data"})).await,
        ("escape,hello.txt".into(), false)
    );
    // Read-only: no new file, no change.
    let (_, failed) = tool(
        "outbound_write_file",
        json!({"path": "/data/new.txt", "text": "x"}),
    )
    .await;
    assert!(failed);
    assert!(!data.join("new.txt").exists());
    let (_, failed) = tool(
        "outbound_write_file",
        json!({"path": "/data/hello.txt", "text": "x"}),
    )
    .await;
    assert!(failed);
    assert_eq!(
        std::fs::read_to_string(data.join("hello.txt")).unwrap(),
        "hello from the host"
    );
    // Read-write.
    assert_eq!(
        tool(
            "outbound_write_file",
            json!({"path": "/work/out.txt", "text": "made by the plugin"})
        )
        .await,
        ("written".into(), false)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("work/out.txt")).unwrap(),
        "made by the plugin"
    );
    // Nothing leaves a preopened directory, and nothing else exists.
    for path in [
        "/data/../outbound.toml",
        "/data/escape",
        "/work/../data/hello.txt",
        "/etc/passwd",
        "/elsewhere/secret.txt",
    ] {
        let (text, failed) = tool("outbound_read_file", json!({"path": path})).await;
        assert!(failed, "{path}: {text}");
        assert!(
            !text.contains("not yours") && !text.contains("[grants]"),
            "{path}: {text}"
        );
    }
    // The symlinked directory outside the operator's list was left out: no `/elsewhere`.
    let (_, failed) = tool("outbound_list_dir", json!({"path": "/elsewhere"})).await;
    assert!(failed);
    assert_still_serving(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_put_in_place_of_a_granted_directory_does_not_move_the_grant() {
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("outbound"), "outbound")
        .with_sidecar(
            "outbound",
            "[[grants.files]]\npath = \"shared/data\"\nguest = \"/data\"\nmode = \"ro\"\n",
        );
    let shared = dir.path().join("shared");
    let data = shared.join("data");
    let secret = dir.path().join("secret");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::write(data.join("hello.txt"), "granted").unwrap();
    std::fs::write(secret.join("hello.txt"), "not yours").unwrap();
    let mut config: ServeConfig = dir.config();
    config.grants.files = vec![dir.path().to_path_buf()];
    let app = App::start(&config).await.expect("pier starts");
    let (client, _) = connect(&app).await;
    let read = || async {
        let result = call(
            &client,
            "outbound_read_file",
            json!({"path": "/data/hello.txt"}),
        )
        .await
        .unwrap();
        (text_of(&result), result.is_error == Some(true))
    };
    assert_eq!(read().await, ("granted".into(), false));
    // What a plugin with `rw` on `shared` could do between two calls of this one.
    std::fs::rename(&data, shared.join("old")).unwrap();
    std::os::unix::fs::symlink(&secret, &data).unwrap();
    let (text, _) = read().await;
    assert_eq!(text, "granted", "the grant is the directory, not the path");
    assert_still_serving(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecar_values_and_operator_secrets_reach_the_plugin() {
    let secrets = tempfile::tempdir().unwrap();
    let token = secrets.path().join("token");
    std::fs::write(&token, "s3cret-value-42\n").unwrap();
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("outbound"), "outbound")
        .with_sidecar(
            "outbound",
            "[config]\nbase = \"https://api.example.com\"\ntoken = \"overridden\"\n",
        );
    let mut config: ServeConfig = dir.config();
    let mut layers = pier::config::Layers::default();
    layers
        .apply_file(
            std::path::Path::new("pier.toml"),
            &format!(
                "[secrets.outbound]\ntoken = {{ file = \"{}\" }}\nmissing = {{ env = \"PIER_TEST_NO_SUCH_VARIABLE\" }}\n",
                token.display()
            ),
        )
        .unwrap();
    config.grants.secrets = layers.build().unwrap().grants.secrets;
    let app = App::start(&config).await.expect("pier starts");
    let (client, _) = connect(&app).await;
    for (key, value) in [
        ("base", "https://api.example.com"),
        ("token", "s3cret-value-42"),
        ("missing", "unset"),
    ] {
        let result = call(&client, "outbound_config", json!({"key": key}))
            .await
            .unwrap();
        assert_eq!(text_of(&result), value, "{key}");
    }
    let result = call(&client, "outbound_config_required", json!({"key": "nope"}))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        text_of(&result),
        "configuration `nope` is not set (the plugin's sidecar [config], or the operator's [secrets])"
    );
    assert_still_serving(&client).await;
}

/// Runs the built `pier` with `args`; its exit status and its stdout and stderr.
fn pier_cli(args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_are_shown_requested_and_effective_and_secrets_never() {
    const SECRET: &str = "s3cret-never-shown-7781";
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("outbound"), "outbound")
        .with_sidecar(
            "outbound",
            "[grants]\nhttp = [\"https://*\", \"https://api.example.com\"]\n[config]\nregion = \"eu\"\n",
        );
    let work = tempfile::tempdir().unwrap();
    let token = work.path().join("token");
    std::fs::write(&token, SECRET).unwrap();
    let toml = work.path().join("pier.toml");
    std::fs::write(
        &toml,
        format!(
            "[grants]\nhttp = [\"https://*.example.com\"]\n[secrets.outbound]\ntoken = {{ file = \"{}\" }}\n\
             [admin]\ntoken = \"admin-token\"\n[data]\ndir = \"{}\"\n",
            token.display(),
            shared_data_dir().display()
        ),
    )
    .unwrap();
    let plugin = dir.path().join("outbound.wasm");
    let (ok, json_out, err) = pier_cli(&[
        "inspect",
        "--json",
        "--config",
        toml.to_str().unwrap(),
        plugin.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let described: serde_json::Value = serde_json::from_str(&json_out).unwrap();
    let grants = &described["plugins"][0]["grants"];
    assert_eq!(
        grants,
        &json!({
            "http": {
                "requested": ["https://*", "https://api.example.com"],
                "effective": ["https://*.example.com", "https://api.example.com"],
                "lowered": ["https://*"],
                "private_networks": false,
            },
            "files": [],
            "config": [{"key": "region", "secret": false}, {"key": "token", "secret": true}],
        }),
        "{json_out}"
    );
    assert!(err.contains("plugin `outbound` asks for [grants] http [https://*, https://api.example.com]; the operator's [grants] leave it [https://*.example.com, https://api.example.com]"), "{err}");
    let (ok, text, _) = pier_cli(&[
        "inspect",
        "--config",
        toml.to_str().unwrap(),
        plugin.to_str().unwrap(),
    ]);
    assert!(ok);
    assert!(
        text.contains("  grants\n    http https://* (lowered by the operator)\n    http https://api.example.com\n    in effect: [https://*.example.com, https://api.example.com]\n    config region\n    config token (secret)\n"),
        "{text}"
    );
    assert!(!json_out.contains(SECRET) && !text.contains(SECRET) && !err.contains(SECRET));

    // A serving pier, logging everything: the plugin reads the secret; the admin API,
    // the logs and a failed call's error never show it.
    let mut child = ChildPier::serve_with_env(
        &[
            "--plugins",
            dir.path().to_str().unwrap(),
            "--config",
            toml.to_str().unwrap(),
        ],
        &[(
            "RUST_LOG",
            "trace,cranelift=info,wasmtime=info,wasmtime_cranelift=info,regalloc2=info",
        )],
    )
    .await;
    let client = child.client().await;
    let read = call(&client, "outbound_config_length", json!({"key": "token"}))
        .await
        .unwrap();
    assert_eq!(text_of(&read), SECRET.len().to_string());
    let failed = call(&client, "outbound_config_required", json!({"key": "tokn"}))
        .await
        .unwrap();
    assert!(!text_of(&failed).contains(SECRET));
    let admin: serde_json::Value = reqwest::Client::new()
        .get(child.url.replace("/mcp", "/admin/mounts"))
        .bearer_auth("admin-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = admin["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "outbound")
        .unwrap()
        .clone();
    assert_eq!(listed["grants"], *grants);
    assert!(!admin.to_string().contains(SECRET));
    drop(client);
    child.signal("-TERM");
    let stderr = child.stderr_text();
    assert!(stderr.contains("TRACE"), "logs at trace level were written");
    assert!(!stderr.contains(SECRET), "the secret is in pier's log");
}
