//! The live set of mounts: for every plugin file, the version being served and the
//! last error, kept in mount order. Each change rebuilds the catalogue off the request
//! path and publishes it in one atomic swap; calls in flight keep the snapshot (and so
//! the plugin version) they started with.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio_util::sync::{CancellationToken, DropGuard};

use super::loader::{self, Input, LoadError, LoadOptions, Loaded};
use super::proxy::{Proxy, UpstreamLimits};
use super::spec::{Mode, MountSpec, Target};
use super::{Backend, Changes, Mount, Offer, Registry};
use crate::runtime::{CacheOutcome, Runtime};

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
}

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
        }
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
        let input = match Input::read(file).await {
            Ok(input) => input,
            Err(_) if !file.exists() => return self.remove(&key),
            Err(error) => return self.refuse(&key, error),
        };
        let fingerprint = input.fingerprint();
        if let Some(i) = known {
            let slots = self.slots();
            if slots[i].fingerprint.as_deref() == Some(&fingerprint) && slots[i].error.is_none() {
                return Outcome::Unchanged;
            }
        }
        match loader::load_input(&self.runtime, file, input, Default::default(), self.options).await
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

    /// Reserves a slot for `spec` after every other mount, in one step with the check
    /// that no mount (configured, added, or from the plugin directory) uses its
    /// namespace: two concurrent requests for one namespace cannot both pass.
    pub fn reserve(&self, spec: &MountSpec, origin: &'static str) -> Result<Key, NamespaceTaken> {
        let mut slots = self.slots();
        let taken = slots.iter().any(|s| {
            s.spec
                .as_ref()
                .is_some_and(|m| m.namespace == spec.namespace)
                || s.serving
                    .as_ref()
                    .is_some_and(|m| m.namespace == spec.namespace)
        });
        if taken {
            return Err(NamespaceTaken(spec.namespace.clone()));
        }
        let key = Key::Entry(
            self.next_entry
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        );
        // Entries sort after every file and after each other: this one goes last.
        slots.push(Slot {
            key: key.clone(),
            spec: Some(spec.clone()),
            _follow: None,
            origin,
            serving: None,
            fingerprint: None,
            error: None,
        });
        Ok(key)
    }

    /// Mounts `spec` in the slot `key` reserved for it ([`Mounts::reserve`]). A mount
    /// that cannot be made stays listed as refused.
    pub async fn attach(self: &Arc<Self>, key: Key, spec: MountSpec) -> Outcome {
        let lock = self.lock_of(&key);
        let _one_at_a_time = lock.lock().await;
        match self.build(&spec).await {
            Ok((mount, cache, proxy)) => {
                let follow = match (proxy, spec.mode) {
                    (Some(proxy), Mode::Mount) => {
                        Some(self.follow(key.clone(), spec.clone(), proxy))
                    }
                    _ => None,
                };
                let (previous, changes) = self.update(&key, |slot| {
                    slot._follow = follow;
                    slot.serving.replace(mount.clone())
                });
                served(mount, previous, cache, changes)
            }
            Err(reason) => {
                let error = LoadError {
                    file: PathBuf::from(spec.source()),
                    reason,
                };
                self.refuse(&key, error)
            }
        }
    }

    /// Removes the configured or added mount with namespace `namespace`.
    pub async fn detach(&self, namespace: &str) -> Option<Outcome> {
        let key = self
            .slots()
            .iter()
            .find(|s| s.spec.as_ref().is_some_and(|m| m.namespace == namespace))?
            .key
            .clone();
        let lock = self.lock_of(&key);
        let _one_at_a_time = lock.lock().await;
        let outcome = self.remove(&key);
        self.busy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        Some(outcome)
    }

    /// Builds the mount of `spec`: loads a plugin file, or connects to a server and
    /// fetches its catalogue.
    async fn build(
        &self,
        spec: &MountSpec,
    ) -> Result<(Arc<Mount>, CacheOutcome, Option<Arc<Proxy>>), String> {
        match &spec.target {
            Target::Path(path) => {
                let place = loader::Placement {
                    namespace: Some(&spec.namespace),
                    storage: spec.storage.as_deref(),
                };
                match loader::load_file(&self.runtime, path, place, self.options).await {
                    Ok(Loaded::Mounted(mount, cache)) => Ok((mount, cache, None)),
                    Ok(Loaded::Disabled) => Err("disabled by its sidecar (enabled = false)".into()),
                    Err(e) => Err(e.reason),
                }
            }
            Target::Remote(remote) => {
                let proxy = Proxy::connect(remote, &spec.namespace, self.upstream)
                    .await
                    .map_err(|e| format!("cannot connect: {e}"))?;
                let proxy = Arc::new(proxy);
                let offer = proxy.offer().await?;
                Ok((
                    Arc::new(proxied(spec, proxy.clone(), offer)),
                    CacheOutcome::Hit,
                    Some(proxy),
                ))
            }
        }
    }

    /// Follows a live proxied server: on its `list_changed`, fetch its catalogue again
    /// and publish it. Stops when the returned guard is dropped (the slot goes).
    fn follow(self: &Arc<Self>, key: Key, spec: MountSpec, proxy: Arc<Proxy>) -> DropGuard {
        let stop = CancellationToken::new();
        let Some(mut changes) = proxy.changes() else {
            return stop.drop_guard();
        };
        let mounts = Arc::downgrade(self);
        let stopped = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stopped.cancelled() => return,
                    change = changes.recv() => if change.is_none() {
                        tracing::warn!(mount = %spec.namespace, "the mounted server closed the connection");
                        return;
                    },
                }
                // One fetch for a burst of notifications.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                while changes.try_recv().is_ok() {}
                let offer = match proxy.offer().await {
                    Ok(offer) => offer,
                    Err(e) => {
                        tracing::warn!(mount = %spec.namespace, "cannot fetch the catalogue again: {e}");
                        continue;
                    }
                };
                let Some(mounts) = mounts.upgrade() else {
                    return;
                };
                let mount = Arc::new(proxied(&spec, proxy.clone(), offer));
                let changes = {
                    let mut slots = mounts.slots();
                    let Some(slot) = slots.iter_mut().find(|s| s.key == key) else {
                        return;
                    };
                    if slot
                        .serving
                        .as_ref()
                        .is_some_and(|m| m.version == mount.version)
                    {
                        continue;
                    }
                    slot.serving = Some(mount);
                    mounts.publish(&slots)
                };
                tracing::info!(mount = %spec.namespace, ?changes, "the mounted server's catalogue changed");
            }
        });
        stop.drop_guard()
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

