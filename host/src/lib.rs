//! pier: an MCP server whose tools, resources and prompts are sandboxed WebAssembly
//! components.
//!
//! [`App::start`] builds the runtime and mounts every plugin of a directory;
//! [`App::session`] makes the handler of one client session, which a transport serves.

pub mod auth;
pub mod builder;
pub mod cli;
pub mod config;
pub mod console;
pub mod dev;
pub mod docs;
pub mod error;
pub mod fleet;
pub mod levels;
pub mod local;
pub mod middleware;
pub mod oci;
pub mod progress;
pub mod registry;
pub mod runtime;
pub mod scaffold;
pub mod server;
pub mod storage;
pub mod telemetry;
pub mod text;
pub mod transport;
pub mod trust;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use config::ServeConfig;
pub use error::Error;
use registry::loader::{self, LoadError, LoadOptions};
use registry::mounts::{Mounts, Outcome, Refusal};
use registry::watcher::{self, Change};
use registry::{Changes, Registry};
use runtime::Runtime;
use server::{PierServer, Shared};
use tokio_util::sync::{CancellationToken, DropGuard};

/// What building middleware may need from this instance.
/// Runs `work` on `of` every `every` (the first time at once) until `of` is dropped
/// elsewhere: the task holds only a weak reference. Upkeep such as purging expired keys
/// or folding metrics.
pub fn spawn_every<T, F, Fut>(
    of: &Arc<T>,
    every: std::time::Duration,
    work: F,
) -> tokio::task::JoinHandle<()>
where
    T: ?Sized + Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let weak = Arc::downgrade(of);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(of) = weak.upgrade() else { return };
            work(of).await;
        }
    })
}

fn services(
    runtime: &Arc<Runtime>,
    metrics: &Arc<telemetry::Metrics>,
    config: &ServeConfig,
) -> middleware::spec::Services {
    middleware::spec::Services {
        store: runtime.store().clone(),
        metrics: metrics.clone(),
        runtime: runtime.clone(),
        grants: config.grants.clone(),
    }
}

/// Builds the middleware `specs` configured at `at` (`middleware`, `mount[0].middleware`).
fn build_chain(
    specs: &[middleware::spec::Spec],
    services: &middleware::spec::Services,
    scope: &str,
    at: &str,
) -> Result<middleware::Chain, Error> {
    middleware::spec::build_chain(specs, services, scope).map_err(|(i, error)| Error::Middleware {
        at: format!("{at}[{i}]"),
        kind: specs[i].kind(),
        error,
    })
}

/// Whether the configured plugins are mounted yet.
#[derive(Debug, Clone)]
pub enum Readiness {
    /// Plugins are being loaded.
    Loading,
    /// The first scan of the plugin directory finished (see [`App::refusals`] for what
    /// was refused since).
    Loaded,
    /// The plugin directory could not be read.
    Unreadable(LoadError),
}

/// A pier instance: runtime, catalogue, and what sessions share.
pub struct App {
    config: ServeConfig,
    runtime: Arc<Runtime>,
    shared: Arc<Shared>,
    mounts: Arc<Mounts>,
    /// Mounting while serving: the admin API's, and what other replicas did.
    mounting: Arc<fleet::mounts::Mounting>,
    verifier: Arc<auth::Verifier>,
    /// Plugins served from their source folder (`pier dev`).
    folders: Arc<registry::folders::SourceFolders>,
    readiness: Mutex<Readiness>,
    /// Stops the directory watch when the app is dropped.
    watching: Mutex<Option<DropGuard>>,
    /// Stops hearing the fleet when the app is dropped.
    hearing: Mutex<Option<DropGuard>>,
    /// Whether the store answers.
    store_health: Arc<storage::Health>,
}

/// The first 12 characters of a version hash, as logs show it.
fn short(version: &str) -> &str {
    &version[..12.min(version.len())]
}

