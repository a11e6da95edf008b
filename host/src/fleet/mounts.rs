//! Mounts made through the admin API, kept in the store so that every replica serves
//! them, and a replica (re)started later too.
//!
//! `POST /admin/mounts` mounts on the replica it reached, then writes the mount's record
//! `pier/mounts/{namespace}` (the request's JSON body) and tells the fleet ([`super::MOUNTS`]);
//! `DELETE /admin/mounts/{namespace}` deletes the record of an added mount, or writes
//! `removed` over a mount of `pier.toml`, then unmounts. A replica that hears of it reads
//! the record and does the same; each replica reads every record at start, after its
//! listener reconnects to Redis, and every [`super::RESYNC_EVERY`].
//!
//! When two replicas change one namespace at once, the record written last is what
//! every replica ends with.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::registry::loader::LoadError;
use crate::registry::mounts::{Mounts, NamespaceTaken, Outcome};
use crate::registry::spec::{MountSpec, RawMount};
use crate::runtime::Runtime;
use crate::server::Shared;
use crate::storage::StoreError;
use crate::{ServeConfig, build_chain, middleware, report, services};

/// Where the records live.
const PREFIX: &str = "pier/mounts/";
/// Most records read at a resync.
const MAX_RECORDS: usize = 1000;

/// What the store says of a namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Record {
    /// A mount added: the admin API's body.
    Mount(Value),
    /// A mount of `pier.toml` removed.
    Removed,
}

/// Why an admin change was not made.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// Another mount uses the namespace.
    #[error(transparent)]
    Taken(#[from] NamespaceTaken),
    /// The store could not keep the change (so no replica would see it).
    #[error("the mount was not changed: the store that shares it with every replica failed ({0})")]
    Store(#[from] StoreError),
}

/// Mounts and unmounts while pier serves: for the admin API, and for what other
/// replicas did.
pub struct Mounting {
    pub(crate) config: ServeConfig,
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) mounts: Arc<Mounts>,
    /// The record each namespace was last brought in line with; held while a change
    /// is made, so that changes on this replica never interleave.
    applied: tokio::sync::Mutex<HashMap<String, Option<Record>>>,
}

/// `body` with an `oci` tag (not refreshed) pinned to the digest `outcome` mounted:
/// `registry/repository:tag@sha256:…`.
fn pinned(mut body: Value, outcome: &Outcome) -> Value {
    let mount = match outcome {
        Outcome::Mounted { mount, .. } | Outcome::Swapped { mount, .. } => mount,
        _ => return body,
    };
    let Some(digest) = mount.provenance.as_ref().and_then(|p| p.digest.as_deref()) else {
        return body;
    };
    let refreshed = body
        .get("refresh-seconds")
        .and_then(Value::as_u64)
        .is_some_and(|s| s > 0);
    if let Some(reference) = body.get("oci").and_then(Value::as_str)
        && !reference.contains('@')
        && !refreshed
    {
        body["oci"] = Value::String(format!("{reference}@{digest}"));
    }
    body
}

fn key(namespace: &str) -> String {
    format!("{PREFIX}{namespace}")
}

impl Mounting {
    /// Mounting on these parts of an app.
    pub(crate) fn new(
        config: ServeConfig,
        runtime: Arc<Runtime>,
        shared: Arc<Shared>,
        mounts: Arc<Mounts>,
    ) -> Self {
        Self {
            config,
            runtime,
            shared,
            mounts,
            applied: Default::default(),
        }
    }

