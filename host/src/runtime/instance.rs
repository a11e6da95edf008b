//! A loaded plugin: its pre-linked component, and a fresh `Store` per call or warm
//! ones of each trust scope (`instances = "reuse"`).

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::CallError;
use super::bindings::PierPlugin;
use super::bindings::PierPluginPre as PluginPre;
use super::bindings::types::{
    CompletionRef, Content, Error as GuestError, Manifest, PromptResult, ResourceContents,
    ToolResult,
};
use super::limits::Limits;
use super::sandbox::{Pool, Sandbox};
use super::state::{CallContext, CallState, NoRequest};
use super::warm::WarmPool;

/// A compiled, linked plugin, ready to serve calls. Cheap to share (`Arc` inside).
#[derive(Clone)]
pub struct Plugin {
    hash: Arc<str>,
    pre: PluginPre<CallState>,
    sandbox: Sandbox,
    /// Its warm instances, when it reuses them.
    warm: Option<Arc<Pool<PierPlugin>>>,
    /// The AOT artifact its code is mapped from.
    artifact: Arc<std::path::Path>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.sandbox.name())
            .field("hash", &self.hash)
            .field("limits", &self.sandbox.limits())
            .field("reuse", &self.warm.is_some())
            .finish()
    }
}

impl Plugin {
    pub(super) fn new(
        hash: String,
        pre: PluginPre<CallState>,
        sandbox: Sandbox,
        reuse: bool,
        artifact: std::path::PathBuf,
    ) -> Self {
        let policy = sandbox.limits().reuse;
        let warm = reuse.then(|| Arc::new(WarmPool::new(policy)));
        if let Some(pool) = &warm {
            sweep_idle(Arc::downgrade(pool), policy.idle);
        }
        Self {
            hash: hash.into(),
            pre,
            sandbox,
            warm,
            artifact: artifact.into(),
        }
    }

    /// Instances created so far: one per call for a plugin that does not reuse them,
    /// one per call that found no warm instance otherwise, plus `describe`'s.
    pub fn instantiations(&self) -> u64 {
        self.sandbox.instantiations()
    }

    /// How many calls a warm instance served (instead of a new one).
    pub fn warm_hits(&self) -> u64 {
        self.sandbox.warm_hits()
    }

    /// Whether warm instances serve further calls of their trust scope.
    pub fn reuses_instances(&self) -> bool {
        self.warm.is_some()
    }

