//! The live set of mounts: for every plugin file, the version being served and the
//! last error, kept in mount order. Each change rebuilds the catalogue off the request
//! path and publishes it in one atomic swap; calls in flight keep the snapshot (and so
//! the plugin version) they started with.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio_util::sync::DropGuard;

use super::loader::{self, Input, LoadError, LoadOptions, Loaded};
use super::proxy::{Proxy, UpstreamLimits};
use super::spec::{Mode, MountSpec, Target};
use super::{Backend, Changes, Mount, Offer, Registry};
use crate::runtime::{CacheOutcome, Runtime};

mod configured;
mod info;

pub use info::MountInfo;

/// A slot's place in the mount order: the plugin directory's files by name, then the
/// configured and added mounts in the order they came.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// A file of the plugin directory.
    File(PathBuf),
    /// A `[[mount]]` entry or a mount added through the admin API.
    Entry(u64),
}

/// What one [`Mounts::reconcile`] did.
#[derive(Clone)]
pub enum Outcome {
    /// The file was mounted for the first time.
    Mounted {
        /// The new mount.
        mount: Arc<Mount>,
        /// Whether the compiled code came from the AOT cache.
        cache: CacheOutcome,
        /// Which lists changed.
        changes: Changes,
    },
    /// A new version replaced the one being served.
    Swapped {
        /// The new mount.
        mount: Arc<Mount>,
        /// The version hash it replaced.
        previous: String,
        /// Whether the compiled code came from the AOT cache.
        cache: CacheOutcome,
        /// Which lists changed.
        changes: Changes,
    },
    /// The file (or its sidecar) is gone, or the sidecar disabled it: nothing is served.
    Unmounted {
        /// The plugin file.
        file: PathBuf,
        /// Which lists changed.
        changes: Changes,
    },
    /// The file could not be loaded; the previous version, if any, keeps serving.
    Refused {
        /// Why.
        error: LoadError,
        /// Whether a previous version keeps serving.
        previous: bool,
    },
    /// Component and sidecar are the same as what is served (or still absent).
    Unchanged,
}

/// One plugin file or configured mount, and what it serves.
struct Slot {
    key: Key,
    /// The configured mount (entries only).
    spec: Option<MountSpec>,
    /// Stops following a live proxied server when the slot goes.
    _follow: Option<DropGuard>,
    /// Who made it: `directory`, `config` or `admin`.
    origin: &'static str,
    /// The version being served.
    serving: Option<Arc<Mount>>,
    /// Fingerprint of what was last loaded (served or disabled): an event that leaves
    /// it unchanged is not a change.
    fingerprint: Option<String>,
    /// Why the latest version was refused (cleared when a version loads).
    error: Option<LoadError>,
}

/// A refused plugin file or mount, and whether an older version of it still serves.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The file (or the mount's source) and the reason.
    pub error: LoadError,
    /// The namespace of a configured mount (`None` for a file of the plugin directory).
    pub mount: Option<String>,
    /// The version hash still served, when a previous version loaded.
    pub serving: Option<String>,
}

/// The live mounts of one pier instance.
pub struct Mounts {
    runtime: Arc<Runtime>,
    options: LoadOptions,
    upstream: UpstreamLimits,
    registry: Arc<Registry>,
    /// Slots sorted by key: the mount order (a later mount wins a name conflict).
    slots: Mutex<Vec<Slot>>,
    /// The key of the next entry.
    next_entry: std::sync::atomic::AtomicU64,
    /// One lock per slot: two changes of one file (or mount) never interleave, while
    /// a slow one (a large compile, an upstream that takes its time) holds up no other.
    busy: Mutex<std::collections::HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    /// Told of what changes mounts on their own (a tag that moved).
    reporter: std::sync::OnceLock<Reporter>,
}

/// What is told of a change no caller asked for.
pub type Reporter = Box<dyn Fn(&Outcome) + Send + Sync>;

/// A mount refused because its namespace is in use.
#[derive(Debug, Clone, thiserror::Error)]
#[error("namespace `{0}` is used by another mount")]
pub struct NamespaceTaken(pub String);

impl Mounts {
    /// An empty set publishing into `registry`; proxied servers are held to `upstream`.
    pub fn new(
        runtime: Arc<Runtime>,
        options: LoadOptions,
        upstream: UpstreamLimits,
        registry: Arc<Registry>,
    ) -> Self {
        Self {
            runtime,
            options,
            upstream,
            registry,
            slots: Mutex::new(Vec::new()),
            next_entry: std::sync::atomic::AtomicU64::new(0),
            busy: Mutex::default(),
            reporter: std::sync::OnceLock::new(),
        }
    }

    /// Sets who is told of changes no caller asked for (once; later calls are ignored).
    pub fn report_to(&self, reporter: Reporter) {
        let _ = self.reporter.set(reporter);
    }

