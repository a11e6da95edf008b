//! What every call into a component runs under: a `Store` with no capabilities (fresh,
//! or a warm one of the call's trust scope for a plugin that reuses instances), the
//! component's limits (deadline, memory), cancellation, and the classification of a
//! failed call. Plugins and middleware components share it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tracing::Instrument;

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};
use wasmtime_wasi_http::WasiHttpCtx;

use super::CallError;
use super::bindings::middleware::{PierMiddleware, PierMiddlewarePre};
use super::bindings::{PierPlugin, PierPluginPre};
use super::budget::OutputBudget;
use super::grants::files::Mode;
use super::grants::{Egress, EgressCounter, Grants};
use super::limits::ReuseScope;
use super::limits::{Limits, MemoryLimiter};
use super::output::LogStream;
use super::state::{CallContext, CallState, NoRequest};
use super::warm::{Warm, WarmPool};
use crate::storage::PluginStore;

/// How long a call waits for one of its component's call slots before it fails as busy.
const BUSY_WAIT: Duration = Duration::from_secs(1);

/// Extra time a call may spend awaiting the host (e.g. the client) past its deadline
/// before it is abandoned; CPU-bound guests are stopped by the epoch at the deadline.
const HOST_WAIT_GRACE: Duration = Duration::from_secs(1);

/// What a warm instance waiting between calls holds: its store, and its exports once
/// instantiated.
pub(super) struct Resident<E> {
    store: Store<CallState>,
    exports: Option<E>,
}

/// The warm instances of one component.
pub(super) type Pool<E> = WarmPool<Resident<E>>;

/// The context of a warm instance between calls: none of a request.
static IDLE: std::sync::LazyLock<Arc<dyn CallContext>> =
    std::sync::LazyLock::new(|| Arc::new(NoRequest::default()));

/// A component linked for one world (`pier-plugin`, `pier-middleware`), ready to be
/// instantiated in a call's store.
pub(super) trait Linked {
    /// What an instance exports.
    type Exports;
    /// The engine it was compiled for.
    fn engine(&self) -> &Engine;
    /// A new instance in `store`.
    fn instantiate(
        &self,
        store: &mut Store<CallState>,
    ) -> impl Future<Output = wasmtime::Result<Self::Exports>> + Send;
}

impl Linked for PierPluginPre<CallState> {
    type Exports = PierPlugin;
    fn engine(&self) -> &Engine {
        PierPluginPre::engine(self)
    }
    fn instantiate(
        &self,
        store: &mut Store<CallState>,
    ) -> impl Future<Output = wasmtime::Result<PierPlugin>> + Send {
        self.instantiate_async(store)
    }
}

impl Linked for PierMiddlewarePre<CallState> {
    type Exports = PierMiddleware;
    fn engine(&self) -> &Engine {
        PierMiddlewarePre::engine(self)
    }
    fn instantiate(
        &self,
        store: &mut Store<CallState>,
    ) -> impl Future<Output = wasmtime::Result<PierMiddleware>> + Send {
        self.instantiate_async(store)
    }
}

/// One component's name, limits, storage view (plugins only) and instance count.
#[derive(Clone)]
pub(super) struct Sandbox {
    /// `plugin` or `middleware`, for error messages.
    kind: &'static str,
    name: Arc<str>,
    limits: Limits,
    store: Option<PluginStore>,
    instantiations: Arc<AtomicU64>,
    /// Calls served on a warm instance.
    warm_hits: Arc<AtomicU64>,
    /// One permit per call the component may serve at once.
    slots: Arc<tokio::sync::Semaphore>,
    /// What it may reach beyond its sandbox.
    grants: Arc<Grants>,
    /// Counts its outbound requests (`pier_egress_requests_total`).
    egress_count: Option<EgressCounter>,
}

impl Sandbox {
    pub(super) fn new(
        kind: &'static str,
        name: &str,
        limits: Limits,
        store: Option<PluginStore>,
        grants: Arc<Grants>,
    ) -> Self {
        Self {
            kind,
            name: name.into(),
            limits,
            store,
            grants,
            egress_count: None,
            instantiations: Arc::default(),
            warm_hits: Arc::default(),
            slots: Arc::new(tokio::sync::Semaphore::new(
                limits.max_concurrent_calls.max(1),
            )),
        }
    }

