//! Python and JavaScript plugin folders served without a build: `pier dev` mounts one
//! interpreter component per language (built once per SDK:
//! [`crate::builder::python::dev_interpreter`], [`crate::builder::js::dev::dev_interpreter`])
//! under the plugin's name and hands it the plugin's sources — a Python folder as a
//! read-only copy of its files (each instance imports `server.py` at its first call), a
//! JS folder as its module bundled by esbuild (run at each instance's first call). A
//! save only changes the sources' revision, which swaps the plugin: no componentize-py
//! or componentize-js, no compilation.

use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::{Build, Source, place, report_served, served_names};
use crate::App;
use crate::builder::js::dev as js;
use crate::builder::python::{DEV_SOURCE, dev_interpreter};
use crate::builder::sources::Sources;
use crate::registry::folders::Folder;
use crate::registry::mounts::Outcome;

/// Serves the Python or JS folder `source` as plugin `name` from `plugins`; reports on
/// stderr what happened and how long each step took since `started` (the save).
pub async fn serve(
    app: &App,
    source: &Source,
    name: &str,
    plugins: &Path,
    started: Instant,
) -> Result<(), String> {
    let label = source.dir.display().to_string();
    let fail = |e: String| {
        let e = format!("{label}: {e}; the previous version keeps serving");
        tell!("pier dev: {e}");
        e
    };
    let interpreting = Instant::now();
    let interpreter = match &source.build {
        Build::Js { .. } => js::dev_interpreter().await,
        _ => dev_interpreter().await,
    }
    .map_err(fail)?;
    let built = interpreting.elapsed();
    let serving = super::version_of(app, name);
    // Installed by this run already (a run starts without it: `super::clear`).
    let installed = app.source_folders().get(name).is_some();
    let reading = Instant::now();
    let (sources, step) = match &source.build {
        Build::Js { entry, .. } => (
            Read::Module(js::bundle(&source.dir, entry).await.map_err(fail)?),
            "bundle",
        ),
        _ => {
            let dir = std::fs::canonicalize(&source.dir).map_err(|e| fail(e.to_string()))?;
            let files = tokio::task::spawn_blocking(move || Sources::read(&dir))
                .await
                .map_err(|e| fail(e.to_string()))?
                .map_err(fail)?;
            (Read::Files(files), "read")
        }
    };
    let revision = match &sources {
        Read::Module(text) => hex::encode(Sha256::digest(text.as_bytes())),
        Read::Files(files) => files.revision.clone(),
    };
    if serving.as_deref() == Some(revision.as_str()) {
        tell!("pier dev: {name}: unchanged");
        return Ok(());
    }
    let snapshots = plugins.join(".pier-dev").join(name);
    let folder = match sources {
        Read::Module(text) => Folder::Value {
            key: js::DEV_MODULE.into(),
            text,
            revision: revision.clone(),
        },
        // The plugin reads a copy of this revision: the version serving now keeps its
        // own, whatever the next save writes (and if that is refused).
        Read::Files(files) => Folder::Files {
            dir: files.copy_into(&snapshots).map_err(fail)?,
            guest: DEV_SOURCE.into(),
            revision: revision.clone(),
        },
    };
    let read = reading.elapsed();
    let before = served_names(app, name);
    app.source_folders().set(name, folder);
    let target = plugins.join(format!("{name}.wasm"));
    install(
        source,
        name,
        &interpreter,
        plugins,
        installed && target.is_file(),
    )
    .map_err(fail)?;
    let swap = Instant::now();
    let outcome = app.reconcile(&target).await;
    let keep = [
        Some(revision.clone()),
        super::version_of(app, name),
        serving,
    ];
    prune(&snapshots, &keep);
    match outcome {
        Outcome::Refused { error, .. } => {
            // Where the guest saw the folder, the person sees theirs.
            let reason = error.reason.replace(DEV_SOURCE, &label);
            let e = format!("{name} was refused: {reason}; the previous version keeps serving");
            tell!("pier dev: {e}");
            Err(e)
        }
        _ => {
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            let phases = format!(
                "interpreter {:.0} ms, {step} {:.0} ms, swap {:.0} ms",
                ms(built),
                ms(read),
                ms(swap.elapsed())
            );
            report_served(app, name, &revision, &before, started, &phases);
            Ok(())
        }
    }
}

/// Puts the interpreter into `plugins` as plugin `name` unless this run `installed` it
/// already, and the source's sidecar beside it when it changed (only then: a copy the
/// watcher sees would load the plugin a second time).
fn install(
    source: &Source,
    name: &str,
    interpreter: &Path,
    plugins: &Path,
    installed: bool,
) -> Result<(), String> {
    if !installed {
        let bytes =
            std::fs::read(interpreter).map_err(|e| format!("{}: {e}", interpreter.display()))?;
        // Recorded first: a run killed in between leaves a file it knows as its own.
        super::placed_interpreter(plugins, name, &bytes)?;
        return place(source, name, interpreter, &bytes, plugins).map(|_| ());
    }
    if let Some(sidecar) = source.sidecar() {
        let text = std::fs::read(sidecar).map_err(|e| format!("{}: {e}", sidecar.display()))?;
        let installed = plugins.join(format!("{name}.toml"));
        if std::fs::read(&installed).ok().as_deref() != Some(text.as_slice()) {
            std::fs::write(&installed, text)
                .map_err(|e| format!("{}: {e}", installed.display()))?;
        }
    }
    Ok(())
}

/// A plugin's sources as read for a save.
enum Read {
    /// A JS module, bundled.
    Module(String),
    /// A Python folder's files.
    Files(Sources),
}

/// Removes the copies in `snapshots` of every revision but those of `keep`.
fn prune(snapshots: &Path, keep: &[Option<String>]) {
    let Ok(entries) = std::fs::read_dir(snapshots) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !keep.iter().flatten().any(|k| *k == name) && !name.starts_with('.') {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_revision_is_a_copy_of_its_own_and_old_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let snapshots = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("lib/util.py"), "one").unwrap();
        let one = Sources::read(dir.path()).unwrap();
        let first = one.copy_into(snapshots.path()).unwrap();
        std::fs::write(dir.path().join("lib/util.py"), "two").unwrap();
        let two = Sources::read(dir.path()).unwrap();
        let second = two.copy_into(snapshots.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(first.join("lib/util.py")).unwrap(),
            "one"
        );
        assert_eq!(
            std::fs::read_to_string(second.join("lib/util.py")).unwrap(),
            "two"
        );
        assert_eq!(two.copy_into(snapshots.path()).unwrap(), second, "kept");
        prune(snapshots.path(), &[Some(two.revision.clone()), None]);
        assert!(!first.exists());
        assert!(second.exists());
    }
}
