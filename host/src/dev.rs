//! `pier dev`: serve, and rebuild plugin sources on save.
//!
//! Each source folder is built once at start and again whenever a file in it changes;
//! the fresh component is renamed into the plugin directory, where the watcher swaps it
//! in. A failed build prints the compiler's errors and leaves the previous version
//! serving. What a source folder is:
//!
//! - a Rust crate (`Cargo.toml`): `cargo build --release --target wasm32-wasip2`, the
//!   crate's `cdylib` component is the plugin, named after the library (`hello.wasm`);
//! - any folder with a sidecar `NAME.toml` that has `build = "…"`: the command runs in
//!   the folder through `sh -c` and must write the component to `$PIER_OUT`; the plugin
//!   is `NAME`, and the sidecar is copied beside it (Python, JavaScript, anything);
//! - a Python folder with a FastMCP-style `server.py` (the Python SDK): built with
//!   componentize-py by [`crate::builder`];
//! - a JavaScript or TypeScript folder with `server.ts` (or `server.js`, `server.mjs`,
//!   `index.ts`, `index.js`) making an `McpServer` of the JS SDK: bundled by esbuild and
//!   built with componentize-js by [`crate::builder::js`].
//!
//! The plugin of a Python or JS folder is `NAME` of a sidecar `NAME.toml` when there is
//! one (copied beside it), else the folder's name.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher as _};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::App;
use crate::builder::sources::is_source_change;

/// A `pier dev` line on standard error, out of the way of any progress spinner.
macro_rules! tell {
    ($($arg:tt)*) => {
        crate::progress::eprintln(&format!($($arg)*))
    };
}

mod folder;

/// How a source folder is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Build {
    /// `cargo build` of the crate in the folder.
    Rust,
    /// A shell command from the sidecar `NAME.toml`, writing `$PIER_OUT`.
    Command {
        /// The plugin's name.
        name: String,
        /// The command.
        command: String,
        /// The sidecar to copy beside the component.
        sidecar: PathBuf,
    },
    /// A `server.py` written with the Python SDK.
    Python {
        /// The plugin's name.
        name: String,
        /// Its sidecar, if it has one.
        sidecar: Option<PathBuf>,
    },
    /// A module written with the JS SDK.
    Js {
        /// The plugin's name.
        name: String,
        /// Its sidecar, if it has one.
        sidecar: Option<PathBuf>,
        /// The module the plugin starts from.
        entry: PathBuf,
    },
}

/// A plugin source folder.
#[derive(Debug, Clone)]
pub struct Source {
    /// The folder.
    pub dir: PathBuf,
    /// How it is built.
    pub build: Build,
}

#[derive(Deserialize)]
struct BuildKey {
    build: Option<String>,
}

impl Source {
    /// What `dir` is: a Rust crate, or a folder with a sidecar that has `build`.
    pub fn detect(dir: &Path) -> Result<Self, String> {
        if !dir.is_dir() {
            return Err(format!("{}: not a directory", dir.display()));
        }
        if dir.join("Cargo.toml").is_file() {
            return Ok(Self {
                dir: dir.to_path_buf(),
                build: Build::Rust,
            });
        }
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut sidecars: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        sidecars.sort();
        for sidecar in &sidecars {
            let text = std::fs::read_to_string(sidecar).unwrap_or_default();
            let Ok(BuildKey {
                build: Some(command),
            }) = toml::from_str::<BuildKey>(&text)
            else {
                continue;
            };
            let name = sidecar
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            return Ok(Self {
                dir: dir.to_path_buf(),
                build: Build::Command {
                    name,
                    command,
                    sidecar: sidecar.clone(),
                },
            });
        }
        // A Python or JS folder: named by its sidecar, else after itself.
        let named = |sidecars: Vec<PathBuf>| -> Result<(String, Option<PathBuf>), String> {
            let sidecar = sidecars.into_iter().next();
            let stem = sidecar.as_ref().and_then(|s| s.file_stem()?.to_str());
            let name = match stem {
                Some(stem) => stem.to_string(),
                None => plugin_name(dir)?,
            };
            Ok((name, sidecar))
        };
        if dir.join("server.py").is_file() {
            let (name, sidecar) = named(sidecars)?;
            return Ok(Self {
                dir: dir.to_path_buf(),
                build: Build::Python { name, sidecar },
            });
        }
        if let Some(entry) = crate::builder::js::entry(dir) {
            let (name, sidecar) = named(sidecars)?;
            return Ok(Self {
                dir: dir.to_path_buf(),
                build: Build::Js {
                    name,
                    sidecar,
                    entry,
                },
            });
        }
        Err(format!(
            "{}: not a plugin source folder: neither a Rust crate (Cargo.toml), a Python folder (server.py, with the Python SDK), a JavaScript or TypeScript folder (server.ts or server.js, with the JS SDK), nor a folder with a sidecar NAME.toml that says how to build it (build = \"…\", writing $PIER_OUT)",
            dir.display()
        ))
    }