    /// Counts its outbound requests with `count`.
    pub(super) fn counting_egress(mut self, count: Option<EgressCounter>) -> Self {
        self.egress_count = count;
        self
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn limits(&self) -> Limits {
        self.limits
    }

    pub(super) fn grants(&self) -> &Arc<Grants> {
        &self.grants
    }

    pub(super) fn instantiations(&self) -> u64 {
        self.instantiations.load(Ordering::Relaxed)
    }

    /// Calls served on a warm instance so far.
    pub(super) fn warm_hits(&self) -> u64 {
        self.warm_hits.load(Ordering::Relaxed)
    }

    /// What checks and counts the outbound requests of a call ending at `deadline`.
    fn egress(&self, deadline: Instant) -> Egress {
        Egress::new(
            self.who(),
            self.name.clone(),
            self.grants.clone(),
            self.limits.http,
            deadline,
            self.egress_count.clone(),
        )
    }

    fn new_store(&self, engine: &Engine, ctx: Arc<dyn CallContext>) -> Store<CallState> {
        let budget = OutputBudget::new(self.who(), self.limits.output);
        let stdout = LogStream::new(self.name.clone(), "stdout", budget.clone());
        let stderr = LogStream::new(self.name.clone(), "stderr", budget.clone());
        // No capability but the grants: no filesystem, environment, arguments or sockets;
        // outbound HTTP only through `wasi:http`, where `Egress` checks each request.
        let deadline = Instant::now() + self.limits.timeout;
        let egress = self.egress(deadline);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(stdout)
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        for dir in &self.grants.files {
            let perms = match dir.mode {
                Mode::Ro => FsPerms::ReadOnly,
                Mode::Rw => FsPerms::ReadWrite,
            };
            let Some(path) = dir.opened.path_for(&dir.host) else {
                tracing::warn!(
                    plugin = %self.name,
                    "[grants] files: {} now leads elsewhere (replaced since it was granted); the call runs without it",
                    dir.host.display()
                );
                continue;
            };
            if let Err(e) = wasi.preopened_dir(&path, &dir.guest, perms) {
                // Removed since the plugin was loaded: the call runs without it.
                tracing::warn!(plugin = %self.name, "[grants] files: {}: {e:#}", dir.host.display());
            }
        }
        let wasi = wasi.build();
        let state = CallState {
            plugin: self.name.clone(),
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(self.limits.memory_bytes),
            ctx,
            store: self.store.clone(),
            budget,
            http: WasiHttpCtx::new(),
            egress,
            config: self.grants.config.variables().clone(),
            deadline,
            timed_out: false,
            stderr,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        // Every tick: stop a guest past its deadline, otherwise yield to other tasks so a
        // busy guest never monopolises a runtime thread.
        store.epoch_deadline_callback(|mut cx| {
            let state = cx.data_mut();
            if Instant::now() >= state.deadline {
                state.timed_out = true;
                return Err(wasmtime::Error::new(Trap::Interrupt));
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store
    }

    /// Instantiates `pre` in a fresh store under the limits and runs `call` on its
    /// exports: the one path of every call into a plugin or a middleware component.
    pub(super) async fn call<P: Linked, R>(
        &self,
        pre: &P,
        ctx: Arc<dyn CallContext>,
        call: impl AsyncFnOnce(&P::Exports, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        self.call_reusing(pre, None, ctx, call).await
    }

    /// [`Sandbox::call`] on a warm instance of the call's trust scope from `warm` when
    /// there is one (else a new one), put back there when the call went well.
    pub(super) async fn call_reusing<P: Linked, R>(
        &self,
        pre: &P,
        warm: Option<&Pool<P::Exports>>,
        ctx: Arc<dyn CallContext>,
        call: impl AsyncFnOnce(&P::Exports, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let cancelled = ctx.cancellation();
        // One busy component (e.g. calls waiting on the client for sampling) must not
        // take every instance slot of the engine's pool from the others.
        let _slot = tokio::select! {
            slot = tokio::time::timeout(BUSY_WAIT, self.slots.acquire()) => match slot {
                Ok(Ok(slot)) => slot,
                _ => return Err(CallError::Busy {
                    who: self.who(),
                    limit: self.limits.max_concurrent_calls,
                }),
            },
            () = cancelled.cancelled() => return Err(self.cancelled()),
        };
        let pool = warm.and_then(|pool| Some((pool, self.scope_of(&*ctx)?)));
        let taken = pool
            .as_ref()
            .and_then(|(pool, scope)| pool.take(scope, Instant::now()));
        if pool.is_some() {
            ctx.instance_used(taken.is_some());
        }
        let mut instance = match taken {
            Some(mut warm) => {
                self.warm_hits.fetch_add(1, Ordering::Relaxed);
                let _reuse = crate::telemetry::trace::reuse(&self.name).entered();
                self.rearm(&mut warm.instance.store, ctx);
                warm
            }
            None => {
                let scope = pool.as_ref().map(|(_, scope)| scope.clone());
                Warm::new(
                    Resident {
                        store: self.new_store(pre.engine(), ctx),
                        exports: None,
                    },
                    scope,
                )
            }
        };
        let resident = &mut instance.instance;
        let run = crate::telemetry::trace::run(&self.name);
        // A cancelled request stops the guest: the call yields at every epoch tick (and
        // waits in host calls), where this drops it with its store and instance.
        let outcome = tokio::select! {
            outcome = tokio::time::timeout(
                self.limits.timeout + HOST_WAIT_GRACE,
                async {
                    let exports = match resident.exports.take() {
                        Some(exports) => exports,
                        None => {
                            self.instantiations.fetch_add(1, Ordering::Relaxed);
                            pre.instantiate(&mut resident.store)
                                .instrument(crate::telemetry::trace::instantiate(&self.name))
                                .await?
                        }
                    };
                    let outcome = call(&exports, &mut resident.store)
                        .instrument(run.clone())
                        .await;
                    resident.exports = Some(exports);
                    outcome
                },
            ) => outcome,
            () = cancelled.cancelled() => return Err(self.cancelled()),
        };
        let store = &resident.store;
        let result = match outcome {
            Ok(_) if store.data().egress.cut_by_deadline() => Err(self.timeout()),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.classify(store, error)),
            Err(_elapsed) => Err(self.timeout()),
        };
        if let Err(error) = &result {
            crate::telemetry::trace::fail(&run, error.kind(), &error.to_string());
        }
        // Only an instance whose call went well serves again: after a trap, a timeout,
        // a cancellation or running out of memory it is dropped here; so is one whose
        // call stopped for a question (its retry runs from the start, as in a fresh one).
        let suspended = resident.store.data().ctx.suspended();
        if let (Ok(_), Some((pool, _)), false) = (&result, pool, suspended) {
            let state = instance.instance.store.data_mut();
            state.ctx = IDLE.clone();
            state.budget.settle();
            pool.put(instance, Instant::now());
        }
        result
    }

    /// Who may share a warm instance with the call of `ctx`; `None`: nobody.
    fn scope_of(&self, ctx: &dyn CallContext) -> Option<Arc<str>> {
        match self.limits.reuse_scope {
            ReuseScope::Plugin => Some(Arc::from("")),
            ReuseScope::Session => ctx.trust_scope(),
        }
    }

    /// Readies a warm instance's store for the next call, of `ctx`: a new deadline and
    /// outbound budget, nothing of the last call's request (its output budget was
    /// settled when it was put back).
    fn rearm(&self, store: &mut Store<CallState>, ctx: Arc<dyn CallContext>) {
        let deadline = Instant::now() + self.limits.timeout;
        let egress = self.egress(deadline);
        let state = store.data_mut();
        state.ctx = ctx;
        state.deadline = deadline;
        state.timed_out = false;
        state.egress = egress;
        state.stderr.clear_tail();
        store.set_epoch_deadline(1);
    }

    /// ``plugin `NAME` ``, as errors name the component.
    fn who(&self) -> String {
        format!("{} `{}`", self.kind, self.name)
    }

    fn timeout(&self) -> CallError {
        CallError::Timeout {
            who: self.who(),
            timeout_ms: self.limits.timeout.as_millis() as u64,
        }
    }

    fn cancelled(&self) -> CallError {
        CallError::Cancelled { who: self.who() }
    }

    fn classify(&self, store: &Store<CallState>, error: wasmtime::Error) -> CallError {
        let state = store.data();
        if state.timed_out {
            return self.timeout();
        }
        if state.limiter.exceeded {
            return CallError::OutOfMemory {
                who: self.who(),
                limit_mib: self.limits.memory_bytes >> 20,
            };
        }
        let mut reason = match error.downcast_ref::<Trap>() {
            Some(trap) => trap.to_string(),
            None => error.root_cause().to_string(),
        };
        if let Some(explanation) = state.egress.explanation() {
            reason = format!("{reason}; {explanation}");
        }
        CallError::Trap {
            who: self.who(),
            reason,
            panic: panic_message(&state.stderr.tail()),
        }
    }
}

/// Why a guest trapped, in its own words: the exception a Python guest raised, else the
/// message of a Rust guest's panic, from what it printed to stderr before trapping.
fn panic_message(stderr: &str) -> Option<String> {
    python_exception(stderr)
        .or_else(|| js_exception(stderr))
        .or_else(|| rust_panic(stderr))
}

/// The exception a JavaScript guest (componentize-js) let escape: the message it
/// printed before its `Stack:` (and before aborting).
fn js_exception(stderr: &str) -> Option<String> {
    let before = &stderr[..stderr.rfind("\nStack:\n")?];
    let message = before.lines().rev().find(|l| !l.trim().is_empty())?;
    Some(crate::text::clip(message.trim()).into_owned())
}

/// The exception a Python guest (componentize-py) let escape, from the traceback it
/// printed before trapping: the exception line, and where it was raised (the innermost
/// `File …, line N` of the traceback).
fn python_exception(stderr: &str) -> Option<String> {
    let start = stderr.rfind("Traceback (most recent call last):")?;
    let mut place = None;
    for line in stderr[start..].lines().skip(1) {
        if let Some(file) = line.trim_start().strip_prefix("File ") {
            // `"PATH", line N, in FUNCTION`: the path and line say where.
            let at = file.split(", in ").next().unwrap_or(file);
            place = Some(at.to_string());
        } else if !line.starts_with(char::is_whitespace) && !line.trim().is_empty() {
            let exception = crate::text::clip(line.trim());
            return Some(match place {
                Some(at) => format!("{exception} (File {at})"),
                None => exception.into_owned(),
            });
        }
    }
    None
}

/// The message of a Rust guest's panic, from what it printed to stderr before trapping.
fn rust_panic(stderr: &str) -> Option<String> {
    let start = stderr.rfind("panicked at")?;
    let after = &stderr[start..];
    // Rust prints `panicked at FILE:LINE:COL:` then the message on the next line(s).
    let message: Vec<&str> = after
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("note:"))
        .filter(|l| !l.trim().is_empty())
        .collect();
    (!message.is_empty()).then(|| message.join(" "))
}

#[cfg(test)]
mod tests {
    use super::panic_message;

    #[test]
    fn panic_message_is_the_text_after_the_location() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:10:5:\nboom goes the tool\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(panic_message(stderr).as_deref(), Some("boom goes the tool"));
        assert_eq!(panic_message("just some output\n"), None);
    }

    #[test]
    fn python_and_js_guests_name_their_exception() {
        let stderr = "Traceback (most recent call last):\n  File \"/0/pier_sdk/_component.py\", line 162, in describe\n  File \"/pier-dev/src/server.py\", line 20\n    def broken(:\n               ^\nSyntaxError: invalid syntax\n\nthread '<unnamed>' (1) panicked at runtime/src/lib.rs:1280:25:\nPython function threw an unexpected exception\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("SyntaxError: invalid syntax (File \"/pier-dev/src/server.py\", line 20)")
        );
        let raised = "Traceback (most recent call last):\n  File \"/1/app.py\", line 3, in call_tool\nKeyError: 'x'\n";
        assert_eq!(
            panic_message(raised).as_deref(),
            Some("KeyError: 'x' (File \"/1/app.py\", line 3)")
        );
        let thrown = "Redirecting call to abort() to mozalloc_abort\n\nboom at load\nStack:\n  anonymous@bundle.js line 21002 > Function:11:7\n  describe@bundle.js:17680:19\n\nRedirecting call to abort() to mozalloc_abort\n";
        assert_eq!(panic_message(thrown).as_deref(), Some("boom at load"));
        // A traceback cut short names nothing it does not have.
        assert_eq!(
            panic_message("Traceback (most recent call last):\n  File \"a.py\", line 1, in f\n"),
            None
        );
    }
}
