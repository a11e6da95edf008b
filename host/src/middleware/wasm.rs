//! `wasm`: a middleware written as a WebAssembly component (world `pier-middleware`),
//! sandboxed like a plugin: its `before` and `after` hooks run around each request it
//! handles, each in a fresh instance with the request's `context`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rmcp::ErrorData as McpError;
use serde::{Deserialize, Serialize};

use super::spec::{Services, SpecError};
use super::{Middleware, MiddlewareContext, Next, Outcome, Request, Response};
use crate::runtime::bindings::middleware::{Action, Request as GuestRequest};
use crate::runtime::grants::GrantRequest;
use crate::runtime::types::Error as GuestError;
use crate::runtime::{CallContext, CallError, Limits, MiddlewareComponent, NoRequest};
use crate::storage::Quota;

/// `[[middleware]] type = "wasm"`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// The component file (relative paths from the working directory).
    pub path: PathBuf,
    /// Its name in logs and errors (default: the file stem).
    pub name: Option<String>,
    /// Longest run of one hook.
    pub timeout_ms: u64,
    /// Memory one hook's instance may use.
    pub memory_mb: usize,
    /// What it may reach beyond its sandbox (outbound HTTP), capped by the operator's
    /// `[grants]` as a plugin's sidecar is.
    pub grants: GrantRequest,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            path: PathBuf::new(),
            name: None,
            timeout_ms: 5000,
            memory_mb: 64,
            grants: GrantRequest::default(),
        }
    }
}

impl Config {
    /// Checks a path is given and the limits are sensible.
    pub fn check(&self) -> Result<(), SpecError> {
        if self.path.as_os_str().is_empty() {
            return Err(SpecError::new(
                "path",
                "missing: the middleware component's file",
            ));
        }
        if !(1..=600_000).contains(&self.timeout_ms) {
            return Err(SpecError::new("timeout-ms", "expected 1 to 600000"));
        }
        if !(1..=4096).contains(&self.memory_mb) {
            return Err(SpecError::new("memory-mb", "expected 1 to 4096"));
        }
        self.grants
            .check()
            .map_err(|e| SpecError::new("grants", e))?;
        Ok(())
    }
}

/// Methods a middleware component may handle.
const METHODS: &[&str] = &[
    "tools/call",
    "resources/read",
    "prompts/get",
    "completion/complete",
    "tools/list",
    "resources/list",
    "resources/templates/list",
    "prompts/list",
];

/// A middleware component, loaded.
pub struct WasmMiddleware {
    component: MiddlewareComponent,
    /// What `methods` answered (asked at the first request).
    methods: tokio::sync::OnceCell<Vec<String>>,
}

impl WasmMiddleware {
    /// Loads (compiles, links, checks the world of) the component of `config`.
    pub fn load(config: &Config, services: &Services) -> Result<Self, SpecError> {
        let path = &config.path;
        let bytes = std::fs::read(path)
            .map_err(|e| SpecError::new("path", format!("cannot read {}: {e}", path.display())))?;
        let name = config.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "wasm".into())
        });
        let limits = Limits {
            timeout: Duration::from_millis(config.timeout_ms),
            memory_bytes: config.memory_mb << 20,
            storage: Quota {
                max_keys: 0,
                max_value_bytes: 0,
            },
            ..Limits::default()
        };
        let (grants, warnings) = config
            .grants
            .capped(
                &format!("middleware `{name}`"),
                &services.grants,
                Path::new("."),
            )
            .map_err(|e| SpecError::new("grants", e))?;
        for warning in warnings {
            tracing::warn!("{warning}");
        }
        let component = services
            .runtime
            .load_middleware(&name, path, &bytes, limits, Arc::new(grants))
            .map_err(|e| SpecError::new("path", e.to_string()))?;
        Ok(Self {
            component,
            methods: tokio::sync::OnceCell::new(),
        })
    }

    /// A failure of the component, as the client sees it.
    fn failed(&self, error: CallError) -> McpError {
        match error {
            CallError::Guest(GuestError::InvalidParams(m)) => McpError::invalid_params(m, None),
            CallError::Guest(GuestError::NotFound(m)) => McpError::invalid_params(m, None),
            CallError::Guest(GuestError::Failed(m) | GuestError::Unsupported(m)) => {
                McpError::internal_error(format!("middleware `{}` failed: {m}", self.name()), None)
            }
            // The sandbox names the component: ``middleware `NAME` trapped: …``.
            other => McpError::internal_error(other.to_string(), None),
        }
    }

    /// An answer of the component that does not fit the request.
    fn invalid(&self, hook: &str, method: &str, reason: String) -> McpError {
        McpError::internal_error(
            format!(
                "middleware `{}` answered {hook} of {method} with an invalid result: {reason}",
                self.name()
            ),
            None,
        )
    }

    /// Whether the component handles `method`.
    async fn handles(&self, method: &str) -> Result<bool, McpError> {
        let methods = self
            .methods
            .get_or_try_init(|| async {
                let asked = self.component.methods(Arc::new(NoRequest::default())).await;
                asked.map_err(|e| self.failed(e))
            })
            .await?;
        Ok(
            METHODS.contains(&method)
                && (methods.is_empty() || methods.iter().any(|m| m == method)),
        )
    }
}

fn guest_request(request: &Request) -> GuestRequest {
    GuestRequest {
        method: request.method().to_string(),
        component: request.component().map(String::from),
        params: request.params().to_string(),
    }
}

#[async_trait]
impl Middleware for WasmMiddleware {
    fn name(&self) -> &str {
        self.component.name()
    }

    async fn on_request(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        next: Next<'_>,
    ) -> Outcome {
        let method = request.method();
        if !self.handles(method).await? {
            return next.run(cx, request).await;
        }
        let ctx: Arc<dyn CallContext> = cx.request().clone();
        let request = match self
            .component
            .before(ctx.clone(), &guest_request(&request))
            .await
            .map_err(|e| self.failed(e))?
        {
            Action::Proceed => request,
            Action::Replace(params) => {
                let params = serde_json::from_str(&params)
                    .map_err(|e| self.invalid("before", method, e.to_string()))?;
                request
                    .with_params(params)
                    .map_err(|e| self.invalid("before", method, e))?
            }
            Action::Respond(result) => {
                let value = serde_json::from_str(&result)
                    .map_err(|e| self.invalid("before", method, e.to_string()))?;
                return Response::from_json(method, value)
                    .map_err(|e| self.invalid("before", method, e));
            }
        };
        let response = next.run(cx, request.clone()).await?;
        let replaced = self
            .component
            .after(
                ctx,
                &guest_request(&request),
                &response.to_json().to_string(),
            )
            .await
            .map_err(|e| self.failed(e))?;
        match replaced {
            None => Ok(response),
            Some(result) => {
                let value = serde_json::from_str(&result)
                    .map_err(|e| self.invalid("after", method, e.to_string()))?;
                Response::from_json(method, value).map_err(|e| self.invalid("after", method, e))
            }
        }
    }
}
