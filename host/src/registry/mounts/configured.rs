//! Mounts named in `pier.toml` or through the admin API: a slot reserved in mount
//! order (its namespace checked in the same step), attached when built, detached on
//! request; a live proxied server followed as its catalogue changes.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::*;

impl Mounts {
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
        let outcome = self.attach_once(&key, &spec).await;
        if let Target::Oci(super::super::spec::OciSpec {
            refresh: Some(every),
            ..
        }) = &spec.target
        {
            let mut slots = self.slots();
            if let Some(slot) = slots.iter_mut().find(|s| s.key == key)
                && slot._follow.is_none()
            {
                slot._follow = Some(self.refresh(key.clone(), spec.clone(), *every));
            }
        }
        outcome
    }

    async fn attach_once(self: &Arc<Self>, key: &Key, spec: &MountSpec) -> Outcome {
        let key = key.clone();
        let spec = spec.clone();
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
                let pulled = matches!(spec.target, Target::Oci(_));
                let updated = self.update_present(&key, |slot| {
                    // An `oci` mount's guard is its tag's refresher, kept across swaps.
                    if !pulled {
                        slot._follow = follow;
                    }
                    slot.error = None;
                    slot.serving.replace(mount.clone())
                });
                match updated {
                    Some((previous, changes)) => served(mount, previous, cache, changes),
                    // Detached while it was being built (a refresher's swap).
                    None => Outcome::Unchanged,
                }
            }
            Err(reason) => {
                let error = LoadError {
                    file: PathBuf::from(spec.source()),
                    reason,
                };
                let refused = self.update_present(&key, |slot| {
                    slot.error = Some(error.clone());
                    slot.serving.is_some()
                });
                match refused {
                    Some((previous, _)) => Outcome::Refused { error, previous },
                    None => Outcome::Unchanged,
                }
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
    pub(super) async fn build(
        &self,
        spec: &MountSpec,
    ) -> Result<(Arc<Mount>, CacheOutcome, Option<Arc<Proxy>>), String> {
        match &spec.target {
            Target::Path(path) => self.plugin(spec, path, None).await,
            Target::Oci(oci) => {
                let (file, provenance) = loader::pull(&oci.reference, &self.options).await?;
                self.plugin(spec, &file, Some(&provenance)).await
            }
            Target::OpenApi(api) => {
                let setting = crate::registry::openapi::Setting {
                    caps: &self.options.grants,
                    budget: self.options.defaults.http,
                    timeout: self.upstream.request_timeout,
                    count: self.runtime.egress_counter(),
                };
                let (api, offer, warnings) =
                    crate::registry::openapi::Api::load(&spec.namespace, api, setting).await?;
                for warning in warnings {
                    tracing::warn!(mount = %spec.namespace, "{warning}");
                }
                let mount = served_as(spec, offer, Backend::Api(Arc::new(api)));
                Ok((Arc::new(mount), CacheOutcome::Hit, None))
            }
            Target::Remote(remote) => {
                let proxy =
                    Proxy::connect(remote, &spec.namespace, self.upstream, &self.options.grants)
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

    /// Loads the plugin `file` as `spec` places it.
    async fn plugin(
        &self,
        spec: &MountSpec,
        file: &std::path::Path,
        pulled: Option<&super::super::Provenance>,
    ) -> Result<(Arc<Mount>, CacheOutcome, Option<Arc<Proxy>>), String> {
        let place = loader::Placement {
            namespace: Some(&spec.namespace),
            storage: spec.storage.as_deref(),
            tools: &spec.tools,
            pulled,
        };
        match loader::load_file(&self.runtime, file, place, &self.options).await {
            Ok(Loaded::Mounted(mount, cache)) => Ok((mount, cache, None)),
            Ok(Loaded::Disabled) => Err("disabled by its sidecar (enabled = false)".into()),
            Err(e) => Err(e.reason),
        }
    }

    /// Resolves the tag of the `oci` mount `spec` every `every`; when it names another
    /// digest than the one served, pulls, checks and swaps it in (a refused one keeps
    /// the version served, and is tried again only once the tag moves again). Stops
    /// when the returned guard is dropped (the slot goes).
    fn refresh(
        self: &Arc<Self>,
        key: Key,
        spec: MountSpec,
        every: std::time::Duration,
    ) -> DropGuard {
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let mounts = Arc::downgrade(self);
        let Target::Oci(oci) = &spec.target else {
            return stop.drop_guard();
        };
        let reference = oci.reference.clone();
        tokio::spawn(async move {
            let mut unreachable = false;
            let mut refused: Option<String> = None;
            loop {
                tokio::select! {
                    () = stopped.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
                let Some(mounts) = mounts.upgrade() else {
                    return;
                };
                let serving = mounts
                    .slots()
                    .iter()
                    .find(|s| s.key == key)
                    .and_then(|s| s.serving.as_ref()?.provenance.as_ref()?.digest.clone());
                let digest = match mounts.options.registries.resolve(&reference).await {
                    Ok(digest) => {
                        if unreachable {
                            tracing::info!(mount = %spec.namespace, "{reference} can be resolved again");
                        }
                        unreachable = false;
                        digest
                    }
                    Err(e) => {
                        if !unreachable {
                            tracing::warn!(
                                mount = %spec.namespace,
                                "cannot resolve {reference} again (the version served stays): {e}"
                            );
                        }
                        unreachable = true;
                        continue;
                    }
                };
                if serving.as_deref() == Some(digest.as_str())
                    || refused.as_deref() == Some(digest.as_str())
                {
                    continue;
                }
                tracing::info!(mount = %spec.namespace, "{reference} now names {digest}");
                let outcome = mounts.attach_once(&key, &spec).await;
                refused = match &outcome {
                    Outcome::Refused { .. } => Some(digest),
                    _ => None,
                };
                if let Some(report) = mounts.reporter.get() {
                    report(&outcome);
                }
            }
        });
        stop.drop_guard()
    }

    /// Follows a live proxied server: on its `list_changed`, fetch its catalogue again
    /// and publish it. Stops when the returned guard is dropped (the slot goes).
    pub(super) fn follow(
        self: &Arc<Self>,
        key: Key,
        spec: MountSpec,
        proxy: Arc<Proxy>,
    ) -> DropGuard {
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
}

/// The mount of a proxied server offering `offer`, its tools transformed as `spec`
/// says; its version hashes the offer as served.
fn proxied(spec: &MountSpec, proxy: Arc<Proxy>, offer: Offer) -> Mount {
    served_as(spec, offer, Backend::Proxy(proxy))
}

/// The mount of `spec` served by `backend` (not a plugin) offering `offer`, its tools
/// transformed as `spec` says; its version hashes the offer as served.
fn served_as(spec: &MountSpec, mut offer: Offer, backend: Backend) -> Mount {
    use sha2::{Digest, Sha256};
    let who = format!("mount `{}`", spec.namespace);
    let (tools, warnings) =
        crate::registry::transform::apply(std::mem::take(&mut offer.tools), &spec.tools, &who);
    offer.tools = tools;
    for warning in warnings {
        tracing::warn!(mount = %spec.namespace, "{warning}");
    }
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
        backend,
    )
}
