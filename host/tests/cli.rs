//! The `pier` command line: `inspect`, `call`, `--version`, and config errors.

mod common;

use std::process::{Command, Output};

use common::*;
use serde_json::{Value, json};

fn pier(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(args)
        .args(
            ["--data-dir", shared_data_dir().to_str().unwrap()]
                .iter()
                .filter(|_| args[0] != "--version"),
        )
        .output()
        .unwrap()
}

fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[test]
fn version_prints_the_crate_version() {
    let output = pier(&["--version"]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("pier {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn inspect_json_lists_what_each_plugin_exposes_and_what_was_refused() {
    let dir = PluginDir::examples().with_bytes("broken", b"garbage");
    let output = pier(&["inspect", "--json", dir.path().to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a refused file makes inspect fail"
    );
    let report = stdout_json(&output);
    let plugins = report["plugins"].as_array().unwrap();
    assert_eq!(
        plugins
            .iter()
            .map(|p| p["plugin"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["calc", "hello"]
    );
    let hello = &plugins[1];
    assert_eq!(hello["namespace"], "hello");
    assert_eq!(
        hello["limits"],
        json!({"timeout_ms": 30000, "memory_mb": 64})
    );
    assert_eq!(hello["instances"], "fresh", "a Rust plugin's default");
    assert!(
        hello["resident_bytes"].as_u64().is_some_and(|b| b > 0),
        "its compiled code, mapped from the AOT cache: {}",
        hello["resident_bytes"]
    );
    assert_eq!(hello["tools"][0]["name"], "hello_greet");
    assert_eq!(
        hello["tools"][0]["input_schema"]["required"],
        json!(["name"])
    );
    assert_eq!(hello["resources"][0]["uri"], "hello://hello/readme");
    assert_eq!(
        hello["templates"][0]["uri_template"],
        "hello://hello/greeting/{name}"
    );
    assert_eq!(hello["prompts"][0]["name"], "hello_introduce");
    assert_eq!(
        report["refused"],
        json!([format!(
            "refused plugin {}: not a WebAssembly file (no `\\0asm` header)",
            dir.path().join("broken.wasm").display()
        )])
    );
}

#[test]
fn inspect_text_is_aligned_and_readable() {
    let output = pier(&["inspect", example("calc").to_str().unwrap()]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains(
            "calc 0.1.0  (namespace `calc`, timeout 30000 ms, memory 64 MiB, fresh instances, "
        ),
        "{text}"
    );
    assert!(
        text.contains("    calc_add        Add two numbers.\n"),
        "{text}"
    );
    assert!(
        text.contains("    calc_countdown  Count down from `from` to zero"),
        "{text}"
    );
}

#[test]
fn inspect_colours_only_a_terminal_unless_asked() {
    let calc = example("calc");
    let piped = pier(&["inspect", calc.to_str().unwrap()]);
    assert!(
        !piped.stdout.contains(&0x1b),
        "no escape codes when stdout is not a terminal"
    );
    let coloured = pier(&["inspect", "--color", "always", calc.to_str().unwrap()]);
    assert!(coloured.status.success());
    let text = String::from_utf8(coloured.stdout).unwrap();
    assert!(text.contains("\x1b[1mcalc 0.1.0\x1b[0m"), "{text:?}");
    assert!(
        text.contains("    \x1b[36mcalc_add      \x1b[0m  Add two numbers.\n"),
        "{text:?}"
    );
    let bad = pier(&["inspect", "--color", "sometimes", calc.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8(bad.stderr)
            .unwrap()
            .contains("invalid value 'sometimes' for '--color <WHEN>'"),
    );
}

#[test]
fn call_runs_one_tool_locally() {
    let hello = example("hello");
    let output = pier(&[
        "call",
        hello.to_str().unwrap(),
        "greet",
        "--args",
        r#"{"name":"Ada"}"#,
    ]);
    assert!(output.status.success());
    assert_eq!(
        stdout_json(&output),
        json!({"content": [{"type": "text", "text": "Hello, Ada!"}], "isError": false})
    );

    let calc = example("calc");
    let output = pier(&[
        "call",
        calc.to_str().unwrap(),
        "calc_divide",
        "--args",
        r#"{"a":1,"b":0}"#,
    ]);
    assert_eq!(output.status.code(), Some(1), "a tool error exits 1");
    assert_eq!(
        stdout_json(&output),
        json!({"content": [{"type": "text", "text": "division by zero"}], "isError": true})
    );
}

#[test]
fn call_explains_unknown_tools_and_bad_arguments() {
    let hello = example("hello");
    // Compiled first (a cold compile says so on stderr): below, only the call speaks.
    assert!(pier(&["inspect", hello.to_str().unwrap()]).status.success());
    let output = pier(&["call", hello.to_str().unwrap(), "nope"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap().trim_end(),
        format!("pier: unknown tool `nope`; {} has: greet", hello.display())
    );
    let output = pier(&[
        "call",
        hello.to_str().unwrap(),
        "greet",
        "--args",
        r#"{"name":1}"#,
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap().trim_end(),
        "pier: invalid arguments for tool `greet`: /name: 1 is not of type \"string\""
    );
    let output = pier(&["call", hello.to_str().unwrap(), "greet", "--args", "{"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .starts_with("pier: --args is not JSON: ")
    );
}

#[test]
fn serve_refuses_a_bad_configuration_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pier.toml");
    std::fs::write(&config, "[server]\nlisten = 8000\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!(
            "pier: {}: server.listen: expected \"host:port\", got 8000\n",
            config.display()
        )
    );
}

#[test]
fn the_binary_compiles_in_a_child_process_and_keeps_the_artifact() {
    let data = tempfile::tempdir().unwrap();
    let hello = example("hello");
    let inspect = || {
        Command::new(env!("CARGO_BIN_EXE_pier"))
            .args(["inspect", "--json", hello.to_str().unwrap(), "--data-dir"])
            .arg(data.path())
            .output()
            .unwrap()
    };
    // Cold: compiled by `pier __compile-component`, written into the AOT cache.
    let cold = inspect();
    assert!(
        cold.status.success(),
        "{}",
        String::from_utf8_lossy(&cold.stderr)
    );
    let artifacts: Vec<String> = std::fs::read_dir(data.path().join("aot"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    assert!(
        artifacts[0].ends_with(".cwasm"),
        "no temporary file left: {artifacts:?}"
    );
    // Warm: the same answer from the artifact.
    let warm = inspect();
    assert_eq!(
        stdout_json(&warm)["plugins"][0]["tools"],
        stdout_json(&cold)["plugins"][0]["tools"]
    );
    // The compiler process itself refuses what it cannot compile, saying why.
    let cwasm = data.path().join("x.cwasm");
    let refused = pier_with_stdin(
        &["__compile-component", "67108864", cwasm.to_str().unwrap()],
        b"\0asm\x0d\0\x01\0\xff",
    );
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr).trim(),
        "failed to parse WebAssembly module: malformed section id (at offset 0x8)"
    );
}

#[test]
fn a_cold_compile_is_told_as_a_spinner_on_a_terminal_and_as_lines_elsewhere() {
    let calc = example("calc");
    let compiling = format!("compiling {} to native code", calc.display());
    let data = tempfile::tempdir().unwrap();
    let add = || {
        Command::new(env!("CARGO_BIN_EXE_pier"))
            .args(["call", calc.to_str().unwrap(), "calc_add", "--args"])
            .arg(r#"{"a":2,"b":3}"#)
            .arg("--data-dir")
            .arg(data.path())
            .output()
            .unwrap()
    };
    // Piped: a line when it starts and one when it ends, with the time it took.
    let piped = add();
    assert!(piped.status.success());
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(
        stderr.starts_with(&format!("pier: {compiling}…\n")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("\npier: {compiling}: done after ")),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\x1b'),
        "no escape codes in a pipe: {stderr:?}"
    );
    // From the cache: nothing to wait for, nothing said.
    let warm = add();
    assert!(warm.status.success());
    assert!(!String::from_utf8_lossy(&warm.stderr).contains(&compiling));
    // On a terminal (`script` gives the command one): a spinner with the elapsed time,
    // left behind as the line saying how long it took.
    let data = tempfile::tempdir().unwrap();
    let command = format!(
        "'{}' inspect '{}' --data-dir '{}'",
        env!("CARGO_BIN_EXE_pier"),
        calc.display(),
        data.path().display()
    );
    let tty = Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&tty.stdout);
    assert!(tty.status.success(), "{screen}");
    assert!(screen.contains(&format!("{compiling} (0s)")), "{screen:?}");
    assert!(
        screen.contains(&format!("pier: {compiling}: done after ")),
        "{screen:?}"
    );
    assert!(!screen.contains(&format!("{compiling}…")), "{screen:?}");
}