/// What changed, for the feed: the plugin, the change, the version served and the one
/// before (short), why it was refused, the lists it changed.
fn change_event(
    plugin: &str,
    change: &'static str,
    version: Option<&str>,
    previous: Option<&str>,
    reason: Option<String>,
    lists: Vec<&'static str>,
) -> telemetry::feed::Event {
    telemetry::feed::Event::Change {
        plugin: plugin.to_string(),
        change,
        version: version.map(|v| short(v).to_string()),
        previous: previous.map(|v| short(v).to_string()),
        reason,
        lists,
    }
}

/// Logs what reconciling `file` did, counts it in the metrics and tells the feed.
fn report(metrics: &telemetry::Metrics, outcome: &Outcome) {
    use telemetry::feed::clipped;
    let changed = |c: &Changes| {
        let lists = c.lists();
        if lists.is_empty() {
            "-".to_string()
        } else {
            lists.join(",")
        }
    };
    let feed = metrics.feed();
    match outcome {
        Outcome::Mounted {
            mount,
            cache,
            changes,
        } => {
            metrics.aot_cache(*cache == runtime::CacheOutcome::Hit);
            metrics.mount_change(&mount.name, "mounted");
            feed.publish(|| {
                change_event(
                    &mount.name,
                    "mounted",
                    Some(&mount.version),
                    None,
                    None,
                    changes.lists(),
                )
            });
            tracing::info!(
                plugin = %mount.name,
                namespace = %mount.namespace,
                version = short(&mount.version),
                aot_cache = ?cache,
                tools = mount.offer.tools.len(),
                resources = mount.offer.resources.len() + mount.offer.templates.len(),
                prompts = mount.offer.prompts.len(),
                changed = changed(changes),
                "mounted {}",
                mount.source
            );
        }
        Outcome::Swapped {
            mount,
            previous,
            cache,
            changes,
        } => {
            metrics.aot_cache(*cache == runtime::CacheOutcome::Hit);
            metrics.mount_change(&mount.name, "swapped");
            feed.publish(|| {
                change_event(
                    &mount.name,
                    "swapped",
                    Some(&mount.version),
                    Some(previous),
                    None,
                    changes.lists(),
                )
            });
            tracing::info!(
                plugin = %mount.name,
                namespace = %mount.namespace,
                version = short(&mount.version),
                previous = short(previous),
                aot_cache = ?cache,
                changed = changed(changes),
                "swapped {}",
                mount.source
            );
        }
        Outcome::Unmounted { file, changes } => {
            let name = file.file_stem().map(|s| s.to_string_lossy().into_owned());
            let name = name.as_deref().unwrap_or("?");
            metrics.mount_change(name, "unmounted");
            feed.publish(|| change_event(name, "unmounted", None, None, None, changes.lists()));
            tracing::info!(changed = changed(changes), "unmounted {}", file.display());
        }
        Outcome::Refused { error, previous } => {
            let name = error
                .file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned());
            let name = name.as_deref().unwrap_or("?");
            metrics.mount_change(name, "refused");
            feed.publish(|| {
                change_event(
                    name,
                    "refused",
                    None,
                    None,
                    Some(clipped(&error.reason)),
                    Vec::new(),
                )
            });
            if *previous {
                tracing::error!("{error}; the previous version keeps serving");
            } else {
                tracing::error!("{error}");
            }
        }
        Outcome::Unchanged => {}
    }
}