    /// Mounts `spec` after every other mount, with its own middleware chain, on this
    /// replica only. Refused at once when any mount uses its namespace. A refused mount
    /// stays listed until [`Mounting::detach`]ed.
    pub async fn attach(&self, spec: MountSpec) -> Result<Outcome, NamespaceTaken> {
        let key = self.mounts.reserve(&spec, "admin")?;
        let refused = |reason: String| Outcome::Refused {
            error: LoadError {
                file: PathBuf::from(spec.source()),
                reason,
            },
            previous: false,
        };
        // Building a chain may compile a WASM middleware: seconds of CPU, off the
        // async threads.
        let services = services(&self.runtime, &self.shared.metrics, &self.config);
        let scope = format!("mount/{}", spec.namespace);
        let specs = spec.middleware.clone();
        let built = tokio::task::spawn_blocking(move || {
            build_chain(&specs, &services, &scope, "middleware")
        })
        .await;
        let chain = match built {
            Ok(Ok(chain)) => chain,
            Ok(Err(e)) => return Ok(refused(e.to_string())),
            Err(e) => return Ok(refused(format!("building its middleware failed: {e}"))),
        };
        self.shared.pipeline.set_mount(&spec.namespace, chain);
        let outcome = self.mounts.attach(key, spec).await;
        report(&self.shared.metrics, &outcome);
        Ok(outcome)
    }

    /// Unmounts the configured or added mount `namespace` (and its middleware) on this
    /// replica only; `None` when there is none.
    pub async fn detach(&self, namespace: &str) -> Option<Outcome> {
        let outcome = self.mounts.detach(namespace).await?;
        self.shared
            .pipeline
            .set_mount(namespace, middleware::Chain::default());
        report(&self.shared.metrics, &outcome);
        Some(outcome)
    }

    /// `POST /admin/mounts`: mounts `spec` (made from `body`) here, then keeps it for
    /// every replica (an `oci` mount of a tag pinned to the digest mounted here, so that
    /// every replica serves those bytes even after the tag moves; one that refreshes its
    /// tag is kept as it is, each replica following the tag). A refused mount is not
    /// kept (and unmounted again); a mount the store cannot keep is unmounted and the
    /// change fails.
    pub async fn add(&self, body: Value, spec: MountSpec) -> Result<Outcome, ChangeError> {
        let mut applied = self.applied.lock().await;
        let namespace = spec.namespace.clone();
        let outcome = self.attach(spec).await?;
        if let Outcome::Refused { .. } = outcome {
            self.detach(&namespace).await;
            return Ok(outcome);
        }
        let record = Record::Mount(pinned(body, &outcome));
        if let Err(e) = self.write(&namespace, Some(&record)).await {
            self.detach(&namespace).await;
            return Err(e.into());
        }
        applied.insert(namespace.clone(), Some(record));
        drop(applied);
        self.shared
            .fleet
            .tell(super::MOUNTS, super::MountChanged { namespace })
            .await;
        Ok(outcome)
    }

    /// `DELETE /admin/mounts/{namespace}`: forgets the mount for every replica, then
    /// unmounts it here; `Ok(None)` when there is no such mount here.
    pub async fn remove(&self, namespace: &str) -> Result<Option<Outcome>, ChangeError> {
        let mut applied = self.applied.lock().await;
        if !self.mounts.list().iter().any(|m| m.namespace == namespace) {
            return Ok(None);
        }
        let record = self.configured(namespace).then_some(Record::Removed);
        self.write(namespace, record.as_ref()).await?;
        let outcome = self.detach(namespace).await;
        applied.insert(namespace.to_string(), record);
        drop(applied);
        self.shared
            .fleet
            .tell(
                super::MOUNTS,
                super::MountChanged {
                    namespace: namespace.to_string(),
                },
            )
            .await;
        Ok(outcome)
    }

    /// Whether `pier.toml` mounts `namespace`.
    fn configured(&self, namespace: &str) -> bool {
        self.config.mounts.iter().any(|m| m.namespace == namespace)
    }

    async fn write(&self, namespace: &str, record: Option<&Record>) -> Result<(), StoreError> {
        let store = self.runtime.store();
        match record {
            Some(record) => {
                let bytes = serde_json::to_vec(record).unwrap_or_default();
                store.set(&key(namespace), bytes, None).await
            }
            None => store.delete(&key(namespace)).await.map(drop),
        }
    }

