//! `pier build`: a Python folder (a FastMCP-style `server.py`) built with the Python SDK
//! and componentize-py, and a TypeScript folder built with the JS SDK, esbuild and
//! componentize-js, into OUT/NAME.wasm, then served; folders that are no plugin source,
//! code that fails to import or bundle, and missing toolchains, each refused saying why;
//! `pier new` folders of every language built, served, and passing their own tests.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

/// `pier build ARGS` with the cache under `cache` and componentize-py from `toolchain`
/// (`None`: found on `PATH` = `path`, or installed).
fn build(args: &[&str], cache: &Path, toolchain: Option<&Path>, path: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pier"));
    command
        .arg("build")
        .args(args)
        .env("PIER_CACHE_DIR", cache)
        .env_remove("PIER_COMPONENTIZE_PY")
        // The JS toolchain `make setup` installs (esbuild, componentize-js, zod).
        .env("PIER_JS_TOOLCHAIN", root().join("tests/polyglot/js"));
    if let Some(tool) = toolchain {
        command.env("PIER_COMPONENTIZE_PY", tool);
    }
    if let Some(path) = path {
        command.env("PATH", path);
    }
    command.output().unwrap()
}

fn componentize_py() -> std::path::PathBuf {
    root().join(".venv/bin/componentize-py")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The names of the files in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A build refused (exit code 2) with a message that starts with `start` and contains
/// `detail`, leaving nothing in `out`.
fn assert_refused(output: &Output, start: &str, detail: &str, out: &Path) {
    assert_eq!(output.status.code(), Some(2));
    let said = stderr(output);
    assert!(said.starts_with(start), "{said}");
    assert!(said.contains(detail), "{said}");
    assert!(
        names(out).is_empty(),
        "a failed build leaves nothing in OUT"
    );
}

/// `work/weather/`, holding the repository's `file` as `entry` and a sidecar with a
/// greeting, built into `work/plugins` (with componentize-py `py`): the component reads
/// its sidecar's greeting, and nothing but it and the sidecar is left in OUT. The
/// source folder.
fn build_weather(work: &Path, file: &str, entry: &str, py: Option<&Path>) -> std::path::PathBuf {
    let source = work.join("weather");
    std::fs::create_dir(&source).unwrap();
    std::fs::copy(root().join(file), source.join(entry)).unwrap();
    std::fs::write(
        source.join("weather.toml"),
        "[config]\ngreeting = \"hej\"\n",
    )
    .unwrap();
    let out = work.join("plugins");
    let output = build(
        &[source.to_str().unwrap(), "-o", out.to_str().unwrap()],
        &work.join("cache"),
        py,
        None,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.starts_with(&format!(
            "built weather: {}",
            out.join("weather.wasm").display()
        )),
        "{said}"
    );
    // The sidecar went along, and nothing else was left in OUT.
    assert_eq!(names(&out), ["weather.toml", "weather.wasm"]);
    let call = Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(["call"])
        .arg(out.join("weather.wasm"))
        .args(["setting", "--args", r#"{"key": "greeting"}"#, "--data-dir"])
        .arg(shared_data_dir())
        .output()
        .unwrap();
    assert!(call.status.success(), "{}", stderr(&call));
    let result: serde_json::Value = serde_json::from_slice(&call.stdout).unwrap();
    assert_eq!(result["content"][0]["text"], "hej");
    source
}

#[test]
fn a_fastmcp_folder_is_built_and_served() {
    let work = tempfile::tempdir().unwrap();
    build_weather(
        work.path(),
        "tests/polyglot/fastmcp/server.py",
        "server.py",
        Some(&componentize_py()),
    );
}

#[test]
fn what_cannot_be_built_is_refused_saying_why() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let out = work.path().join("plugins");

    let empty = work.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = build(
        &[empty.to_str().unwrap(), "-o", out.to_str().unwrap()],
        &cache,
        Some(&componentize_py()),
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!(
            "pier: {}: not a plugin source folder: neither a Rust crate (Cargo.toml), a Python folder (server.py, with the Python SDK), a JavaScript or TypeScript folder (server.ts or server.js, with the JS SDK), nor a folder with a sidecar NAME.toml that says how to build it (build = \"…\", writing $PIER_OUT)\n",
            empty.display()
        )
    );

    let broken = work.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("server.py"), "import no_such_module_here\n").unwrap();
    let output = build(
        &[broken.to_str().unwrap(), "-o", out.to_str().unwrap()],
        &cache,
        Some(&componentize_py()),
        None,
    );
    assert_refused(
        &output,
        "pier: componentize-py failed (exit status: 1):\n",
        "ModuleNotFoundError: No module named 'no_such_module_here'",
        &out,
    );

    // No componentize-py anywhere, and no python3 to install one with.
    let bare = work.path().join("bin");
    std::fs::create_dir(&bare).unwrap();
    std::fs::write(broken.join("server.py"), "x = 1\n").unwrap();
    let output = build(
        &[broken.to_str().unwrap(), "-o", out.to_str().unwrap()],
        &cache,
        None,
        Some(&bare),
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "pier: a Python plugin is built with componentize-py: none on PATH, and no python3 to install componentize-py==0.25.1 with (install Python 3.10 or newer, or set PIER_COMPONENTIZE_PY)\n"
    );
}

/// `pier new` with `args`, in `dir`.
fn new(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pier"))
        .arg("new")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn call_hello(wasm: &Path) -> serde_json::Value {
    let call = Command::new(env!("CARGO_BIN_EXE_pier"))
        .arg("call")
        .arg(wasm)
        .args(["hello", "--args", r#"{"name": "Ada"}"#, "--data-dir"])
        .arg(shared_data_dir())
        .output()
        .unwrap();
    assert!(call.status.success(), "{}", stderr(&call));
    serde_json::from_slice(&call.stdout).unwrap()
}

/// `pier new greeter --lang LANG` in `work`: the folder holds `files`, builds (with
/// componentize-py `py`) into `work/plugins` with its sidecar, and greets Ada. The folder.
fn new_and_built(work: &Path, lang: &str, files: &[&str], py: Option<&Path>) -> std::path::PathBuf {
    let output = new(&["greeter", "--lang", lang], work);
    assert!(output.status.success(), "{}", stderr(&output));
    let folder = work.join("greeter");
    assert_eq!(names(&folder), files);
    let out = work.join("plugins");
    let built = build(
        &[folder.to_str().unwrap(), "-o", out.to_str().unwrap()],
        &work.join("cache"),
        py,
        None,
    );
    assert!(built.status.success(), "{}", stderr(&built));
    assert_eq!(
        call_hello(&out.join("greeter.wasm"))["content"],
        serde_json::json!([{"type": "text", "text": "Hello, Ada!"}])
    );
    assert!(out.join("greeter.toml").is_file(), "the sidecar goes along");
    folder
}

#[test]
fn a_new_python_plugin_builds_serves_and_passes_its_test() {
    let work = tempfile::tempdir().unwrap();
    let folder = new_and_built(
        work.path(),
        "python",
        &[
            ".gitignore",
            "README.md",
            "conftest.py",
            "greeter.toml",
            "server.py",
            "test_server.py",
        ],
        Some(&componentize_py()),
    );

    // Its test runs under CPython, importing the SDK that comes with pier.
    let bin = Path::new(env!("CARGO_BIN_EXE_pier")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let pytest = Command::new(root().join(".venv/bin/python"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .current_dir(&folder)
        .env("PATH", path)
        .env("PIER_CACHE_DIR", work.path().join("cache"))
        .output()
        .unwrap();
    assert!(
        pytest.status.success(),
        "{}{}",
        String::from_utf8_lossy(&pytest.stdout),
        stderr(&pytest)
    );

    // Never over an existing folder.
    let again = new(&["greeter", "--lang", "python"], work.path());
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(stderr(&again), "pier: greeter: exists and is not empty\n");
}

#[test]
fn a_new_rust_plugin_inside_the_repository_builds_and_serves() {
    // Inside this repository, so `pier-sdk` is a path dependency; built into the
    // workspace's target directory, where the SDK's dependencies are already compiled.
    let parent = tempfile::tempdir_in(root().join("target")).unwrap();
    let output = new(&["rgreet", "--lang", "rust"], parent.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let folder = parent.path().join("rgreet");
    let manifest = std::fs::read_to_string(folder.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("pier-sdk = { path = \"../../../guest-sdk/pier-sdk\" }"),
        "{manifest}"
    );
    let out = parent.path().join("plugins");
    let built = Command::new(env!("CARGO_BIN_EXE_pier"))
        .arg("build")
        .arg(&folder)
        .arg("-o")
        .arg(&out)
        .env("CARGO_TARGET_DIR", root().join("target"))
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", stderr(&built));
    assert_eq!(
        call_hello(&out.join("rgreet.wasm"))["content"],
        serde_json::json!([{"type": "text", "text": "Hello, Ada!"}])
    );
    assert!(
        out.join("rgreet.toml").is_file(),
        "the crate's sidecar goes along"
    );
}

#[test]
fn a_new_rust_plugin_outside_the_repository_builds_with_the_sdk_that_came_with_pier() {
    // A folder no checkout of pier is above: the crate depends on the SDK pier writes to
    // its cache (and on the version, for when pier-sdk is published).
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let pier = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_pier"))
            .args(args)
            .current_dir(work.path())
            .env("PIER_CACHE_DIR", &cache)
            .env("CARGO_TARGET_DIR", root().join("target"))
            .output()
            .unwrap()
    };
    let output = pier(&[
        "new".as_ref(),
        "rgreet".as_ref(),
        "--lang".as_ref(),
        "rust".as_ref(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let folder = work.path().join("rgreet");
    let manifest = std::fs::read_to_string(folder.join("Cargo.toml")).unwrap();
    let sdk = format!(
        "pier-sdk = {{ version = \"{}\", path = \"{}/rust-sdk-",
        env!("CARGO_PKG_VERSION"),
        cache.display()
    );
    assert!(manifest.contains(&sdk), "{manifest}");
    let out = work.path().join("plugins");
    let build = [folder.as_os_str(), "-o".as_ref(), out.as_os_str()];
    let built = pier(&[&["build".as_ref()], &build[..]].concat());
    assert!(built.status.success(), "{}", stderr(&built));
    assert_eq!(
        call_hello(&out.join("rgreet.wasm"))["content"],
        serde_json::json!([{"type": "text", "text": "Hello, Ada!"}])
    );

    // A crate that does not compile: cargo's own words end pier's message.
    std::fs::write(folder.join("src/lib.rs"), "fn broken( {}\n").unwrap();
    let failed = pier(&[&["build".as_ref()], &build[..]].concat());
    assert_eq!(failed.status.code(), Some(2));
    let message = stderr(&failed);
    let (_, ours) = message
        .split_once("pier: cargo build failed (exit status: 101):\n")
        .unwrap_or_else(|| panic!("{message}"));
    assert!(
        ours.contains("error: "),
        "cargo's error is repeated: {ours}"
    );
    assert!(
        ours.lines().count() <= 40,
        "only the end of cargo's output: {ours}"
    );
}

#[test]
fn a_typescript_folder_is_built_and_served() {
    let work = tempfile::tempdir().unwrap();
    let source = build_weather(
        work.path(),
        "tests/polyglot/ts/server.ts",
        "server.ts",
        None,
    );
    let cache = work.path().join("cache");

    // A module that does not bundle: esbuild's words, nothing placed.
    std::fs::write(
        source.join("server.ts"),
        "import { nope } from './missing.js';\nnope();\n",
    )
    .unwrap();
    let failed = work.path().join("failed");
    let output = build(
        &[source.to_str().unwrap(), "-o", failed.to_str().unwrap()],
        &cache,
        None,
        None,
    );
    assert_refused(
        &output,
        "pier: esbuild failed (exit status: 1):\n",
        "Could not resolve \"./missing.js\"",
        &failed,
    );

    // No toolchain given, none in the cache, and no npm to install one with.
    let bare = work.path().join("bin");
    std::fs::create_dir(&bare).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pier"))
        .arg("build")
        .arg(&source)
        .arg("-o")
        .arg(&failed)
        .env("PIER_CACHE_DIR", &cache)
        .env_remove("PIER_JS_TOOLCHAIN")
        .env("PATH", &bare)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "pier: a JavaScript plugin is built with esbuild and componentize-js: no npm to install them with (install Node.js 20 or newer with npm, or set PIER_JS_TOOLCHAIN to a folder whose node_modules has esbuild@0.28.2, @bytecodealliance/componentize-js@0.23.0, zod@4.6.7)\n"
    );
}

#[test]
fn a_new_js_plugin_builds_serves_and_passes_its_test() {
    let work = tempfile::tempdir().unwrap();
    let folder = new_and_built(
        work.path(),
        "js",
        &[
            ".gitignore",
            "README.md",
            "greeter.toml",
            "greeting.js",
            "greeting.test.js",
            "package.json",
            "server.js",
        ],
        None,
    );
    // Its test runs under node's test runner, without pier.
    let test = Command::new("node")
        .arg("--test")
        .current_dir(&folder)
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "{}{}",
        String::from_utf8_lossy(&test.stdout),
        stderr(&test)
    );
    assert!(String::from_utf8_lossy(&test.stdout).contains("# pass 1"));
}

#[test]
fn toolchains_missing_from_the_cache_are_installed_on_first_use() {
    // Neither tool given, none on PATH: componentize-py is installed into a private
    // environment of the cache with pip, esbuild, componentize-js and zod with npm.
    let path = std::env::join_paths(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).filter(|dir| {
            ["componentize-py", "componentize-js", "esbuild"]
                .iter()
                .all(|tool| !dir.join(tool).exists())
        }),
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    for (lang, tool) in [
        (
            "python",
            "toolchains/componentize-py-0.25.1/bin/componentize-py",
        ),
        (
            "js",
            "toolchains/js-esbuild_0.28.2-_bytecodealliance_componentize-js_0.23.0-zod_4.6.7/node_modules/.bin/componentize-js",
        ),
    ] {
        let made = new(&["greeter", "--lang", lang, "--dir", lang], work.path());
        assert!(made.status.success(), "{}", stderr(&made));
        let out = work.path().join(format!("plugins-{lang}"));
        let built = Command::new(env!("CARGO_BIN_EXE_pier"))
            .arg("build")
            .arg(work.path().join(lang))
            .arg("-o")
            .arg(&out)
            .env("PIER_CACHE_DIR", &cache)
            .env_remove("PIER_COMPONENTIZE_PY")
            .env_remove("PIER_JS_TOOLCHAIN")
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(built.status.success(), "{lang}: {}", stderr(&built));
        // Not a terminal: a line when the install starts, one when it is done.
        let said = stderr(&built);
        let started = said.lines().next().unwrap_or_default();
        assert!(
            started.starts_with("pier: installing ") && started.ends_with('…'),
            "{said}"
        );
        let done = format!("{}: done after ", started.trim_end_matches('…'));
        assert!(said.lines().any(|l| l.starts_with(&done)), "{said}");
        assert!(cache.join(tool).is_file(), "{lang}: {tool} installed");
        assert_eq!(
            call_hello(&out.join("greeter.wasm"))["content"],
            serde_json::json!([{"type": "text", "text": "Hello, Ada!"}])
        );
    }
}

#[test]
fn a_folder_built_before_is_not_built_again() {
    // componentize-py through a wrapper that counts its runs.
    let work = tempfile::tempdir().unwrap();
    let runs = work.path().join("runs");
    let wrapper = work.path().join("componentize-py");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho run >> '{}'\nexec '{}' \"$@\"\n",
            runs.display(),
            componentize_py().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let made = new(&["greeter", "--lang", "python"], work.path());
    assert!(made.status.success(), "{}", stderr(&made));
    let folder = work.path().join("greeter");
    let cache = work.path().join("cache");
    let out = work.path().join("plugins");
    let built = || {
        let output = build(
            &[folder.to_str().unwrap(), "-o", out.to_str().unwrap()],
            &cache,
            Some(&wrapper),
            None,
        );
        assert!(output.status.success(), "{}", stderr(&output));
        std::fs::read(out.join("greeter.wasm")).unwrap()
    };
    let runs_so_far = || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let first = built();
    assert_eq!(runs_so_far(), 1);
    // Unchanged (bytecode and editor files are no sources): the same component, no run.
    std::fs::create_dir_all(folder.join("__pycache__")).unwrap();
    std::fs::write(folder.join("__pycache__/server.cpython-311.pyc"), "x").unwrap();
    std::fs::write(folder.join(".server.py.swp"), "x").unwrap();
    assert_eq!(built(), first);
    assert_eq!(runs_so_far(), 1, "served from the build cache");
    // Changed: built again, and it greets as the change says.
    let server = folder.join("server.py");
    let code = std::fs::read_to_string(&server).unwrap();
    std::fs::write(&server, code.replace("Hello, ", "Howdy, ")).unwrap();
    assert_ne!(built(), first);
    assert_eq!(runs_so_far(), 2);
    assert_eq!(
        call_hello(&out.join("greeter.wasm"))["content"][0]["text"],
        "Howdy, Ada!"
    );
}