impl App {
    /// Builds the runtime with an empty catalogue; [`App::load`] mounts the plugins.
    pub fn new(config: &ServeConfig) -> Result<Self, Error> {
        let metrics: Arc<telemetry::Metrics> = Arc::default();
        let verifier = Arc::new(
            auth::Verifier::new(config.auth.clone(), config.grants.trust.clone())
                .map_err(|reason| Error::Auth { reason })?
                .counting_refusals(metrics.clone()),
        );
        let store = storage::open(&config.storage)?;
        let fleet = Arc::new(fleet::Fleet::new(storage::bus::Bus::open(&config.storage)?));
        let counted = metrics.clone();
        let runtime = Arc::new(
            Runtime::new(
                &config.data_dir.join("aot"),
                config.max_limits.memory_bytes,
                store,
            )?
            .keeping_artifacts(config.aot_keep)
            .counting_egress(Arc::new(move |c| {
                counted.egress(c.plugin, c.host, c.outcome);
                counted.feed().publish(|| telemetry::feed::Event::Egress {
                    plugin: c.plugin.to_string(),
                    method: telemetry::feed::clipped(c.method),
                    url: telemetry::feed::clipped(&format!("{}{}", c.origin, c.path)),
                    outcome: c.outcome,
                    detail: c.detail.map(telemetry::feed::clipped),
                });
            })),
        );
        let registry = Arc::new(Registry::default());
        let folders: Arc<registry::folders::SourceFolders> = Arc::default();
        let options = LoadOptions {
            defaults: config.default_limits,
            cap: config.max_limits,
            grants: config.grants.clone(),
            auth: config.auth.enabled(),
            folders: folders.clone(),
            tools: Arc::new(config.tools.clone()),
            trust: config.trust.clone(),
            registries: Arc::new(config.registries.clone()),
            oci_cache: config.data_dir.join("oci"),
        };
        let mounts = Arc::new(Mounts::new(
            runtime.clone(),
            options,
            config.upstream,
            registry.clone(),
        ));
        let reported = metrics.clone();
        mounts.report_to(Box::new(move |outcome| report(&reported, outcome)));
        let services = services(&runtime, &metrics, config);
        let mut server_chain = build_chain(&config.middleware, &services, "server", "middleware")?;
        let mut gate: Option<Arc<dyn middleware::gate::Gate>> = None;
        if !config.auth.rules.is_empty() || config.auth.enabled() {
            // Authorization (rules, and plugins' required scopes) wraps everything
            // else: what a caller may not use, no other middleware sees it ask for.
            // The end of the chain checks again what a middleware may have retargeted.
            let authorize = Arc::new(middleware::authorize::Authorize::new(
                config.auth.rules.clone(),
            ));
            server_chain.prepend(Arc::new(middleware::gate::Gated(
                authorize.clone(),
                Some(metrics.clone()),
            )));
            gate = Some(authorize);
        }
        let pipeline = middleware::Pipeline::new(server_chain);
        for (i, mount) in config.mounts.iter().enumerate() {
            let chain = build_chain(
                &mount.middleware,
                &services,
                &format!("mount/{}", mount.namespace),
                &format!("mount[{i}].middleware"),
            )?;
            pipeline.set_mount(&mount.namespace, chain);
        }
        let protocol_versions = rmcp::model::ProtocolVersion::known_up_to(&config.max_protocol);
        let shared = Arc::new(Shared {
            registry,
            page_size: config.page_size,
            in_flight: Arc::default(),
            metrics,
            subscriptions: Default::default(),
            listens: server::handler::listens(),
            sessions: server::quota::Quota::new(
                config.max_sessions_per_client,
                config.max_sessions,
            ),
            max_subscriptions: config.max_subscriptions,
            max_uri_bytes: config.max_uri_bytes,
            protocol_versions,
            info: server::handler::server_info(protocol_versions),
            seal: server::rounds::Seal::new(&config.request_state_keys)
                .map_err(|reason| Error::RequestStateKeys { reason })?,
            max_state_bytes: config.max_state_bytes,
            pipeline: Arc::new(pipeline),
            gate,
            draining: Default::default(),
            list_ttl_ms: config.list_ttl_ms,
            tasks: Arc::new(server::tasks::Tasks::new(
                runtime.store().clone(),
                config.max_tasks_per_subject,
            )),
            task_after: config.task_after,
            fleet,
            session_levels: fleet::Levels::new(config.http.session_idle),
        });
        let store_health = Arc::new(storage::Health::new(
            runtime.store().clone(),
            shared.metrics.clone(),
        ));
        let mounting = Arc::new(fleet::mounts::Mounting::new(
            config.clone(),
            runtime.clone(),
            shared.clone(),
            mounts.clone(),
        ));
        Ok(Self {
            config: config.clone(),
            runtime,
            shared,
            mounts,
            mounting,
            verifier,
            folders,
            readiness: Mutex::new(Readiness::Loading),
            watching: Mutex::new(None),
            hearing: Mutex::new(None),
            store_health,
        })
    }

