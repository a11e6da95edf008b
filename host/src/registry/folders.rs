//! Plugins served from a source folder through one interpreter component (`pier dev`
//! for Python): which folder each plugin reads, where the guest finds it, and the
//! folder's revision — so that a save swaps the plugin although its component file did
//! not change. Only what `pier dev` registers here is granted: a sidecar cannot name a
//! folder.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// A plugin's source folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// The folder on the host, granted read-only.
    pub dir: PathBuf,
    /// Where the guest finds it.
    pub guest: String,
    /// A hash of its files: the mount's version.
    pub revision: String,
}

/// The source folders of the plugins served so, by plugin name (file stem).
#[derive(Debug, Default)]
pub struct SourceFolders {
    folders: Mutex<HashMap<String, Folder>>,
}

impl SourceFolders {
    fn folders(&self) -> std::sync::MutexGuard<'_, HashMap<String, Folder>> {
        self.folders.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves plugin `name` from `folder` (at its revision) from its next load on.
    pub fn set(&self, name: &str, folder: Folder) {
        self.folders().insert(name.to_string(), folder);
    }

    /// Plugin `name` is a component of its own again.
    pub fn remove(&self, name: &str) {
        self.folders().remove(name);
    }

    /// The folder plugin `name` is served from, if any.
    pub fn get(&self, name: &str) -> Option<Folder> {
        self.folders().get(name).cloned()
    }
}
