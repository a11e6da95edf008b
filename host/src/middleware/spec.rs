//! Middleware as configured: one `[[middleware]]` table (or one item of a mount's
//! `middleware = [...]`) per middleware, `type` naming a built-in or `"wasm"`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{
    Chain, Middleware, detailed_timing, error_handling, logging, rate_limit, response_cache,
    response_limit, retry, timing, visibility, wasm,
};
use crate::runtime::Runtime;
use crate::storage::KeyValue;
use crate::telemetry::Metrics;

/// One configured middleware.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Spec {
    /// One log line per request.
    Logging(logging::Config),
    /// Error counting and masking.
    ErrorHandling(error_handling::Config),
    /// Retries of transient failures.
    Retry(retry::Config),
    /// Duration of every request.
    Timing(timing::Config),
    /// Duration per operation and component.
    DetailedTiming(detailed_timing::Config),
    /// Token bucket or sliding window limits.
    RateLimit(rate_limit::Config),
    /// Cached results.
    ResponseCache(response_cache::Config),
    /// A cap on result sizes.
    ResponseLimit(response_limit::Config),
    /// Hidden components.
    Visibility(visibility::Config),
    /// A middleware written as a WebAssembly component.
    Wasm(wasm::Config),
}

/// What building a middleware may need.
#[derive(Clone)]
pub struct Services {
    /// The server's store (rate-limit state, cached responses).
    pub store: Arc<dyn KeyValue>,
    /// The server's metrics.
    pub metrics: Arc<Metrics>,
    /// The WebAssembly runtime (WASM middlewares).
    pub runtime: Arc<Runtime>,
    /// The operator's caps on what a WASM middleware may be granted.
    pub grants: crate::runtime::grants::GrantCaps,
}

/// Why a configured middleware cannot be used: the key and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if key.is_empty() { String::new() } else { format!("{key}: ") })]
pub struct SpecError {
    /// The offending key (`capacity`, `path`, …).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl SpecError {
    /// An error of `key`.
    pub fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

impl Spec {
    /// The `type` of the middleware.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Logging(_) => "logging",
            Self::ErrorHandling(_) => "error-handling",
            Self::Retry(_) => "retry",
            Self::Timing(_) => "timing",
            Self::DetailedTiming(_) => "detailed-timing",
            Self::RateLimit(_) => "rate-limit",
            Self::ResponseCache(_) => "response-cache",
            Self::ResponseLimit(_) => "response-limit",
            Self::Visibility(_) => "visibility",
            Self::Wasm(_) => "wasm",
        }
    }

    /// Checks the values serde cannot (ranges, combinations).
    pub fn check(&self) -> Result<(), SpecError> {
        match self {
            Self::Retry(c) => c.check(),
            Self::RateLimit(c) => c.check(),
            Self::ResponseCache(c) => c.check(),
            Self::ResponseLimit(c) => c.check(),
            Self::Wasm(c) => c.check(),
            _ => Ok(()),
        }
    }

    /// Builds the middleware; `scope` names where it applies (`server` or `mount NS`).
    pub fn build(
        &self,
        services: &Services,
        scope: &str,
    ) -> Result<Arc<dyn Middleware>, SpecError> {
        self.check()?;
        Ok(match self {
            Self::Logging(c) => Arc::new(logging::Logging::new(c.clone())),
            Self::ErrorHandling(c) => Arc::new(error_handling::ErrorHandling::new(
                c.clone(),
                services.metrics.clone(),
            )),
            Self::Retry(c) => Arc::new(retry::Retry::new(c.clone(), services.metrics.clone())),
            Self::Timing(c) => Arc::new(timing::Timing::new(c.clone(), services.metrics.clone())),
            Self::DetailedTiming(c) => Arc::new(detailed_timing::DetailedTiming::new(
                c.clone(),
                services.metrics.clone(),
            )),
            Self::RateLimit(c) => Arc::new(rate_limit::RateLimit::new(c.clone(), services, scope)),
            Self::ResponseCache(c) => Arc::new(response_cache::ResponseCache::new(
                c.clone(),
                services,
                scope,
            )),
            Self::ResponseLimit(c) => Arc::new(response_limit::ResponseLimit::new(c.clone())),
            Self::Visibility(c) => Arc::new(super::gate::Gated(
                Arc::new(visibility::Visibility::new(c.clone())),
                None,
            )),
            Self::Wasm(c) => Arc::new(wasm::WasmMiddleware::load(c, services)?),
        })
    }
}

/// Parses one middleware table; the error names the key (`type`, the unknown field,
/// or the one whose value does not fit).
pub fn parse<T: serde::Serialize>(value: &T) -> Result<Spec, SpecError> {
    let value = serde_json::to_value(value).map_err(|e| SpecError::new("type", e.to_string()))?;
    if value.get("type").and_then(|t| t.as_str()).is_none() {
        return Err(SpecError::new(
            "type",
            "missing: every middleware needs a `type` (logging, error-handling, retry, timing, detailed-timing, rate-limit, response-cache, response-limit, visibility, wasm)",
        ));
    }
    let spec: Spec = serde_json::from_value(value).map_err(|e| {
        let message = e.to_string();
        let key = if message.starts_with("unknown variant") {
            "type".to_string()
        } else {
            // serde names the field in backquotes: "unknown field `x`", "missing field `x`".
            message
                .split('`')
                .nth(1)
                .filter(|_| message.contains("field"))
                .unwrap_or("")
                .to_string()
        };
        SpecError { key, message }
    })?;
    spec.check()?;
    Ok(spec)
}

/// Builds `specs` into a chain, in order; the error names the failing item.
pub fn build_chain(
    specs: &[Spec],
    services: &Services,
    scope: &str,
) -> Result<Chain, (usize, SpecError)> {
    let mut middlewares = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        middlewares.push(spec.build(services, scope).map_err(|e| (i, e))?);
    }
    Ok(Chain::new(middlewares))
}