    /// Mounts every plugin of the plugin directory, then (unless `plugins.watch` is
    /// off) keeps following it: a created file is mounted, a replaced one swapped, a
    /// deleted one unmounted. Files that cannot be mounted are logged and listed by
    /// [`App::refusals`]; the rest are served.
    pub async fn load(&self) -> Result<(), Error> {
        let store = self.runtime.store();
        let where_ = self.config.storage.describe();
        match store.get("pier/probe").await {
            Ok(_) => tracing::info!("storage: {where_}"),
            Err(e) => tracing::warn!("storage: {e}; storage calls fail until {where_} answers"),
        }
        storage::Health::spawn(&self.store_health);
        storage::spawn_purger(store, self.config.storage_purge);
        telemetry::spawn_upkeep(self.metrics(), telemetry::UPKEEP_EVERY);
        self.verifier.warm().await;
        self.runtime.prune_artifacts().await;
        let dir = &self.config.plugins_dir;
        // A gateway of `[[mount]]`s only needs no plugin directory: a missing one is
        // empty then (without mounts, a missing directory is most likely a wrong path,
        // and `/ready` says so).
        let no_dir = !self.config.mounts.is_empty() && !dir.exists();
        if no_dir {
            tracing::warn!(
                "the plugin directory {} does not exist: serving the configured mounts only (create it, and restart, to add plugins)",
                dir.display()
            );
        }
        // Watch first, so that nothing changed during the first scan is missed.
        let watch = if self.config.watch && !no_dir {
            match watcher::watch(dir, self.config.debounce) {
                Ok(watch) => Some(watch),
                Err(e) => {
                    tracing::warn!(
                        "cannot watch {}: {e}; plugin changes need a restart",
                        dir.display()
                    );
                    None
                }
            }
        } else {
            None
        };
        let files = match loader::plugin_files(dir) {
            Ok(files) => files,
            Err(_) if no_dir => Vec::new(),
            Err(e) => {
                let reason = format!("cannot read the plugin directory: {e}");
                self.set_readiness(Readiness::Unreadable(LoadError {
                    file: dir.clone(),
                    reason: reason.clone(),
                }));
                return Err(Error::PluginDir {
                    path: dir.clone(),
                    reason,
                });
            }
        };
        // Several files at once: a never-compiled plugin compiles on a core of its own.
        // The mount order stays the files' order (slots are sorted by file), and so does
        // the report of each (`buffered` yields in order).
        use futures::StreamExt;
        futures::stream::iter(files)
            .map(|file| async move { self.mounts.reconcile(&file).await })
            .buffered(loading_parallelism())
            .for_each(|outcome| async move { report(&self.shared.metrics, &outcome) })
            .await;
        for spec in &self.config.mounts {
            let outcome = match self.mounts.reserve(spec, "config") {
                Ok(key) => self.mounts.attach(key, spec.clone()).await,
                Err(taken) => Outcome::Refused {
                    error: LoadError {
                        file: PathBuf::from(spec.source()),
                        reason: taken.to_string(),
                    },
                    previous: false,
                },
            };
            report(&self.shared.metrics, &outcome);
        }
        self.mounting.sync_all().await;
        self.hear_the_fleet();
        self.set_readiness(Readiness::Loaded);
        if let Some((watcher, changes)) = watch {
            let stop = CancellationToken::new();
            *self.watching.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(stop.clone().drop_guard());
            tokio::spawn(follow(
                watcher,
                changes,
                stop,
                self.mounts.clone(),
                self.shared.metrics.clone(),
                dir.clone(),
            ));
            tracing::info!("watching {} for plugin changes", dir.display());
        }
        Ok(())
    }

    /// Brings one plugin file in line with the disk (what the watcher does on a
    /// change): mount, swap, unmount, or refuse keeping the previous version.
    pub async fn reconcile(&self, file: &std::path::Path) -> Outcome {
        let outcome = self.mounts.reconcile(file).await;
        report(&self.shared.metrics, &outcome);
        outcome
    }

