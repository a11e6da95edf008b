//! The WebAssembly runtime: one wasmtime engine, the AOT cache, and plugins that run
//! each call in a limited, capability-less instance: a fresh one, or a warm one of the
//! call's trust scope for plugins that reuse instances.
//!
//! Nothing above this module knows about wasmtime; nothing in it knows about JSON-RPC.

pub mod bindings;
pub mod budget;
pub mod cache;
pub mod compiler;
pub mod engine;
pub mod grants;
pub mod host;
pub mod instance;
pub mod limits;
pub mod middleware;
pub mod output;
pub mod resident;
mod sandbox;
pub mod state;
pub mod toolchain;
pub mod warm;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::Engine;
use wasmtime::component::Linker;

pub use bindings::types;
pub use cache::{AotCache, CacheOutcome};
pub use instance::Plugin;
pub use limits::{Limits, OutputLimits};
pub use middleware::MiddlewareComponent;
pub use state::{
    CallContext, CallState, Elicited, NoRequest, Question, Reply, RequestInfo, RequestState,
    TraceContext,
};

use crate::storage::{KeyValue, PluginStore};

/// Errors of building the runtime or loading a component.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The wasmtime engine could not be configured.
    #[error("cannot configure the WebAssembly engine: {0}")]
    Engine(String),
    /// The AOT cache directory is unusable.
    #[error("AOT cache {}: {reason}", path.display())]
    Cache {
        /// The cache directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The file is not a WebAssembly component pier can compile.
    #[error("{}: {reason}", file.display())]
    Compile {
        /// The plugin file.
        file: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// The component does not fit the `pier:mcp` plugin world.
    #[error("{}: not a pier plugin: {reason}", file.display())]
    WrongWorld {
        /// The plugin file.
        file: PathBuf,
        /// What does not fit.
        reason: String,
    },
}

/// Why a call into a plugin (or a middleware component) did not return a value. `who`
/// names the component for people: ``plugin `notes` `` or ``middleware `redact` ``.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call ran past the plugin's timeout and was interrupted.
    #[error("{who} timed out after {timeout_ms} ms")]
    Timeout {
        /// The component.
        who: String,
        /// Its timeout.
        timeout_ms: u64,
    },
    /// The guest tried to grow its memory past its limit.
    #[error("{who} ran out of memory: it tried to grow past its limit of {limit_mib} MiB")]
    OutOfMemory {
        /// The component.
        who: String,
        /// Its memory limit.
        limit_mib: usize,
    },
    /// The guest trapped (or panicked, which traps).
    #[error("{who} {}", match panic { Some(p) => format!("panicked: {p} ({reason})"), None => format!("trapped: {reason}") })]
    Trap {
        /// The component.
        who: String,
        /// The trap.
        reason: String,
        /// The panic message the guest printed, if any.
        panic: Option<String>,
    },
    /// The client cancelled the request; the guest was stopped.
    #[error("{who} was stopped: the request was cancelled")]
    Cancelled {
        /// The component.
        who: String,
    },
    /// Every call slot of the component stayed taken while the call waited.
    #[error("{who} is busy: {limit} calls are running (max-concurrent-calls); try again later")]
    Busy {
        /// The component.
        who: String,
        /// Its concurrency limit.
        limit: usize,
    },
    /// The plugin returned an error of the contract.
    #[error("{}", describe_guest_error(.0))]
    Guest(types::Error),
}

impl CallError {
    /// What kind of failure it is, in one word (`timeout`, `out_of_memory`, `trap`,
    /// `cancelled`, `busy`, `guest_error`): a metric's label, a span's `error.type`.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Timeout { .. } => "timeout",
            CallError::OutOfMemory { .. } => "out_of_memory",
            CallError::Trap { .. } => "trap",
            CallError::Cancelled { .. } => "cancelled",
            CallError::Busy { .. } => "busy",
            CallError::Guest(_) => "guest_error",
        }
    }
}

fn describe_guest_error(error: &types::Error) -> String {
    match error {
        types::Error::InvalidParams(m)
        | types::Error::NotFound(m)
        | types::Error::Failed(m)
        | types::Error::Unsupported(m) => m.clone(),
    }
}