    /// The sidecar copied beside the component, if any.
    pub fn sidecar(&self) -> Option<&Path> {
        match &self.build {
            Build::Rust => None,
            Build::Command { sidecar, .. } => Some(sidecar),
            Build::Python { sidecar, .. } | Build::Js { sidecar, .. } => sidecar.as_deref(),
        }
    }

    /// Builds the component; returns the plugin name and the built file (in `scratch`,
    /// or the crate's target directory).
    pub async fn build(&self, scratch: &Path) -> Result<(String, PathBuf), String> {
        match &self.build {
            Build::Rust => build_rust(&self.dir).await,
            Build::Python { name, .. } => {
                let out = scratch.join(format!(".{name}.wasm.build"));
                crate::builder::build_python(&self.dir, &out).await?;
                Ok((name.clone(), out))
            }
            Build::Js { name, entry, .. } => {
                let out = scratch.join(format!(".{name}.wasm.build"));
                crate::builder::js::build_js(&self.dir, entry, &out).await?;
                Ok((name.clone(), out))
            }
            Build::Command { name, command, .. } => {
                let out = scratch.join(format!(".{name}.wasm.build"));
                let mut run = tokio::process::Command::new("sh");
                run.arg("-c")
                    .arg(command)
                    .current_dir(&self.dir)
                    .env("PIER_OUT", &out);
                let what = format!("`{command}`");
                let ran = crate::builder::run_passing_through(run, &what, false).await?;
                if !ran.status.success() {
                    return Err(ran.failure(&what));
                }
                if !out.is_file() {
                    return Err(format!("`{command}` did not write $PIER_OUT"));
                }
                Ok((name.clone(), out))
            }
        }
    }
}

/// `cargo build` in `dir`; the crate's `cdylib` component.
async fn build_rust(dir: &Path) -> Result<(String, PathBuf), String> {
    let manifest = std::fs::canonicalize(dir.join("Cargo.toml")).map_err(|e| e.to_string())?;
    let mut cargo = tokio::process::Command::new("cargo");
    cargo
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(dir);
    let ran = crate::builder::run_passing_through(cargo, "cargo", true).await?;
    if !ran.status.success() {
        return Err(ran.failure_without("cargo build", crate::builder::cargo_progress));
    }
    for line in String::from_utf8_lossy(&ran.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let ours = message["manifest_path"].as_str().map(Path::new) == Some(manifest.as_path());
        let cdylib = message["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "cdylib"));
        if message["reason"] == "compiler-artifact" && ours && cdylib {
            let wasm = message["filenames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"));
            if let Some(wasm) = wasm {
                let path = PathBuf::from(wasm);
                let name = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_string();
                return Ok((name, path));
            }
        }
    }
    Err(format!(
        "{} built no component: is it a `cdylib` crate?",
        dir.display()
    ))
}

/// Puts a built component (`bytes`, built at `built`) into `plugins` as `NAME.wasm`,
/// with the source's sidecar as `NAME.toml` (a crate's: `NAME.toml` beside its
/// `Cargo.toml`): written beside, then renamed, so that a watcher sees one complete
/// file. The component's path.
pub fn place(
    source: &Source,
    name: &str,
    built: &Path,
    bytes: &[u8],
    plugins: &Path,
) -> Result<PathBuf, String> {
    let target = plugins.join(format!("{name}.wasm"));
    // A crate's sidecar is the NAME.toml beside its Cargo.toml, when there is one.
    let crate_sidecar = source.dir.join(format!("{name}.toml"));
    let sidecar = source.sidecar().or_else(|| {
        (source.build == Build::Rust && crate_sidecar.is_file()).then_some(crate_sidecar.as_path())
    });
    if let Some(sidecar) = sidecar {
        std::fs::copy(sidecar, plugins.join(format!("{name}.toml")))
            .map_err(|e| format!("{}: {e}", sidecar.display()))?;
    }
    let partial = plugins.join(format!(".{name}.wasm.part"));
    std::fs::write(&partial, bytes).map_err(|e| format!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, &target).map_err(|e| format!("{}: {e}", target.display()))?;
    if built.starts_with(plugins) {
        let _ = std::fs::remove_file(built);
    }
    Ok(target)
}