    async fn read(&self, namespace: &str) -> Result<Option<Record>, StoreError> {
        let bytes = self.runtime.store().get(&key(namespace)).await?;
        Ok(
            bytes.and_then(|bytes| match serde_json::from_slice(&bytes) {
                Ok(record) => Some(record),
                Err(e) => {
                    tracing::warn!(
                        "the mount record of `{}` in the store is unreadable ({e}); it is ignored",
                        crate::text::clip(namespace)
                    );
                    None
                }
            }),
        )
    }

    /// Brings `namespace` in line with its record (what another replica did).
    pub async fn sync(&self, namespace: &str) {
        let record = match self.read(namespace).await {
            Ok(record) => record,
            Err(e) => {
                tracing::warn!("the mount `{namespace}` was not brought up to date: {e}");
                return;
            }
        };
        let mut applied = self.applied.lock().await;
        self.apply(&mut applied, namespace, record).await;
    }

    /// Brings every namespace in line with the records: at start, after a reconnection
    /// to Redis, and now and then.
    pub async fn sync_all(&self) {
        let store = self.runtime.store();
        let page = match store.list(PREFIX, None, MAX_RECORDS).await {
            Ok(page) => page,
            Err(e) => {
                // Said once by the store's probe; this is tried again every 10 s.
                tracing::debug!("the mounts of the fleet were not read: {e}");
                return;
            }
        };
        let mut namespaces: Vec<String> = page
            .keys
            .iter()
            .filter_map(|k| k.strip_prefix(PREFIX))
            .map(str::to_string)
            .collect();
        let mut applied = self.applied.lock().await;
        // Namespaces this replica applied a record of, whose record went since.
        namespaces.extend(applied.keys().cloned());
        namespaces.sort();
        namespaces.dedup();
        for namespace in namespaces {
            match self.read(&namespace).await {
                Ok(record) => self.apply(&mut applied, &namespace, record).await,
                Err(e) => {
                    tracing::warn!("the mounts of the fleet were not read: {e}");
                    return;
                }
            }
        }
    }

    /// Makes `namespace` what `record` says, unless this replica did already.
    async fn apply(
        &self,
        applied: &mut HashMap<String, Option<Record>>,
        namespace: &str,
        record: Option<Record>,
    ) {
        let before = applied.get(namespace);
        if before == Some(&record) || (before.is_none() && record.is_none()) {
            return;
        }
        let here = self
            .mounts
            .list()
            .into_iter()
            .find(|m| m.namespace == namespace);
        match &record {
            None => {
                // An added mount was removed: what `pier.toml` says stands again.
                if here.is_some_and(|m| m.origin == "admin") {
                    self.detach(namespace).await;
                    tracing::info!(
                        "unmounted `{namespace}`: its record left the store (another replica removed it, or the store lost its data)"
                    );
                }
            }
            Some(Record::Removed) => {
                if here.is_some() {
                    self.detach(namespace).await;
                    tracing::info!("unmounted `{namespace}`, as another replica did");
                }
            }
            Some(Record::Mount(body)) => {
                let spec = serde_json::from_value::<RawMount>(body.clone())
                    .map_err(|e| e.to_string())
                    .and_then(|raw| raw.check().map_err(|(key, m)| format!("{key}: {m}")));
                let spec = match spec {
                    Ok(spec) if spec.namespace == namespace => spec,
                    Ok(_) => {
                        tracing::warn!(
                            "the mount record of `{namespace}` names another namespace; it is ignored"
                        );
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(
                            "the mount record of `{namespace}` is not a mount ({e}); it is ignored"
                        );
                        return;
                    }
                };
                if here.is_some() {
                    self.detach(namespace).await;
                }
                match self.attach(spec).await {
                    Ok(Outcome::Refused { error, .. }) => tracing::error!(
                        "the mount `{namespace}` another replica added is refused here: {}",
                        error.reason
                    ),
                    Ok(_) => tracing::info!(
                        "mounted `{namespace}` from its record in the store (added through the admin API)"
                    ),
                    Err(taken) => tracing::error!(
                        "the mount `{namespace}` another replica added is refused here: {taken}"
                    ),
                }
            }
        }
        applied.insert(namespace.to_string(), record);
    }
}
