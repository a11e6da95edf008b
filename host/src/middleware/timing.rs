//! `timing`: how long every request took, logged and recorded in the histogram
//! `pier_request_timing_seconds{method}`.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Middleware, MiddlewareContext, Next, Outcome, Request};
use crate::telemetry::Metrics;

/// `[[middleware]] type = "timing"`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Record in the metrics only, without a log line per request.
    pub quiet: bool,
}

/// The timing middleware.
pub struct Timing {
    config: Config,
    metrics: Arc<Metrics>,
}

impl Timing {
    /// A timing middleware configured by `config`, recording into `metrics`.
    pub fn new(config: Config, metrics: Arc<Metrics>) -> Self {
        Self { config, metrics }
    }
}

#[async_trait]
impl Middleware for Timing {
    fn name(&self) -> &str {
        "timing"
    }

    async fn on_request(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        next: Next<'_>,
    ) -> Outcome {
        let method = request.method();
        let started = std::time::Instant::now();
        let result = next.run(cx, request).await;
        let seconds = started.elapsed().as_secs_f64();
        self.metrics.observe(
            "pier_request_timing_seconds",
            &[("method", method)],
            seconds,
        );
        if !self.config.quiet {
            tracing::info!(
                target: "pier::timing",
                "{method} completed in {:.3} ms",
                seconds * 1000.0
            );
        }
        result
    }
}
