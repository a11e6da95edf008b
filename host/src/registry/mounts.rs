//! The live set of mounts: for every plugin file, the version being served and the
//! last error, kept in mount order. Each change rebuilds the catalogue off the request
//! path and publishes it in one atomic swap; calls in flight keep the snapshot (and so
//! the plugin version) they started with.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::loader::{self, Input, LoadError, LoadOptions, Loaded};
use super::{Catalogue, Changes, Mount, Registry};
use crate::runtime::{CacheOutcome, Runtime};

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

/// One plugin file and what it serves.
struct Slot {
    file: PathBuf,
    /// The version being served.
    serving: Option<Arc<Mount>>,
    /// Fingerprint of what was last loaded (served or disabled): an event that leaves
    /// it unchanged is not a change.
    fingerprint: Option<String>,
    /// Why the latest version was refused (cleared when a version loads).
    error: Option<LoadError>,
}

/// A refused plugin file and whether an older version of it still serves.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The file and the reason.
    pub error: LoadError,
    /// The version hash still served, when a previous version loaded.
    pub serving: Option<String>,
}

/// The live mounts of one pier instance.
pub struct Mounts {
    runtime: Arc<Runtime>,
    options: LoadOptions,
    registry: Arc<Registry>,
    /// Slots sorted by file: the mount order (a later mount wins a name conflict).
    slots: Mutex<Vec<Slot>>,
    /// Serialises reconciling, so two changes of one file never interleave.
    reconciling: tokio::sync::Mutex<()>,
}

impl Mounts {
    /// An empty set publishing into `registry`.
    pub fn new(runtime: Arc<Runtime>, options: LoadOptions, registry: Arc<Registry>) -> Self {
        Self {
            runtime,
            options,
            registry,
            slots: Mutex::new(Vec::new()),
            reconciling: tokio::sync::Mutex::new(()),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The plugin files pier knows of (served, refused or disabled), in mount order.
    pub fn files(&self) -> Vec<PathBuf> {
        self.slots().iter().map(|s| s.file.clone()).collect()
    }

    /// Files whose latest version was refused, in mount order.
    pub fn refused(&self) -> Vec<Refusal> {
        self.slots()
            .iter()
            .filter_map(|s| {
                Some(Refusal {
                    error: s.error.clone()?,
                    serving: s.serving.as_ref().map(|m| m.version.clone()),
                })
            })
            .collect()
    }

    /// Brings `file` in line with the disk: mounts, swaps or unmounts it. Reading,
    /// compiling, instantiating and `describe` happen before anything is published; a
    /// file that fails keeps its previous version serving.
    pub async fn reconcile(&self, file: &Path) -> Outcome {
        let _one_at_a_time = self.reconciling.lock().await;
        let known = self.slots().iter().position(|s| s.file == file);
        let input = match Input::read(file).await {
            Ok(input) => input,
            Err(_) if !file.exists() => return self.remove(file),
            Err(error) => return self.refuse(error),
        };
        let fingerprint = input.fingerprint();
        if let Some(i) = known {
            let slots = self.slots();
            if slots[i].fingerprint.as_deref() == Some(&fingerprint) && slots[i].error.is_none() {
                return Outcome::Unchanged;
            }
        }
        match loader::load_input(&self.runtime, file, input, self.options).await {
            Ok(Loaded::Mounted(mount, cache)) => {
                let (previous, changes) = self.update(file, |slot| {
                    slot.fingerprint = Some(fingerprint);
                    slot.error = None;
                    slot.serving.replace(mount.clone())
                });
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
            Ok(Loaded::Disabled) => {
                let (_, changes) = self.update(file, |slot| {
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
            Err(error) => self.refuse(error),
        }
    }

    fn refuse(&self, error: LoadError) -> Outcome {
        let (previous, _) = self.update(&error.file.clone(), |slot| {
            slot.error = Some(error.clone());
            // A later event with the same content must try again.
            slot.fingerprint = None;
            slot.serving.is_some()
        });
        Outcome::Refused { error, previous }
    }

    fn remove(&self, file: &Path) -> Outcome {
        let mut slots = self.slots();
        let Some(i) = slots.iter().position(|s| s.file == file) else {
            return Outcome::Unchanged;
        };
        slots.remove(i);
        let changes = self.publish(&slots);
        Outcome::Unmounted {
            file: file.to_path_buf(),
            changes,
        }
    }

    /// Applies `change` to the slot of `file` (created in mount order when new), then
    /// publishes the catalogue of every slot.
    fn update<T>(&self, file: &Path, change: impl FnOnce(&mut Slot) -> T) -> (T, Changes) {
        let mut slots = self.slots();
        let i = match slots.binary_search_by(|s| s.file.as_path().cmp(file)) {
            Ok(i) => i,
            Err(i) => {
                slots.insert(
                    i,
                    Slot {
                        file: file.to_path_buf(),
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

    fn publish(&self, slots: &[Slot]) -> Changes {
        let mounts = slots.iter().filter_map(|s| s.serving.clone()).collect();
        self.registry.publish(Catalogue::build(mounts))
    }
}
