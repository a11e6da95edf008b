//! Plugins served from their sources through one interpreter component (`pier dev`, for
//! Python and JS folders): what each plugin is handed (a folder granted read-only, or a
//! bundled module in a configuration value) and its revision — so that a save swaps the
//! plugin although its component file did not change. Only what `pier dev` registers
//! here is handed over: a sidecar cannot name a folder.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// What a plugin served from its sources reads them through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Folder {
    /// A host folder granted read-only at a guest path (Python).
    Files {
        /// The folder on the host.
        dir: PathBuf,
        /// Where the guest finds it.
        guest: String,
        /// A hash of its files: the mount's version.
        revision: String,
    },
    /// A configuration value (`wasi:config/store`) holding the bundled module (JS).
    Value {
        /// The key.
        key: String,
        /// The module's text.
        text: String,
        /// A hash of it: the mount's version.
        revision: String,
    },
}

impl Folder {
    /// What the mount's version is.
    pub fn revision(&self) -> &str {
        match self {
            Self::Files { revision, .. } | Self::Value { revision, .. } => revision,
        }
    }
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

    /// The folder plugin `name` is served from, if any.
    pub fn get(&self, name: &str) -> Option<Folder> {
        self.folders().get(name).cloned()
    }
}