    /// The lock of slot `key`.
    fn lock_of(&self, key: &Key) -> Arc<tokio::sync::Mutex<()>> {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        busy.entry(key.clone()).or_default().clone()
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The plugin files pier knows of (served, refused or disabled), in mount order.
    pub fn files(&self) -> Vec<PathBuf> {
        self.slots()
            .iter()
            .filter_map(|s| match &s.key {
                Key::File(file) => Some(file.clone()),
                Key::Entry(_) => None,
            })
            .collect()
    }

    /// Files whose latest version was refused, in mount order.
    pub fn refused(&self) -> Vec<Refusal> {
        self.slots()
            .iter()
            .filter_map(|s| {
                Some(Refusal {
                    error: s.error.clone()?,
                    mount: s.spec.as_ref().map(|m| m.namespace.clone()),
                    serving: s.serving.as_ref().map(|m| m.version.clone()),
                })
            })
            .collect()
    }

    /// Brings `file` in line with the disk: mounts, swaps or unmounts it. Reading,
    /// compiling, instantiating and `describe` happen before anything is published; a
    /// file that fails keeps its previous version serving.
    pub async fn reconcile(&self, file: &Path) -> Outcome {
        let key = Key::File(file.to_path_buf());
        let lock = self.lock_of(&key);
        let _one_at_a_time = lock.lock().await;
        let known = self.slots().iter().position(|s| s.key == key);
        let mut input = match Input::read(file).await {
            Ok(input) => input,
            Err(_) if !file.exists() => return self.remove(&key),
            Err(error) => return self.refuse(&key, error),
        };
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        input.folder = self.options.folders.get(stem);
        let fingerprint = input.fingerprint();
        if let Some(i) = known {
            let slots = self.slots();
            if slots[i].fingerprint.as_deref() == Some(&fingerprint) && slots[i].error.is_none() {
                return Outcome::Unchanged;
            }
        }
        match loader::load_input(
            &self.runtime,
            file,
            input,
            Default::default(),
            &self.options,
        )
        .await
        {
            Ok(Loaded::Mounted(mount, cache)) => {
                let (previous, changes) = self.update(&key, |slot| {
                    slot.fingerprint = Some(fingerprint);
                    slot.error = None;
                    slot.serving.replace(mount.clone())
                });
                served(mount, previous, cache, changes)
            }
            Ok(Loaded::Disabled) => {
                let (_, changes) = self.update(&key, |slot| {
                    slot.fingerprint = Some(fingerprint);
                    slot.error = None;
                    slot.serving = None;
                });
                if changes.any() {
                    Outcome::Unmounted {
                        file: file.to_path_buf(),
                        changes,
                    }
                } else {
                    Outcome::Unchanged
                }
            }
            Err(error) => {
                // A file written in several steps may be read between two of them; a
                // refusal counts only for a file that has not changed for a while.
                if let Some(wait) = unsettled(file).await
                    && {
                        tokio::time::sleep(wait).await;
                        Input::read(file).await.map(|i| i.fingerprint()).ok() != Some(fingerprint)
                    }
                {
                    tracing::debug!(
                        "{} changed while it was loaded; the next event loads it",
                        file.display()
                    );
                    return Outcome::Unchanged;
                }
                self.refuse(&key, error)
            }
        }
    }

    fn refuse(&self, key: &Key, error: LoadError) -> Outcome {
        let (previous, _) = self.update(key, |slot| {
            slot.error = Some(error.clone());
            // A later event with the same content must try again.
            slot.fingerprint = None;
            slot.serving.is_some()
        });
        Outcome::Refused { error, previous }
    }

    fn remove(&self, key: &Key) -> Outcome {
        let mut slots = self.slots();
        let Some(i) = slots.iter().position(|s| s.key == *key) else {
            return Outcome::Unchanged;
        };
        let slot = slots.remove(i);
        let changes = self.publish(&slots);
        let file = match (&slot.key, &slot.spec) {
            (Key::File(file), _) => file.clone(),
            (_, Some(spec)) => PathBuf::from(spec.source()),
            (Key::Entry(_), None) => PathBuf::new(),
        };
        Outcome::Unmounted { file, changes }
    }

    /// Applies `change` to the slot `key` (created in mount order when new), then
    /// publishes the catalogue of every slot.
    fn update<T>(&self, key: &Key, change: impl FnOnce(&mut Slot) -> T) -> (T, Changes) {
        let mut slots = self.slots();
        let i = match slots.binary_search_by(|s| s.key.cmp(key)) {
            Ok(i) => i,
            Err(i) => {
                slots.insert(
                    i,
                    Slot {
                        key: key.clone(),
                        spec: None,
                        _follow: None,
                        origin: "directory",
                        serving: None,
                        fingerprint: None,
                        error: None,
                    },
                );
                i
            }
        };
        let result = change(&mut slots[i]);
        let changes = self.publish(&slots);
        (result, changes)
    }

    /// [`Mounts::update`] of a slot that must still be there (a configured mount that
    /// may have been detached meanwhile); `None`, and nothing published, when it is gone.
    fn update_present<T>(
        &self,
        key: &Key,
        change: impl FnOnce(&mut Slot) -> T,
    ) -> Option<(T, Changes)> {
        let mut slots = self.slots();
        let i = slots.iter().position(|s| s.key == *key)?;
        let result = change(&mut slots[i]);
        let changes = self.publish(&slots);
        Some((result, changes))
    }

    fn publish(&self, slots: &[Slot]) -> Changes {
        let mounts = slots.iter().filter_map(|s| s.serving.clone()).collect();
        self.registry.publish_mounts(mounts)
    }
}

/// A plugin file modified less than this long ago may still be being written.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

/// How much longer to wait until `file` has been unchanged for [`SETTLE`], if at all.
async fn unsettled(file: &Path) -> Option<std::time::Duration> {
    let modified = tokio::fs::metadata(file).await.ok()?.modified().ok()?;
    let age = modified.elapsed().unwrap_or_default();
    SETTLE.checked_sub(age).filter(|d| !d.is_zero())
}

fn served(
    mount: Arc<Mount>,
    previous: Option<Arc<Mount>>,
    cache: CacheOutcome,
    changes: Changes,
) -> Outcome {
    match previous {
        Some(old) => Outcome::Swapped {
            mount,
            previous: old.version.clone(),
            cache,
            changes,
        },
        None => Outcome::Mounted {
            mount,
            cache,
            changes,
        },
    }
}