/// A plugin name from a folder's name: `[A-Za-z0-9_-]` kept, anything else `_`.
fn plugin_name(dir: &Path) -> Result<String, String> {
    let full = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let folder = full
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = folder
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        return Err(format!(
            "{}: a folder name is needed to name the plugin",
            dir.display()
        ));
    }
    Ok(name)
}

/// The namespaced names a plugin serves: tools, resources and templates, prompts.
fn served_names(app: &App, plugin: &str) -> Vec<String> {
    let cat = app.registry().snapshot();
    let mine = |m: &Arc<crate::registry::Mount>| m.name == plugin && m.wasm().is_some();
    let mut names: Vec<String> = Vec::new();
    names.extend(
        cat.tools
            .items()
            .iter()
            .filter(|e| mine(&e.mount))
            .map(|e| e.tool.name.to_string()),
    );
    names.extend(
        cat.resources
            .items()
            .iter()
            .filter(|e| mine(&e.mount))
            .map(|e| e.resource.uri.clone()),
    );
    names.extend(
        cat.templates
            .items()
            .iter()
            .filter(|e| mine(&e.mount))
            .map(|e| e.template.uri_template.clone()),
    );
    names.extend(
        cat.prompts
            .items()
            .iter()
            .filter(|e| mine(&e.mount))
            .map(|e| e.prompt.name.clone()),
    );
    names
}

fn version_of(app: &App, plugin: &str) -> Option<String> {
    app.registry()
        .snapshot()
        .mounts
        .iter()
        .find(|m| m.name == plugin && m.wasm().is_some())
        .map(|m| m.version.clone())
}

/// Builds `source` and installs the component into `plugins` (a Python or JS folder is
/// served from its sources instead, [`folder`]); reports on stderr what was built, how
/// long it took since `started` (the save), and what changed in the catalogue.
pub async fn rebuild(
    app: &App,
    source: &Source,
    plugins: &Path,
    started: Instant,
) -> Result<(), String> {
    if let Build::Python { name, .. } | Build::Js { name, .. } = &source.build {
        return folder::serve(app, source, name, plugins, started).await;
    }
    let label = source.dir.display();
    tell!("pier dev: building {label}");
    let (name, built) = source.build(plugins).await.map_err(|e| {
        let e = format!(
            // The toolchain's words may span lines: they come last.
            "build of {label} failed after {:.1} s, the previous version keeps serving: {e}",
            started.elapsed().as_secs_f64()
        );
        tell!("pier dev: {e}");
        e
    })?;
    let bytes = std::fs::read(&built).map_err(|e| e.to_string())?;
    let hash = crate::runtime::AotCache::content_hash(&bytes);
    let before = served_names(app, &name);
    let target = plugins.join(format!("{name}.wasm"));
    if version_of(app, &name).as_deref() == Some(hash.as_str()) {
        tell!(
            "pier dev: built {name} in {:.1} s: unchanged",
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    place(source, &name, &built, &bytes, plugins)?;
    let build = started.elapsed();
    tell!("pier dev: built {name} in {:.1} s", build.as_secs_f64());
    // Wait (bounded) for the watcher to serve it, or to refuse it.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if version_of(app, &name).as_deref() == Some(hash.as_str()) {
            break;
        }
        if let Some(refusal) = app.refusals().into_iter().find(|r| r.error.file == target) {
            let e = format!(
                "{name} was refused: {}; the previous version keeps serving",
                refusal.error.reason
            );
            tell!("pier dev: {e}");
            return Err(e);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{name} was not mounted within 120 s (is pier watching {}?)",
                plugins.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let phases = format!(
        "build {:.1} s, load {:.1} s",
        build.as_secs_f64(),
        (started.elapsed() - build).as_secs_f64()
    );
    report_served(app, &name, &hash, &before, started, &phases);
    Ok(())
}

/// Says that `name` serves `version` now, how long it took since `started` (in
/// `phases`), and which of its names came and went (it served `before`).
fn report_served(
    app: &App,
    name: &str,
    version: &str,
    before: &[String],
    started: Instant,
    phases: &str,
) {
    let after = served_names(app, name);
    let mut change = String::new();
    for n in after.iter().filter(|n| !before.contains(n)) {
        change.push_str(&format!(" +{n}"));
    }
    for n in before.iter().filter(|n| !after.contains(n)) {
        change.push_str(&format!(" -{n}"));
    }
    if change.is_empty() {
        change = " same names".into();
    }
    tell!(
        "pier dev: serving {name} {} ({:.1} s after the save: {phases}):{change}",
        version.get(..12).unwrap_or(version),
        started.elapsed().as_secs_f64()
    );
}

/// Where a run of `pier dev` keeps what it must give back when it ends, for the folder
/// served as plugin `name`: the component `pier build` had put into `plugins` (moved
/// aside while the interpreter serves the folder), and the hash of the interpreter it
/// placed (so that a later run knows a leftover of a run that did not end well).
fn set_aside(plugins: &Path, name: &str) -> (PathBuf, PathBuf) {
    let dir = plugins.join(".pier-dev");
    (
        dir.join(format!("{name}.wasm.built")),
        dir.join(format!("{name}.interpreter")),
    )
}

fn file_hash(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|bytes| hex::encode(Sha256::digest(&bytes)))
}

/// Records that the interpreter `bytes` now serves plugin `name` from `plugins`.
fn placed_interpreter(plugins: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let (_, marker) = set_aside(plugins, name);
    if let Some(dir) = marker.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&marker, hex::encode(Sha256::digest(bytes)))
        .map_err(|e| format!("{}: {e}", marker.display()))
}

