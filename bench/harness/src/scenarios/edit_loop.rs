//! The edit loop of a plugin author, per language: `pier dev` serving a `pier new`
//! folder, a one-line edit saved, and the time until the new version answers; and
//! `pier build` of a new folder with the toolchain already installed.

use std::process::Stdio;

use super::*;

/// Saved edits measured per language.
const EDITS: usize = 5;
/// Builds measured per language.
const BUILDS: usize = 3;

/// The languages and the file a one-line edit changes.
const LANGS: [(&str, &str, &str); 3] = [
    ("pier-rust", "rust", "src/lib.rs"),
    ("pier-py", "python", "server.py"),
    ("pier-js", "js", "greeting.js"),
];

/// Where the toolchains come from: the ones `make setup` installed, a cache of the run.
fn toolchains(cache: &Path) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("PIER_CACHE_DIR", cache.to_path_buf()),
        (
            "PIER_COMPONENTIZE_PY",
            PathBuf::from(".venv/bin/componentize-py"),
        ),
        ("PIER_JS_TOOLCHAIN", PathBuf::from("tests/polyglot/js")),
        // A Rust folder inside this repository depends on pier-sdk by path; its
        // dependencies are already compiled in the workspace's target directory.
        ("CARGO_TARGET_DIR", PathBuf::from("target")),
    ]
}

/// `pier new NAME --lang LANG` in `work`.
fn new_folder(work: &Path, name: &str, lang: &str) -> anyhow::Result<()> {
    let pier = std::path::absolute(PIER)?;
    let made = std::process::Command::new(pier)
        .args(["new", name, "--lang", lang])
        .current_dir(work)
        .output()?;
    if !made.status.success() {
        bail!("pier new: {}", String::from_utf8_lossy(&made.stderr));
    }
    Ok(())
}

/// The rows: a saved edit to the new version answering, and `pier build` of a new
/// folder (toolchain cached).
pub(super) async fn edit_loop(setup: &Setup) -> Vec<Row> {
    let mut saves = Row::new(
        "pier dev: a one-line edit saved → the new version answering (a `pier new` folder)",
        "ms",
        Better::Lower,
    );
    let mut builds = Row::new(
        "pier build of a new `pier new` folder, toolchain installed",
        "ms",
        Better::Lower,
    );
    // Inside the repository: a new Rust crate depends on pier-sdk by path.
    let work = match tempfile::tempdir_in("target") {
        Ok(work) => work,
        Err(e) => {
            saves.note = Some(format!("no work folder: {e}. "));
            return vec![saves, builds];
        }
    };
    let cache = setup.root.path().join("dev-cache");
    for (id, lang, file) in LANGS {
        progress(&format!("pier dev, edit loop: {id}"));
        match save_times(work.path(), &cache, lang, file).await {
            Ok(times) => saves.set(id, median(&times)),
            Err(e) => {
                progress(&format!("  {id}: failed: {e:#}"));
                saves
                    .note
                    .get_or_insert_default()
                    .push_str(&format!("{id} failed: {e:#}. "));
            }
        }
        progress(&format!("pier build: {id}"));
        match build_times(work.path(), &cache, lang).await {
            Ok(times) => builds.set(id, median(&times)),
            Err(e) => builds
                .note
                .get_or_insert_default()
                .push_str(&format!("{id} failed: {e:#}. ")),
        }
    }
    saves.note = Some(format!(
        "Median of {EDITS} saves, from the write of the file to a tools/call answering with the edited text (calls every 5 ms). Python and JS folders are served through pier dev's interpreters (built and compiled once, before the first save); Rust is rebuilt with cargo. {}",
        saves.note.take().unwrap_or_default()
    ));
    builds.note = Some(format!(
        "Median of {BUILDS} builds, each of a folder `pier new` just wrote (a new plugin name each), with componentize-py, esbuild and componentize-js installed and the cargo target directory warm. {}",
        builds.note.take().unwrap_or_default()
    ));
    vec![saves, builds]
}

/// `pier dev` of a new `lang` folder in `work`, and the milliseconds each of
/// [`EDITS`] saves took to answer.
async fn save_times(work: &Path, cache: &Path, lang: &str, file: &str) -> anyhow::Result<Vec<f64>> {
    let name = format!("edit{lang}");
    new_folder(work, &name, lang)?;
    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let mut dev = tokio::process::Command::new(std::path::absolute(PIER)?);
    dev.args(["dev", &name, "--listen", &listen, "--storage", "memory"])
        .args(["--log-level", "error"])
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (key, value) in toolchains(cache) {
        dev.env(key, std::path::absolute(value)?);
    }
    let _dev = dev.spawn().context("cannot start pier dev")?;
    let url = format!("http://{listen}/mcp");
    let client = reqwest::Client::new();
    let tool = format!("{name}_hello");
    // The first serve builds (Rust) or makes the interpreter (Python, JS): not measured.
    answers(&client, &url, &tool, "Hello, Ada!", PATIENCE).await?;
    let source = work.join(&name).join(file);
    let mut times = Vec::new();
    let mut current = "Hello".to_string();
    for i in 0..EDITS {
        let next = format!("Hello{i}");
        let code = std::fs::read_to_string(&source)?;
        let saved = Instant::now();
        std::fs::write(
            &source,
            code.replace(&format!("{current}, "), &format!("{next}, ")),
        )?;
        answers(&client, &url, &tool, &format!("{next}, Ada!"), PATIENCE).await?;
        times.push(saved.elapsed().as_secs_f64() * 1e3);
        current = next;
    }
    Ok(times)
}

/// Calls `tool` every 5 ms until it answers `text` (within `patience`).
async fn answers(
    client: &reqwest::Client,
    url: &str,
    tool: &str,
    text: &str,
    patience: Duration,
) -> anyhow::Result<()> {
    let since = Instant::now();
    let mut last = String::new();
    while since.elapsed() < patience {
        let mut session = HttpSession::sessionless(client, url);
        match session
            .request(
                "tools/call",
                json!({"name": tool, "arguments": {"name": "Ada"}}),
            )
            .await
        {
            Ok(result) if result["content"][0]["text"] == text => return Ok(()),
            Ok(result) => last = result.to_string(),
            Err(e) => last = format!("{e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!("{tool} did not answer {text:?} within {patience:?}; last: {last:.300}")
}

/// The milliseconds of [`BUILDS`] `pier build`s, each of a new `lang` folder.
async fn build_times(work: &Path, cache: &Path, lang: &str) -> anyhow::Result<Vec<f64>> {
    let mut times = Vec::new();
    for i in 0..BUILDS {
        let name = format!("build{lang}{i}");
        new_folder(work, &name, lang)?;
        let mut build = tokio::process::Command::new(std::path::absolute(PIER)?);
        build
            .args(["build", &name, "-o", "built"])
            .current_dir(work)
            .stdin(Stdio::null());
        for (key, value) in toolchains(cache) {
            build.env(key, std::path::absolute(value)?);
        }
        let started = Instant::now();
        let output = build.output().await?;
        if !output.status.success() {
            bail!("pier build: {}", String::from_utf8_lossy(&output.stderr));
        }
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    Ok(times)
}
