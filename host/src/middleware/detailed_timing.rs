//! `detailed-timing`: how long each operation on each component took (a tool call, a
//! resource read, a prompt, a list), logged and recorded in the histogram
//! `pier_operation_duration_seconds{operation, component}`.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Middleware, MiddlewareContext, Next, Outcome, Request};
use crate::telemetry::Metrics;

/// `[[middleware]] type = "detailed-timing"`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Record in the metrics only, without a log line per operation.
    pub quiet: bool,
}

/// The detailed-timing middleware.
pub struct DetailedTiming {
    config: Config,
    metrics: Arc<Metrics>,
}

impl DetailedTiming {
    /// A detailed-timing middleware configured by `config`, recording into `metrics`.
    pub fn new(config: Config, metrics: Arc<Metrics>) -> Self {
        Self { config, metrics }
    }
}

#[async_trait]
impl Middleware for DetailedTiming {
    fn name(&self) -> &str {
        "detailed-timing"
    }

    async fn on_request(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        next: Next<'_>,
    ) -> Outcome {
        let method = request.method();
        let component = cx.component_label(&request);
        let started = std::time::Instant::now();
        let result = next.run(cx, request).await;
        let seconds = started.elapsed().as_secs_f64();
        self.metrics.observe(
            "pier_operation_duration_seconds",
            &[("operation", method), ("component", &component)],
            seconds,
        );
        if !self.config.quiet {
            tracing::info!(
                target: "pier::timing",
                "{method} {component} took {:.3} ms",
                seconds * 1000.0
            );
        }
        result
    }
}
