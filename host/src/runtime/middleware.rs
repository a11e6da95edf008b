//! A loaded middleware component (world `pier-middleware`): its hooks, each run in a
//! fresh instance under the component's limits, like a plugin call.

use std::sync::Arc;

use super::CallError;
use super::bindings::middleware::{Action, PierMiddlewarePre, Request};
use super::sandbox::Sandbox;
use super::state::{CallContext, CallState};

/// A compiled, linked middleware component. Cheap to share.
#[derive(Clone)]
pub struct MiddlewareComponent {
    hash: Arc<str>,
    pre: PierMiddlewarePre<CallState>,
    sandbox: Sandbox,
}

impl MiddlewareComponent {
    pub(super) fn new(hash: String, pre: PierMiddlewarePre<CallState>, sandbox: Sandbox) -> Self {
        Self {
            hash: hash.into(),
            pre,
            sandbox,
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        self.sandbox.name()
    }

    /// SHA-256 of the component file.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Instances created so far (one per hook call).
    pub fn instantiations(&self) -> u64 {
        self.sandbox.instantiations()
    }

    /// The methods it handles (empty: all).
    pub async fn methods(&self, ctx: Arc<dyn CallContext>) -> Result<Vec<String>, CallError> {
        self.sandbox
            .call(&self.pre, ctx, async |b, s| {
                b.pier_mcp_middleware().call_methods(s).await
            })
            .await
    }

    /// Its `before` hook.
    pub async fn before(
        &self,
        ctx: Arc<dyn CallContext>,
        request: &Request,
    ) -> Result<Action, CallError> {
        let result = self
            .sandbox
            .call(&self.pre, ctx, async |b, s| {
                b.pier_mcp_middleware().call_before(s, request).await
            })
            .await?;
        result.map_err(CallError::Guest)
    }

    /// Its `after` hook: a replacement for `response` (JSON), or none.
    pub async fn after(
        &self,
        ctx: Arc<dyn CallContext>,
        request: &Request,
        response: &str,
    ) -> Result<Option<String>, CallError> {
        let result = self
            .sandbox
            .call(&self.pre, ctx, async |b, s| {
                b.pier_mcp_middleware()
                    .call_after(s, request, &response.to_string())
                    .await
            })
            .await?;
        result.map_err(CallError::Guest)
    }
}
