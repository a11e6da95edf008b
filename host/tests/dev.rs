//! `pier dev`: source folders are built at start and on every save, the fresh
//! component is swapped in, a failed build keeps the previous version, and the console
//! says what happened.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A running `pier dev` and the lines it wrote to stderr.
struct Dev {
    child: tokio::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Dev {
    async fn start(sources: &[&Path], plugins: &Path) -> Self {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pier"));
        command
            .arg("dev")
            .args(sources)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--log-level",
                "warn",
                "--plugins",
            ])
            .arg(plugins)
            .arg("--data-dir")
            .arg(shared_data_dir())
            .args(["--storage", "memory"]);
        Self::spawn(command)
    }

    /// Runs `command` (a `pier dev`), collecting what it writes to stderr.
    fn spawn(mut command: tokio::process::Command) -> Self {
        let mut child = command
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let seen = lines.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                seen.lock().unwrap().push(line);
            }
        });
        Self { child, lines }
    }

    /// Waits (bounded) for a line starting with `prefix`, after the first `skip` lines
    /// that start with it; returns it.
    async fn line(&self, prefix: &str, skip: usize) -> String {
        // A first serve may build an interpreter and compile it on a busy machine.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(line) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .filter(|l| l.starts_with(prefix))
                .nth(skip)
            {
                return line.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no line `{prefix}…` in {:#?}",
                self.lines.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn client(&self) -> Client {
        let banner = self.line("pier: serving MCP on ", 0).await;
        let url = banner
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .to_string();
        Recorder::default()
            .serve(StreamableHttpClientTransport::from_uri(url))
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_with_a_build_command_is_rebuilt_and_swapped_on_save() {
    let source = tempfile::tempdir().unwrap();
    let plugins = PluginDir::new();
    // The "build" copies whichever component `which` names.
    let which = source.path().join("which");
    std::fs::write(&which, example("hello").display().to_string()).unwrap();
    std::fs::write(
        source.path().join("greeter.toml"),
        "namespace = \"greeter\"\nbuild = 'cp \"$(cat which)\" \"$PIER_OUT\"'\n",
    )
    .unwrap();
    let mut dev = Dev::start(&[source.path()], plugins.path()).await;
    let first = dev.line("pier dev: serving greeter ", 0).await;
    assert!(
        first.ends_with("+greeter_greet +hello://greeter/readme +hello://greeter/greeting/{name} +greeter_introduce"),
        "{first}"
    );
    let client = dev.client().await;
    let hello = call(&client, "greeter_greet", json!({"name": "Ada"}))
        .await
        .unwrap();
    assert_eq!(text(&hello), "Hello, Ada!");
    assert!(
        plugins.path().join("greeter.toml").is_file(),
        "the sidecar is installed"
    );

    // Save: the other version is built and swapped in.
    std::fs::write(&which, fixture("hello_v2").display().to_string()).unwrap();
    let second = dev.line("pier dev: serving greeter ", 1).await;
    assert!(
        second.ends_with("+greeter_wave -hello://greeter/readme -hello://greeter/greeting/{name} -greeter_introduce"),
        "{second}"
    );
    let howdy = call(&client, "greeter_greet", json!({"name": "Ada"}))
        .await
        .unwrap();
    assert_eq!(text(&howdy), "Howdy, Ada!");

    // A failing build: the error is shown, the previous version keeps serving.
    std::fs::write(&which, "/nonexistent.wasm").unwrap();
    let failed = dev.line("pier dev: build of ", 0).await;
    assert!(failed.contains("failed after"), "{failed}");
    assert!(
        failed.contains(", the previous version keeps serving: `cp \"$(cat which)\" \"$PIER_OUT\"` failed (exit status: 1):"),
        "{failed}"
    );
    // The next line is the command's own error output.
    let why = dev.line("cp: ", 1).await;
    assert!(why.contains("/nonexistent.wasm"), "{why}");
    // A build that makes a broken component: refused, the previous version serves.
    let garbage = source.path().join("garbage.bin");
    std::fs::write(&garbage, b"not a component").unwrap();
    std::fs::write(&which, garbage.display().to_string()).unwrap();
    let refused = dev.line("pier dev: greeter was refused: ", 0).await;
    assert_eq!(
        refused,
        "pier dev: greeter was refused: not a WebAssembly file (no `\\0asm` header); the previous version keeps serving"
    );
    let still = call(&client, "greeter_greet", json!({"name": "Ada"}))
        .await
        .unwrap();
    assert_eq!(text(&still), "Howdy, Ada!");
    dev.child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_crate_is_built_with_cargo() {
    let plugins = PluginDir::new();
    let crate_dir = root().join("plugins/hello");
    let mut dev = Dev::start(&[&crate_dir], plugins.path()).await;
    let served = dev.line("pier dev: serving hello ", 0).await;
    assert!(served.contains("+hello_greet"), "{served}");
    let client = dev.client().await;
    let hello = call(&client, "hello_greet", json!({"name": "Ada"}))
        .await
        .unwrap();
    assert_eq!(text(&hello), "Hello, Ada!");
    dev.child.kill().await.unwrap();
}

#[test]
fn a_folder_pier_cannot_build_is_a_usage_error() {
    let source = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pier"))
        .arg("dev")
        .arg(source.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "pier: {}: not a plugin source folder: neither a Rust crate (Cargo.toml), a Python folder (server.py, with the Python SDK), a JavaScript or TypeScript folder (server.ts or server.js, with the JS SDK), nor a folder with a sidecar NAME.toml that says how to build it (build = \"…\", writing $PIER_OUT)\n",
            source.path().display()
        )
    );
}

/// A newcomer's loop, word for word from the README, in the empty folder `work`:
/// `pier new greet --lang LANG`, `pier dev greet` (default paths: no `plugins.d/` yet),
/// call `greet_hello`, edit `file` of the folder (`Hello` becomes `Howdy`), call again.
/// `env`: where the toolchains are. The running `pier dev` and its client.
async fn newcomer_loop(
    work: &Path,
    lang: &str,
    file: &str,
    env: &[(&str, std::ffi::OsString)],
) -> (Dev, Client) {
    let pier = env!("CARGO_BIN_EXE_pier");
    let made = std::process::Command::new(pier)
        .args(["new", "greet", "--lang", lang])
        .current_dir(work)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(!work.join("plugins.d").exists());
    let mut command = tokio::process::Command::new(pier);
    command
        .args([
            "dev",
            "greet",
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "warn",
        ])
        .args(["--storage", "memory"])
        .current_dir(work)
        .envs(env.iter().map(|(k, v)| (k, v)));
    let dev = Dev::spawn(command);
    let served = dev.line("pier dev: serving greet ", 0).await;
    assert!(served.ends_with(" +greet_hello"), "{lang}: {served}");
    assert!(work.join("plugins.d/greet.wasm").is_file());
    let client = dev.client().await;
    let hello = call(&client, "greet_hello", json!({"name": "Ada"}))
        .await
        .unwrap();
    assert_eq!(text(&hello), "Hello, Ada!", "{lang}");

    let source = work.join("greet").join(file);
    let code = std::fs::read_to_string(&source).unwrap();
    assert!(code.contains("Hello, "), "{lang}: {code}");
    std::fs::write(&source, code.replace("Hello, ", "Howdy, ")).unwrap();
    let again = dev.line("pier dev: serving greet ", 1).await;
    assert!(again.ends_with(" same names"), "{lang}: {again}");
    let howdy = call(&client, "greet_hello", json!({"name": "Ada"}))
        .await
        .unwrap();
    assert_eq!(text(&howdy), "Howdy, Ada!", "{lang}");
    let lines = dev.lines.lock().unwrap().join("\n");
    assert!(!lines.contains("cannot"), "{lang}: {lines}");
    (dev, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_python_plugin_is_served_and_rebuilt_from_an_empty_folder() {
    let work = tempfile::tempdir().unwrap();
    let env = [
        (
            "PIER_CACHE_DIR",
            work.path().join(".cache").into_os_string(),
        ),
        (
            "PIER_COMPONENTIZE_PY",
            root().join(".venv/bin/componentize-py").into_os_string(),
        ),
    ];
    let (dev, client) = newcomer_loop(work.path(), "python", "server.py", &env).await;
    // Served from the folder: no build. A save that does not import is refused with
    // Python's words and where, and the previous version keeps serving, unchanged.
    let server = work.path().join("greet/server.py");
    let line = std::fs::read_to_string(&server).unwrap().lines().count() + 2;
    let refused = a_broken_save_keeps_serving(dev, &client, &server, "\ndef broken(:\n").await;
    assert_eq!(
        refused,
        format!(
            "pier dev: greet was refused: describe failed: plugin `greet` panicked: SyntaxError: invalid syntax (File \"greet/server.py\", line {line}) (wasm trap: wasm `unreachable` instruction executed); the previous version keeps serving"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_js_plugin_is_served_and_rebuilt_from_an_empty_folder() {
    let work = tempfile::tempdir().unwrap();
    let env = [
        (
            "PIER_CACHE_DIR",
            work.path().join(".cache").into_os_string(),
        ),
        (
            "PIER_JS_TOOLCHAIN",
            root().join("tests/polyglot/js").into_os_string(),
        ),
    ];
    let (dev, client) = newcomer_loop(work.path(), "js", "greeting.js", &env).await;
    // Served from its sources: no build. A module that throws as it loads is refused
    // with its message, and the previous version keeps serving.
    let module = work.path().join("greet/greeting.js");
    let appended = "\nthrow new Error('boom at load');\n";
    let refused = a_broken_save_keeps_serving(dev, &client, &module, appended).await;
    assert_eq!(
        refused,
        "pier dev: greet was refused: describe failed: plugin `greet` panicked: boom at load (wasm trap: wasm `unreachable` instruction executed); the previous version keeps serving"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_rust_plugin_is_served_and_rebuilt_from_an_empty_folder() {
    // Inside this repository (a new crate depends on `pier-sdk` by path here), built
    // into the workspace's target directory, where the SDK is already compiled.
    let work = tempfile::tempdir_in(root().join("target")).unwrap();
    let env = [("CARGO_TARGET_DIR", root().join("target").into_os_string())];
    let (mut dev, _) = newcomer_loop(work.path(), "rust", "src/lib.rs", &env).await;
    dev.child.kill().await.unwrap();
}

/// Appends `appended` to `file` of the folder `dev` serves (greeting with "Howdy"): the save
/// is refused, nothing was built, and `greet_hello` still answers as before. The line
/// that says why.
async fn a_broken_save_keeps_serving(
    mut dev: Dev,
    client: &Client,
    file: &Path,
    appended: &str,
) -> String {
    let code = std::fs::read_to_string(file).unwrap();
    std::fs::write(file, format!("{code}{appended}")).unwrap();
    let refused = dev.line("pier dev: greet was refused: ", 0).await;
    let still = call(client, "greet_hello", json!({"name": "Ada"}))
        .await
        .unwrap();
    assert_eq!(text(&still), "Howdy, Ada!");
    let lines = dev.lines.lock().unwrap().join("\n");
    assert!(!lines.contains("pier dev: building"), "no build: {lines}");
    dev.child.kill().await.unwrap();
    refused
}