    /// `fresh` or `reuse`: the instance model it runs under.
    pub fn instance_model(&self) -> &'static str {
        if self.warm.is_some() {
            "reuse"
        } else {
            "fresh"
        }
    }

    /// Resident bytes of its compiled code, given the resident bytes of every mapped
    /// file ([`super::resident::mapped_files`]): a best estimate of what it costs.
    pub fn resident_bytes(
        &self,
        mapped: &std::collections::HashMap<std::path::PathBuf, u64>,
    ) -> u64 {
        mapped.get(&*self.artifact).copied().unwrap_or(0)
    }

    /// Drops the warm instances of trust scope `scope`: its session ended.
    pub fn forget_scope(&self, scope: &str) {
        if let Some(pool) = &self.warm {
            pool.forget(scope);
        }
    }

    /// Warm instances waiting for a call now.
    pub fn warm_instances(&self) -> usize {
        self.warm.as_ref().map_or(0, |pool| pool.len())
    }

    /// The plugin's name (its file stem).
    pub fn name(&self) -> &str {
        self.sandbox.name()
    }

    /// SHA-256 of the component file: the plugin's version hash.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> Limits {
        self.sandbox.limits()
    }

    /// What it may reach beyond its sandbox.
    pub fn grants(&self) -> &super::grants::Grants {
        self.sandbox.grants()
    }

    /// Calls `describe` (once per mount) outside any request.
    pub async fn describe(&self) -> Result<Manifest, CallError> {
        self.sandbox
            .call(&self.pre, Arc::new(NoRequest::default()), async |b, s| {
                b.pier_mcp_plugin().call_describe(s).await
            })
            .await
    }

    /// Calls tool `name` with its JSON `arguments`.
    pub async fn call_tool(
        &self,
        ctx: Arc<dyn CallContext>,
        name: &str,
        arguments: String,
    ) -> Result<ToolResult, CallError> {
        let (result, explanation) = self
            .sandbox
            .call_reusing(&self.pre, self.warm.as_deref(), ctx, async |b, s| {
                let result = b
                    .pier_mcp_plugin()
                    .call_call_tool(&mut *s, name, &arguments)
                    .await?;
                Ok((result, s.data().egress.explanation()))
            })
            .await?;
        explain_egress(result, explanation)
    }

    /// Reads the resource at `uri` (as the plugin knows it).
    pub async fn read_resource(
        &self,
        ctx: Arc<dyn CallContext>,
        uri: &str,
    ) -> Result<Vec<ResourceContents>, CallError> {
        let result = self
            .sandbox
            .call_reusing(&self.pre, self.warm.as_deref(), ctx, async |b, s| {
                b.pier_mcp_plugin().call_read_resource(s, uri).await
            })
            .await?;
        result.map_err(CallError::Guest)
    }

    /// Renders prompt `name`.
    pub async fn get_prompt(
        &self,
        ctx: Arc<dyn CallContext>,
        name: &str,
        arguments: &[(String, String)],
    ) -> Result<PromptResult, CallError> {
        let result = self
            .sandbox
            .call_reusing(&self.pre, self.warm.as_deref(), ctx, async |b, s| {
                b.pier_mcp_plugin()
                    .call_get_prompt(s, name, arguments)
                    .await
            })
            .await?;
        result.map_err(CallError::Guest)
    }

    /// Asks for completions of `argument` of `reference`.
    pub async fn complete(
        &self,
        ctx: Arc<dyn CallContext>,
        reference: &CompletionRef,
        argument: &str,
        value: &str,
    ) -> Result<Vec<String>, CallError> {
        let result = self
            .sandbox
            .call_reusing(&self.pre, self.warm.as_deref(), ctx, async |b, s| {
                b.pier_mcp_plugin()
                    .call_complete(s, reference, argument, value)
                    .await
            })
            .await?;
        result.map_err(CallError::Guest)
    }
}

/// Drops the warm instances of `pool` that idled past `idle`, while the pool lives (its
/// plugin, or a call still running on a swapped-out version).
fn sweep_idle<T: Send + 'static>(pool: Weak<WarmPool<T>>, idle: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return; // No runtime (a test of the bookkeeping): expiry on `take` only.
    };
    let every = (idle / 2).clamp(Duration::from_millis(50), Duration::from_secs(5));
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(pool) = pool.upgrade() else { break };
            pool.sweep(Instant::now());
        }
    });
}

/// A failed tool call whose outbound request was refused (or failed) says so first: the
/// guest saw only an error code (`HTTP request denied`, `TLS protocol error`); the client
/// reads which destination, and which grant it lacked or what went wrong.
fn explain_egress(
    result: Result<ToolResult, GuestError>,
    explanation: Option<String>,
) -> Result<ToolResult, CallError> {
    let Some(explanation) = explanation else {
        return result.map_err(CallError::Guest);
    };
    match result {
        Ok(mut failed) if failed.is_error => {
            failed.content.insert(0, Content::Text(explanation));
            Ok(failed)
        }
        Ok(result) => Ok(result),
        Err(error) => Err(CallError::Guest(match error {
            GuestError::InvalidParams(m) => {
                GuestError::InvalidParams(format!("{explanation}\n{m}"))
            }
            GuestError::NotFound(m) => GuestError::NotFound(format!("{explanation}\n{m}")),
            GuestError::Failed(m) => GuestError::Failed(format!("{explanation}\n{m}")),
            GuestError::Unsupported(m) => GuestError::Unsupported(format!("{explanation}\n{m}")),
        })),
    }
}