/// Whether `plugins/NAME.wasm` is the interpreter a run of `pier dev` placed.
fn is_interpreter(plugins: &Path, name: &str) -> bool {
    let (_, marker) = set_aside(plugins, name);
    let placed = std::fs::read_to_string(marker).ok();
    placed.is_some() && placed == file_hash(&plugins.join(format!("{name}.wasm")))
}

/// The names of the sources `pier dev` serves from their sources (Python, JS), whose
/// component in `plugins` it replaces by an interpreter while it runs.
fn interpreted(sources: &[Source]) -> impl Iterator<Item = &str> {
    sources.iter().filter_map(|source| match &source.build {
        Build::Python { name, .. } | Build::Js { name, .. } => Some(name.as_str()),
        _ => None,
    })
}

/// Before serving: moves aside the component in `plugins` of every source `pier dev`
/// serves from its sources (Python, JS) — it would be loaded before its sources are
/// handed over, a refusal for nothing — to give it back at the end ([`give_back`]). A
/// leftover interpreter of a run that did not end well is removed instead.
pub fn clear(sources: &[Source], plugins: &Path) {
    for name in interpreted(sources) {
        let file = plugins.join(format!("{name}.wasm"));
        if !file.is_file() {
            continue;
        }
        if is_interpreter(plugins, name) {
            let _ = std::fs::remove_file(&file);
            continue;
        }
        let (kept, _) = set_aside(plugins, name);
        let moved = kept
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::rename(&file, &kept));
        if let Err(e) = moved {
            tell!("pier dev: cannot set {} aside: {e}", file.display());
            let _ = std::fs::remove_file(&file);
        }
    }
}

/// When `pier dev` ends: `plugins` gets back, for each source served from its sources,
/// the component `pier build` had put there (or none), instead of the interpreter,
/// which serves nothing without `pier dev` — so that `pier serve` serves what it did
/// before. A component built into `plugins` while `pier dev` ran stays.
pub fn give_back(sources: &[Source], plugins: &Path) {
    for name in interpreted(sources) {
        let file = plugins.join(format!("{name}.wasm"));
        let (kept, marker) = set_aside(plugins, name);
        let ours = !file.exists() || is_interpreter(plugins, name);
        if ours {
            if kept.is_file() {
                match std::fs::rename(&kept, &file) {
                    Ok(()) => tell!(
                        "pier dev: {} is again the component `pier build` made before; `pier build` of the folder puts what you edited into service",
                        file.display()
                    ),
                    Err(e) => tell!("pier dev: cannot put {} back: {e}", kept.display()),
                }
            } else {
                let _ = std::fs::remove_file(&file);
                tell!(
                    "pier dev: {name} was served from its sources; `pier build` of the folder puts it into {} for `pier serve`",
                    plugins.display()
                );
            }
        } else {
            let _ = std::fs::remove_file(&kept);
        }
        let _ = std::fs::remove_file(marker);
    }
}