/// The mount of a proxied server offering `offer`; its version hashes the offer.
fn proxied(spec: &MountSpec, proxy: Arc<Proxy>, offer: Offer) -> Mount {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for tool in &offer.tools {
        hash.update(serde_json::to_vec(&tool.tool).unwrap_or_default());
    }
    hash.update(serde_json::to_vec(&offer.resources).unwrap_or_default());
    for (template, _) in &offer.templates {
        hash.update(serde_json::to_vec(template).unwrap_or_default());
    }
    hash.update(serde_json::to_vec(&offer.prompts).unwrap_or_default());
    Mount::new(
        spec.namespace.clone(),
        spec.namespace.clone(),
        spec.source(),
        hex::encode(hash.finalize()),
        offer,
        Backend::Proxy(proxy),
    )
}

/// One mount as the admin API lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MountInfo {
    /// Plugin name, or the namespace of a configured mount.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// File, URL or command.
    pub source: String,
    /// `directory`, `config` or `admin`.
    pub origin: &'static str,
    /// `plugin` or `proxy`.
    pub kind: &'static str,
    /// Version hash being served.
    pub version: Option<String>,
    /// `serving`, `refused` (nothing serves) or `disabled`.
    pub state: &'static str,
    /// Why the latest version was refused.
    pub error: Option<String>,
    /// Tools served.
    pub tools: usize,
    /// Static resources served.
    pub resources: usize,
    /// Resource templates served.
    pub templates: usize,
    /// Prompts served.
    pub prompts: usize,
}

impl Mounts {
    /// Every mount, in mount order.
    pub fn list(&self) -> Vec<MountInfo> {
        self.slots()
            .iter()
            .map(|s| {
                let m = s.serving.as_ref();
                let namespace = m
                    .map(|m| m.namespace.clone())
                    .or_else(|| s.spec.as_ref().map(|x| x.namespace.clone()))
                    .unwrap_or_default();
                let (name, source) = match (&s.key, &s.spec) {
                    (Key::File(file), _) => (
                        file.file_stem()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        file.display().to_string(),
                    ),
                    (_, Some(spec)) => (spec.namespace.clone(), spec.source()),
                    (Key::Entry(_), None) => (String::new(), String::new()),
                };
                let kind = match (m.map(|m| &m.backend), &s.spec) {
                    (Some(Backend::Proxy(_)), _) => "proxy",
                    (None, Some(spec)) if matches!(spec.target, Target::Remote(_)) => "proxy",
                    _ => "plugin",
                };
                MountInfo {
                    name,
                    namespace,
                    source,
                    origin: s.origin,
                    kind,
                    version: m.map(|m| m.version.clone()),
                    state: match (m, &s.error) {
                        (Some(_), _) => "serving",
                        (None, Some(_)) => "refused",
                        (None, None) => "disabled",
                    },
                    error: s.error.as_ref().map(|e| e.reason.clone()),
                    tools: m.map_or(0, |m| m.offer.tools.len()),
                    resources: m.map_or(0, |m| m.offer.resources.len()),
                    templates: m.map_or(0, |m| m.offer.templates.len()),
                    prompts: m.map_or(0, |m| m.offer.prompts.len()),
                }
            })
            .collect()
    }
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