    /// Mounts `spec` after every other mount, with its own middleware chain, on this
    /// replica only (the admin API keeps its mounts for the fleet: [`App::add_mount`]).
    /// Refused at once when any mount uses its namespace (checked and reserved in one
    /// step). A refused mount stays listed until [`App::detach`]ed.
    pub async fn attach(
        &self,
        spec: registry::spec::MountSpec,
    ) -> Result<Outcome, registry::mounts::NamespaceTaken> {
        self.mounting.attach(spec).await
    }

    /// Unmounts the configured or added mount `namespace` (and its middleware) on this
    /// replica only; `None` when there is none.
    pub async fn detach(&self, namespace: &str) -> Option<Outcome> {
        self.mounting.detach(namespace).await
    }

    /// Mounts `spec` (made from the admin API's `body`) here and keeps it in the store,
    /// so that every replica sharing the store mounts it, and this one after a restart.
    pub async fn add_mount(
        &self,
        body: serde_json::Value,
        spec: registry::spec::MountSpec,
    ) -> Result<Outcome, fleet::mounts::ChangeError> {
        self.mounting.add(body, spec).await
    }

    /// Unmounts `namespace` here and on every replica sharing the store; `Ok(None)`
    /// when there is no such mount.
    pub async fn remove_mount(
        &self,
        namespace: &str,
    ) -> Result<Option<Outcome>, fleet::mounts::ChangeError> {
        self.mounting.remove(namespace).await
    }

    /// Every mount with its state, in mount order.
    pub fn mounts(&self) -> Vec<registry::mounts::MountInfo> {
        self.mounts.list()
    }

    /// The `oci` mounts served: namespace, reference, and the digest it resolved to.
    pub fn pulled(&self) -> Vec<(String, String, String)> {
        self.mounts.pulled()
    }

    /// The admin API's token, when it is on.
    pub fn admin_token(&self) -> Option<&str> {
        self.config.admin_token.as_deref()
    }

    /// Verifies the tokens of HTTP requests.
    pub fn verifier(&self) -> &Arc<auth::Verifier> {
        &self.verifier
    }

