//! `retry`: tries a request again, with exponential backoff and jitter, when it failed
//! transiently (a proxied server unreachable, storage unavailable). A tool is retried
//! only when it says it is safe (`idempotentHint` or `readOnlyHint`) or is listed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::spec::SpecError;
use super::{Middleware, MiddlewareContext, Next, Outcome, Request};
use crate::telemetry::Metrics;

/// `[[middleware]] type = "retry"`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Delay before the second attempt, in ms; each later one multiplies it.
    pub initial_delay_ms: u64,
    /// Factor between consecutive delays.
    pub multiplier: f64,
    /// Longest delay, in ms.
    pub max_delay_ms: u64,
    /// Tools retried although they do not say they are idempotent.
    pub retry_tools: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_delay_ms: 100,
            multiplier: 2.0,
            max_delay_ms: 5000,
            retry_tools: Vec::new(),
        }
    }
}

impl Config {
    /// Checks the ranges.
    pub fn check(&self) -> Result<(), SpecError> {
        if !(1..=20).contains(&self.max_attempts) {
            return Err(SpecError::new("max-attempts", "expected 1 to 20"));
        }
        if !(self.multiplier >= 1.0 && self.multiplier <= 10.0) {
            return Err(SpecError::new("multiplier", "expected 1.0 to 10.0"));
        }
        Ok(())
    }

    /// The delay before attempt `attempt + 1` (attempt ≥ 1): the backoff, with half of
    /// it random ("equal jitter") so that clients retrying together spread out.
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = self.initial_delay_ms as f64 * self.multiplier.powi(attempt as i32 - 1);
        let capped = base.min(self.max_delay_ms as f64);
        let half = capped / 2.0;
        Duration::from_secs_f64((half + fastrand::f64() * half) / 1000.0)
    }
}

/// The retry middleware.
pub struct Retry {
    config: Config,
    metrics: Arc<Metrics>,
}

impl Retry {
    /// A retry middleware configured by `config`, counting retries into `metrics`.
    pub fn new(config: Config, metrics: Arc<Metrics>) -> Self {
        Self { config, metrics }
    }

    /// Whether `request` may run twice without harm.
    fn idempotent(&self, cx: &MiddlewareContext, request: &Request) -> bool {
        match request {
            Request::CallTool(call) => {
                if self.config.retry_tools.contains(&call.name) {
                    return true;
                }
                let Some(entry) = cx.catalogue().tools.get(&call.name) else {
                    return false;
                };
                entry.tool.annotations.as_ref().is_some_and(|a| {
                    a.idempotent_hint == Some(true) || a.read_only_hint == Some(true)
                })
            }
            Request::ReadResource(_)
            | Request::GetPrompt(_)
            | Request::Complete(_)
            | Request::ListTools
            | Request::ListResources
            | Request::ListResourceTemplates
            | Request::ListPrompts => true,
            _ => false,
        }
    }
}

#[async_trait]
impl Middleware for Retry {
    fn name(&self) -> &str {
        "retry"
    }

    async fn on_request(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        next: Next<'_>,
    ) -> Outcome {
        if !self.idempotent(cx, &request) {
            return next.run(cx, request).await;
        }
        let method = request.method();
        let mut attempt = 1;
        loop {
            cx.take_transient();
            let result = next.run(cx, request.clone()).await;
            if !cx.take_transient() || attempt >= self.config.max_attempts {
                return result;
            }
            let delay = self.config.delay(attempt);
            tracing::info!(
                method,
                component = %crate::text::clip(request.component().unwrap_or("-")),
                attempt,
                "transient failure; retrying in {} ms",
                delay.as_millis()
            );
            self.metrics
                .count("pier_retries_total", &[("method", method)], 1);
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Config;
    use std::time::Duration;

    #[test]
    fn delays_grow_and_stay_within_their_jitter() {
        let config = Config {
            initial_delay_ms: 100,
            multiplier: 2.0,
            max_delay_ms: 300,
            ..Config::default()
        };
        for _ in 0..100 {
            let first = config.delay(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let second = config.delay(2);
            assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
            let capped = config.delay(5);
            assert!(capped >= Duration::from_millis(150) && capped <= Duration::from_millis(300));
        }
    }

    #[test]
    fn bad_settings_name_their_key() {
        let zero = Config {
            max_attempts: 0,
            ..Config::default()
        };
        assert_eq!(zero.check().unwrap_err().key, "max-attempts");
        let shrinking = Config {
            multiplier: 0.5,
            ..Config::default()
        };
        assert_eq!(shrinking.check().unwrap_err().key, "multiplier");
    }
}
