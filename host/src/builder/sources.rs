//! A plugin folder's sources: which files are sources (not build output, VCS data or
//! editor droppings), read once and hashed into a revision — what `pier dev` watches,
//! copies per revision, and what `pier build` keys its cache of built components on.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Files larger than this are left out of a folder's revision (a data file beside the
/// code, not a module).
const LARGEST_SOURCE: u64 = 16 << 20;

/// Most files a folder's revision reads: a folder with more is no plugin's source.
const MOST_FILES: usize = 10_000;

/// Whether a changed `path` in the source folder `dir` is a source change (not build
/// output, VCS data or editor droppings).
pub fn is_source_change(dir: &Path, path: &Path) -> bool {
    let Ok(path) = path.strip_prefix(dir) else {
        return false;
    };
    !path.components().any(|c| {
        let c = c.as_os_str().to_string_lossy();
        c == "target" || c == "node_modules" || c == "__pycache__" || c.starts_with('.')
    }) && path.extension().is_none_or(|e| e != "wasm")
}

/// The source files of a folder (as [`is_source_change`] tells sources apart), read
/// once: hashed into its revision, and copied from these same bytes.
pub struct Sources {
    /// Each file's path below the folder and its bytes, by path.
    pub files: Vec<(PathBuf, Vec<u8>)>,
    /// A hash of the paths and bytes.
    pub revision: String,
}

impl Sources {
    /// The sources of `dir`; an error for a folder too large to be one.
    pub fn read(dir: &Path) -> Result<Self, String> {
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
    pub fn copy_into(&self, snapshots: &Path) -> Result<PathBuf, String> {
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
    fn build_output_and_hidden_files_are_not_source_changes() {
        let dir = Path::new("/tmp/.src");
        assert!(is_source_change(dir, Path::new("/tmp/.src/src/lib.rs")));
        assert!(is_source_change(dir, Path::new("/tmp/.src/app.py")));
        assert!(!is_source_change(dir, Path::new("/tmp/.src/target/x.rlib")));
        assert!(!is_source_change(dir, Path::new("/tmp/.src/.git/index")));
        assert!(!is_source_change(
            dir,
            Path::new("/tmp/.src/src/.lib.rs.swp")
        ));
        assert!(!is_source_change(dir, Path::new("/tmp/.src/out.wasm")));
        // Only the part below the folder counts: the folder may sit anywhere.
        let dir = Path::new("/repo/target/.tmpAb12/greet");
        assert!(is_source_change(dir, &dir.join("src/lib.rs")));
        assert!(!is_source_change(dir, &dir.join("target/debug/x")));
        assert!(!is_source_change(dir, Path::new("/elsewhere/src/lib.rs")));
    }

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
}
