//! A Python plugin folder served without a build: `pier dev` mounts one interpreter
//! component (built once per SDK, [`crate::builder::python::dev_interpreter`]) under the
//! plugin's name and grants it the folder read-only; each instance imports the folder's
//! `server.py` at its first call. A save only changes the folder's revision, which swaps
//! the plugin: no componentize-py, no compilation.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::{Source, is_source_change, place, report_served, served_names};
use crate::App;
use crate::builder::python::{DEV_SOURCE, dev_interpreter};
use crate::registry::folders::Folder;
use crate::registry::mounts::Outcome;

/// Files larger than this are left out of a folder's revision (a data file beside the
/// code, not a module).
const LARGEST_SOURCE: u64 = 16 << 20;

/// Most files a folder's revision reads: a folder with more is no plugin's source.
const MOST_FILES: usize = 10_000;

/// Serves the Python folder `source` as plugin `name` from `plugins`; reports on
/// stderr what happened and how long each step took.
pub async fn serve(
    app: &App,
    source: &Source,
    name: &str,
    plugins: &Path,
    started: Instant,
) -> Result<(), String> {
    let label = source.dir.display();
    let fail = |e: String| {
        let e = format!("{label}: {e}; the previous version keeps serving");
        eprintln!("pier dev: {e}");
        e
    };
    let interpreting = Instant::now();
    let interpreter = match dev_interpreter().await {
        Ok(path) => path,
        Err(e) => return Err(fail(e)),
    };
    let built = interpreting.elapsed();
    let dir = std::fs::canonicalize(&source.dir).map_err(|e| fail(e.to_string()))?;
    let read = Instant::now();
    let sources = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || Sources::read(&dir))
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(fail)?
    };
    let serving = super::version_of(app, name);
    if serving.as_deref() == Some(sources.revision.as_str()) {
        eprintln!("pier dev: {name}: unchanged");
        return Ok(());
    }
    // The plugin reads a copy of this revision: the version serving now keeps its own,
    // whatever the next save writes (and if that is refused).
    let snapshots = plugins.join(".pier-dev").join(name);
    let copy = sources.copy_into(&snapshots).map_err(fail)?;
    let read = read.elapsed();
    let before = served_names(app, name);
    let revision = sources.revision.clone();
    app.source_folders().set(
        name,
        Folder {
            dir: copy,
            guest: DEV_SOURCE.into(),
            revision: revision.clone(),
        },
    );
    let target = plugins.join(format!("{name}.wasm"));
    let bytes =
        std::fs::read(&interpreter).map_err(|e| fail(format!("{}: {e}", interpreter.display())))?;
    let placed = std::fs::read(&target).is_ok_and(|old| old == bytes);
    if !placed {
        place(source, name, &interpreter, &bytes, plugins).map_err(fail)?;
    } else if let Some(sidecar) = source.sidecar() {
        // The sidecar may have changed with the save: it goes along as a build's would
        // (only then: a copy the watcher sees would load the plugin a second time).
        let text =
            std::fs::read(sidecar).map_err(|e| fail(format!("{}: {e}", sidecar.display())))?;
        let installed = plugins.join(format!("{name}.toml"));
        if std::fs::read(&installed).ok().as_deref() != Some(text.as_slice()) {
            std::fs::write(&installed, text)
                .map_err(|e| fail(format!("{}: {e}", installed.display())))?;
        }
    }
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
            let reason = error.reason.replace(DEV_SOURCE, &label.to_string());
            let e = format!("{name} was refused: {reason}; the previous version keeps serving");
            eprintln!("pier dev: {e}");
            Err(e)
        }
        _ => {
            let phases = format!(
                "interpreter {:.0} ms, read {:.0} ms, swap {:.0} ms",
                built.as_secs_f64() * 1e3,
                read.as_secs_f64() * 1e3,
                swap.elapsed().as_secs_f64() * 1e3
            );
            report_served(app, name, &revision, &before, started, &phases);
            Ok(())
        }
    }
}

/// The source files of a folder (as [`is_source_change`] tells sources apart), read
/// once: hashed into its revision, and copied from these same bytes.
struct Sources {
    /// Each file's path below the folder and its bytes, by path.
    files: Vec<(PathBuf, Vec<u8>)>,
    /// A hash of the paths and bytes.
    revision: String,
}

impl Sources {
    /// The sources of `dir`; an error for a folder too large to be one.
    fn read(dir: &Path) -> Result<Self, String> {
        let mut paths = Vec::new();
        collect(dir, dir, &mut paths)?;
        paths.sort();
        let mut hash = Sha256::new();
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let relative = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
            hash.update(relative.to_string_lossy().as_bytes());
            hash.update([0]);
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(&bytes);
            files.push((relative, bytes));
        }
        Ok(Self {
            files,
            revision: hex::encode(hash.finalize()),
        })
    }

    /// These files in `snapshots/REVISION` (written beside, then renamed; kept when
    /// there already); that folder.
    fn copy_into(&self, snapshots: &Path) -> Result<PathBuf, String> {
        let copy = snapshots.join(&self.revision);
        if copy.is_dir() {
            return Ok(copy);
        }
        let partial = snapshots.join(format!(".{}.{}", self.revision, std::process::id()));
        let write = || -> std::io::Result<()> {
            for (relative, bytes) in &self.files {
                let file = partial.join(relative);
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(file, bytes)?;
            }
            std::fs::create_dir_all(&partial)?;
            std::fs::rename(&partial, &copy)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_dir_all(&partial);
            format!("cannot copy the sources into {}: {e}", snapshots.display())
        })?;
        Ok(copy)
    }
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

fn collect(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if !is_source_change(root, &path) {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            collect(root, &path, files)?;
        } else if kind.is_file() && entry.metadata().is_ok_and(|m| m.len() <= LARGEST_SOURCE) {
            files.push(path);
            if files.len() > MOST_FILES {
                return Err(format!(
                    "more than {MOST_FILES} files: is it a plugin's source folder?"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_changes_with_any_source_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let revision = || Sources::read(dir.path()).unwrap().revision;
        std::fs::write(dir.path().join("server.py"), "a = 1\n").unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("lib/util.py"), "b = 2\n").unwrap();
        let first = revision();
        assert_eq!(revision(), first);
        // Bytecode, hidden files and build output are no source.
        std::fs::create_dir(dir.path().join("__pycache__")).unwrap();
        std::fs::write(dir.path().join("__pycache__/server.pyc"), "x").unwrap();
        std::fs::write(dir.path().join(".server.py.swp"), "x").unwrap();
        std::fs::write(dir.path().join("old.wasm"), "x").unwrap();
        assert_eq!(revision(), first);
        std::fs::write(dir.path().join("lib/util.py"), "b = 3\n").unwrap();
        assert_ne!(revision(), first);
    }

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