/// Builds every source, then rebuilds each on changes, until the process ends.
pub async fn run(app: Arc<App>, sources: Vec<Source>, plugins: PathBuf) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let mut watchers = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let tx = tx.clone();
        // Watched by its full path, so that events name paths under it: only what lies
        // below the folder decides whether a change is a source change (the folder may
        // itself sit under a `target/` or a hidden directory).
        let dir = std::fs::canonicalize(&source.dir).unwrap_or_else(|_| source.dir.clone());
        let watched = dir.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            let relevant = !matches!(event.kind, notify::EventKind::Access(_))
                && event.paths.iter().any(|p| is_source_change(&dir, p));
            if relevant {
                let _ = tx.send((i, Instant::now()));
            }
        })
        .and_then(|mut w| w.watch(&watched, RecursiveMode::Recursive).map(|()| w));
        match watcher {
            Ok(w) => watchers.push(w),
            Err(e) => tell!("pier dev: cannot watch {}: {e}", source.dir.display()),
        }
    }
    for source in &sources {
        let _ = rebuild(&app, source, &plugins, Instant::now()).await;
    }
    tell!(
        "pier dev: watching {} source folder(s); save a file to rebuild",
        sources.len()
    );
    while let Some((first, saved)) = rx.recv().await {
        // One build per burst of saves.
        tokio::time::sleep(BURST).await;
        let mut due = vec![first];
        while let Ok((i, _)) = rx.try_recv() {
            due.push(i);
        }
        due.sort_unstable();
        due.dedup();
        for i in due {
            let _ = rebuild(&app, &sources[i], &plugins, saved).await;
        }
    }
}

/// How long after a save `pier dev` waits for the rest of a burst of saves (an editor
/// writing a file in steps, a formatter running on save) before it rebuilds once.
const BURST: Duration = Duration::from_millis(150);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_pier_build_put_into_the_plugin_directory_is_given_back_at_the_end() {
        let plugins = tempfile::tempdir().unwrap();
        let plugins = plugins.path();
        let sources = [Source {
            dir: plugins.join("greet-src"),
            build: Build::Python {
                name: "greet".into(),
                sidecar: None,
            },
        }];
        let file = plugins.join("greet.wasm");
        let serve_interpreter = || {
            std::fs::write(&file, b"interpreter").unwrap();
            placed_interpreter(plugins, "greet", b"interpreter").unwrap();
        };
        let read = || std::fs::read(&file).ok();
        let aside = plugins.join(".pier-dev");
        let left_aside = || std::fs::read_dir(&aside).map_or(0, |d| d.count());
        // A build, set aside while the interpreter serves, back at the end.
        std::fs::write(&file, b"built").unwrap();
        clear(&sources, plugins);
        assert_eq!(read(), None);
        serve_interpreter();
        give_back(&sources, plugins);
        assert_eq!(read().as_deref(), Some(&b"built"[..]));
        assert_eq!(left_aside(), 0);
        // No build: nothing is left behind, the interpreter serves nothing alone.
        std::fs::remove_file(&file).unwrap();
        clear(&sources, plugins);
        serve_interpreter();
        give_back(&sources, plugins);
        assert_eq!(read(), None);
        // A run that did not end (killed): its interpreter goes at the next start, the
        // build it had set aside comes back at that run's end.
        std::fs::write(&file, b"built").unwrap();
        clear(&sources, plugins);
        serve_interpreter();
        clear(&sources, plugins);
        assert_eq!(read(), None, "the leftover interpreter is removed");
        serve_interpreter();
        give_back(&sources, plugins);
        assert_eq!(read().as_deref(), Some(&b"built"[..]));
        // Built again while `pier dev` ran: the new build stays.
        clear(&sources, plugins);
        serve_interpreter();
        std::fs::write(&file, b"built again").unwrap();
        give_back(&sources, plugins);
        assert_eq!(read().as_deref(), Some(&b"built again"[..]));
        assert_eq!(left_aside(), 0);
    }

    #[test]
    fn python_and_js_folders_are_named_by_their_sidecar_or_themselves() {
        let work = tempfile::tempdir().unwrap();
        let js = work.path().join("weather-js");
        std::fs::create_dir(&js).unwrap();
        std::fs::write(js.join("index.js"), "").unwrap();
        std::fs::write(js.join("server.ts"), "").unwrap();
        let found = Source::detect(&js).unwrap();
        assert_eq!(
            found.build,
            Build::Js {
                name: "weather-js".into(),
                sidecar: None,
                entry: js.join("server.ts"),
            }
        );
        std::fs::write(js.join("forecast.toml"), "[limits]\n").unwrap();
        let found = Source::detect(&js).unwrap();
        assert_eq!(found.sidecar(), Some(js.join("forecast.toml").as_path()));
        assert!(matches!(found.build, Build::Js { ref name, .. } if name == "forecast"));
        // A Python server wins over a stray JS module.
        std::fs::write(js.join("server.py"), "").unwrap();
        assert!(matches!(
            Source::detect(&js).unwrap().build,
            Build::Python { ref name, .. } if name == "forecast"
        ));
    }
}