/// Version header of a core WebAssembly module.
const CORE_MODULE_VERSION: [u8; 4] = [1, 0, 0, 0];

/// The engine, the linker with every host interface, the AOT cache, and the store
/// plugins' storage lives in.
///
/// Building it starts the epoch ticker thread; dropping it stops the thread.
pub struct Runtime {
    engine: Engine,
    /// Plugins: WASI without capabilities, `context`, `storage`.
    linker: Linker<CallState>,
    /// Middleware components: WASI without capabilities and `context` only.
    middleware_linker: Linker<CallState>,
    cache: AotCache,
    store: Arc<dyn KeyValue>,
    aot_keep: std::time::Duration,
    egress_count: Option<grants::EgressCounter>,
    _ticker: engine::Ticker,
}

impl Runtime {
    /// A runtime caching compiled components in `cache_dir`, keeping plugins' storage in
    /// `store`; no plugin may ever grow its memory past `max_memory_bytes`.
    pub fn new(
        cache_dir: &Path,
        max_memory_bytes: usize,
        store: Arc<dyn KeyValue>,
    ) -> Result<Self, RuntimeError> {
        let engine = engine::build(max_memory_bytes)?;
        let link = |e: wasmtime::Error| RuntimeError::Engine(format!("{e:#}"));
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(link)?;
        wasmtime_wasi_config::add_to_linker(&mut linker, config_of).map_err(link)?;
        bindings::PierPlugin::add_to_linker::<_, wasmtime::component::HasSelf<CallState>>(
            &mut linker,
            |s| s,
        )
        .map_err(link)?;
        let mut middleware_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut middleware_linker).map_err(link)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut middleware_linker)
            .map_err(link)?;
        wasmtime_wasi_config::add_to_linker(&mut middleware_linker, config_of).map_err(link)?;
        bindings::middleware::PierMiddleware::add_to_linker::<
            _,
            wasmtime::component::HasSelf<CallState>,
        >(&mut middleware_linker, |s| s)
        .map_err(link)?;
        let cache = AotCache::new(cache_dir, &engine, max_memory_bytes)?;
        let ticker = engine::start_ticker(&engine);
        Ok(Self {
            engine,
            linker,
            middleware_linker,
            cache,
            store,
            aot_keep: std::time::Duration::from_secs(30 * 86_400),
            egress_count: None,
            _ticker: ticker,
        })
    }

    /// Keeps unused AOT artifacts for `keep` (30 days by default).
    pub fn keeping_artifacts(mut self, keep: std::time::Duration) -> Self {
        self.aot_keep = keep;
        self
    }

    /// What counts outbound HTTP requests, if anything does (for host mounts that
    /// send through the same egress).
    pub fn egress_counter(&self) -> Option<grants::EgressCounter> {
        self.egress_count.clone()
    }

    /// Counts every outbound HTTP request of the components it loads from now on with
    /// `count` (plugin, host label, outcome).
    pub fn counting_egress(mut self, count: grants::EgressCounter) -> Self {
        self.egress_count = Some(count);
        self
    }

    /// Records in the cache's index that the artifact of `hash` serves `file` now.
    pub async fn record_use(&self, hash: &str, file: &Path) {
        if let Err(e) = self
            .cache
            .record_use(&*self.store, hash, file, self.aot_keep)
            .await
        {
            tracing::warn!(
                "cannot record the use of {}'s compiled code: {e}",
                file.display()
            );
        }
    }

    /// Deletes AOT artifacts no one used for the keep time (only with a persistent
    /// store: an in-memory index knows nothing of earlier runs).
    pub async fn prune_artifacts(&self) {
        if self.store.backend() == "memory" {
            return;
        }
        match self.cache.prune(&*self.store, self.aot_keep).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                "deleted {n} compiled plugins unused for {} days",
                self.aot_keep.as_secs() / 86_400
            ),
            Err(e) => tracing::warn!("cannot prune the AOT cache: {e}"),
        }
    }

    /// The store plugins' storage lives in.
    pub fn store(&self) -> &Arc<dyn KeyValue> {
        &self.store
    }

    /// Compiles (or loads from the cache) and links the component in `bytes`, read from
    /// `file`, as plugin `name` running under `limits`, its storage the key space
    /// `storage` (see [`crate::registry::storage_space`]), reaching what `grants` allow.
    pub fn load(
        &self,
        name: &str,
        storage: &str,
        file: &Path,
        bytes: &[u8],
        limits: Limits,
        grants: Arc<grants::Grants>,
    ) -> Result<(Plugin, CacheOutcome), RuntimeError> {
        let (pre, hash, outcome) = self.link(&self.linker, file, bytes)?;
        let pre = bindings::PierPluginPre::new(pre).map_err(|e| wrong_world(file, e))?;
        let store = PluginStore::new(self.store.clone(), storage, limits.storage);
        let reuse = match limits.instances {
            limits::Instances::Fresh => false,
            limits::Instances::Reuse => true,
            limits::Instances::Auto => toolchain::heavy(bytes).is_some(),
        };
        let sandbox = sandbox::Sandbox::new("plugin", name, limits, Some(store), grants)
            .counting_egress(self.egress_count.clone());
        let artifact = self.cache.artifact_path(&hash);
        Ok((Plugin::new(hash, pre, sandbox, reuse, artifact), outcome))
    }

    /// Compiles (or loads from the cache) and links the middleware component in `bytes`,
    /// read from `file`, as middleware `name` running under `limits`, reaching what
    /// `grants` allow.
    pub fn load_middleware(
        &self,
        name: &str,
        file: &Path,
        bytes: &[u8],
        limits: Limits,
        grants: Arc<grants::Grants>,
    ) -> Result<MiddlewareComponent, RuntimeError> {
        let not_middleware = |e: wasmtime::Error| RuntimeError::WrongWorld {
            file: file.to_path_buf(),
            reason: format!("not a pier middleware (world `pier-middleware`): {e:#}"),
        };
        let (pre, hash, _) =
            self.link(&self.middleware_linker, file, bytes)
                .map_err(|e| match e {
                    RuntimeError::WrongWorld { reason, .. } => {
                        not_middleware(wasmtime::Error::msg(reason))
                    }
                    other => other,
                })?;
        let pre = bindings::middleware::PierMiddlewarePre::new(pre).map_err(not_middleware)?;
        // Middleware sees every request of every plugin: it gets no storage at all (a
        // key space of its own would need a world that imports storage).
        let sandbox = sandbox::Sandbox::new("middleware", name, limits, None, grants)
            .counting_egress(self.egress_count.clone());
        Ok(MiddlewareComponent::new(hash, pre, sandbox))
    }

    /// The component in `bytes` compiled (or loaded from the AOT cache) and linked
    /// against the host interfaces of `linker`; its content hash.
    fn link(
        &self,
        linker: &Linker<CallState>,
        file: &Path,
        bytes: &[u8],
    ) -> Result<
        (
            wasmtime::component::InstancePre<CallState>,
            String,
            CacheOutcome,
        ),
        RuntimeError,
    > {
        check_header(file, bytes)?;
        let hash = AotCache::content_hash(bytes);
        let (component, outcome) = self
            .cache
            .load_or_compile(&self.engine, file, &hash, bytes)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| wrong_world(file, e))?;
        Ok((pre, hash, outcome))
    }
}

/// The `wasi:config/store` of a call.
fn config_of(state: &mut CallState) -> wasmtime_wasi_config::WasiConfig<'_> {
    wasmtime_wasi_config::WasiConfig::from(&*state.config)
}

fn wrong_world(file: &Path, e: wasmtime::Error) -> RuntimeError {
    RuntimeError::WrongWorld {
        file: file.to_path_buf(),
        reason: format!("{e:#}"),
    }
}

fn check_header(file: &Path, bytes: &[u8]) -> Result<(), RuntimeError> {
    match header_problem(bytes) {
        Some(reason) => Err(RuntimeError::Compile {
            file: file.to_path_buf(),
            reason: reason.to_string(),
        }),
        None => Ok(()),
    }
}

/// Why `bytes` cannot be a component, judged by their header alone.
pub fn header_problem(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Some("not a WebAssembly file (no `\\0asm` header)");
    }
    if bytes[4..8] == CORE_MODULE_VERSION {
        return Some(
            "a core WebAssembly module, not a component: build it for wasm32-wasip2 or wrap it with `wasm-tools component new`",
        );
    }
    None
}