    /// Why the admin API may not mount `spec`, if it may not (command and url mounts
    /// can be switched off: `admin.allow-command-mounts`, `admin.allow-url-mounts`).
    pub fn admin_refuses(&self, spec: &registry::spec::MountSpec) -> Option<&'static str> {
        use registry::proxy::Remote;
        use registry::spec::Target;
        match &spec.target {
            Target::Remote(Remote::Command { .. }) if !self.config.admin_command_mounts => Some(
                "command mounts are off in the admin API (admin.allow-command-mounts = false): a command mount runs a program on this host",
            ),
            Target::Remote(Remote::Http { .. }) if !self.config.admin_url_mounts => {
                Some("url mounts are off in the admin API (admin.allow-url-mounts = false)")
            }
            Target::OpenApi(_) if !self.config.admin_url_mounts => {
                Some("openapi mounts are off in the admin API (admin.allow-url-mounts = false)")
            }
            Target::Remote(Remote::Http { credentials, .. })
            | Target::OpenApi(registry::openapi::OpenApiSpec { credentials, .. })
                if credentials.uses_secrets() =>
            {
                Some(
                    "a mount added through the admin API cannot use [secrets] (no `oauth`, no `{ secret = … }`): it could send them to any server; configure it in pier.toml",
                )
            }
            _ => None,
        }
    }

    /// Acts on what the other replicas say, until the app is dropped.
    fn hear_the_fleet(&self) {
        if !self.shared.fleet.shared() {
            return;
        }
        let stop = CancellationToken::new();
        *self.hearing.lock().unwrap_or_else(|e| e.into_inner()) = Some(stop.clone().drop_guard());
        tokio::spawn(fleet::hear(
            self.shared.fleet.subscribe(),
            self.mounting.clone(),
            stop,
        ));
    }

    fn set_readiness(&self, readiness: Readiness) {
        *self.readiness.lock().unwrap_or_else(|e| e.into_inner()) = readiness;
    }
    /// Builds the runtime and mounts the plugins: [`App::new`] then [`App::load`].
    pub async fn start(config: &ServeConfig) -> Result<Self, Error> {
        runtime::grants::install_tls_provider();
        let app = Self::new(config)?;
        app.load().await?;
        Ok(app)
    }

    /// The plugins served from their source folder: what `pier dev` registers there is
    /// granted (read-only) to the plugin of that name from its next load on.
    pub fn source_folders(&self) -> &Arc<registry::folders::SourceFolders> {
        &self.folders
    }

    /// The handler of a new client session.
    pub fn session(&self, session_id: Option<String>) -> PierServer {
        PierServer::new(self.shared.clone(), session_id)
    }

    /// The handler of one request to a stateless pier (`server.stateless`): no session,
    /// its calls share warm instances with their principal's ([`server::scope`]).
    pub fn one_request(&self) -> PierServer {
        PierServer::one_request(self.shared.clone())
    }

    /// How many tasks (MCP 2026-07-28) this pier runs now.
    pub fn tasks_running(&self) -> usize {
        self.shared.tasks.running_here()
    }

    /// Cancelled when the server begins to shut down (long-lived streams end then).
    pub fn draining(&self) -> tokio_util::sync::CancellationToken {
        self.shared.draining.clone()
    }

    /// Which sessions subscribed to which resources.
    pub fn subscriptions(&self) -> &server::subscriptions::Subscriptions {
        &self.shared.subscriptions
    }

    /// This replica among the others sharing its store.
    pub fn fleet(&self) -> &Arc<fleet::Fleet> {
        &self.shared.fleet
    }

    /// The live catalogue.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.shared.registry
    }

    /// The middleware chains: server-level and per mount (to add middleware written
    /// in Rust, as FastMCP's `add_middleware`).
    pub fn pipeline(&self) -> &Arc<middleware::Pipeline> {
        &self.shared.pipeline
    }

    /// The metrics of this instance.
    pub fn metrics(&self) -> &Arc<telemetry::Metrics> {
        &self.shared.metrics
    }

    /// Requests being served now.
    pub fn in_flight(&self) -> &Arc<server::InFlight> {
        &self.shared.in_flight
    }

    /// The store plugins' storage (and pier's own state) lives in.
    pub fn store(&self) -> &Arc<dyn storage::KeyValue> {
        self.runtime.store()
    }

    /// The runtime (engine, linker, AOT cache).
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Whether loading finished, and what was refused.
    pub fn readiness(&self) -> Readiness {
        self.readiness
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Why the store did not answer its last probe (every 2 s); `None` when it did.
    pub fn store_down(&self) -> Option<String> {
        self.store_health.down()
    }

    /// Plugin files whose latest version was refused, with the reasons.
    pub fn refused(&self) -> Vec<LoadError> {
        self.refusals().into_iter().map(|r| r.error).collect()
    }

    /// Plugin files whose latest version was refused, and the version each still
    /// serves (when an earlier one loaded).
    pub fn refusals(&self) -> Vec<Refusal> {
        self.mounts.refused()
    }
}

/// Applies the watcher's changes until `stop` or the end of the watch.
async fn follow(
    watcher: watcher::Watcher,
    mut changes: tokio::sync::mpsc::UnboundedReceiver<Change>,
    stop: CancellationToken,
    mounts: Arc<Mounts>,
    metrics: Arc<telemetry::Metrics>,
    dir: PathBuf,
) {
    let _watching = watcher;
    loop {
        let change = tokio::select! {
            () = stop.cancelled() => return,
            change = changes.recv() => match change {
                Some(change) => change,
                None => return,
            },
        };
        let files = match change {
            Change::Files(files) => files,
            Change::Rescan => {
                let mut files = loader::plugin_files(&dir).unwrap_or_default();
                files.extend(mounts.files());
                files.sort();
                files.dedup();
                files
            }
        };
        for file in files {
            report(&metrics, &mounts.reconcile(&file).await);
        }
    }
}

/// Plugin files loaded at once at start: one per core, but no more than one per GiB of
/// memory available (compiling a Python or JavaScript component takes a few hundred
/// MiB for a moment), and at least one.
fn loading_parallelism() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let available_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(usize::MAX, |kib| (kib >> 20) as usize);
    cores.min(available_gib).max(1)
}
