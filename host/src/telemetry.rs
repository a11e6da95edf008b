//! Prometheus metrics of one pier instance, served at `/metrics`.
//!
//! Each [`Metrics`] owns its recorder (no global recorder), so several instances in one
//! process — tests, embedders — keep separate numbers.

use ::metrics::{Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::registry::Catalogue;

static METADATA: Metadata<'static> = Metadata::new("pier", Level::INFO, Some(module_path!()));

/// Buckets of the call latency histogram, in seconds (50 µs … 30 s).
const LATENCY_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 30.0,
];

/// The metrics of one pier instance.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .expect("latency buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        Self { recorder, handle }
    }
}

fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(k, v)| Label::new(*k, v.to_string()))
        .collect();
    Key::from_parts(name, labels)
}

impl Metrics {
    /// One HTTP request to `/mcp` answered with `status`.
    pub fn http_request(&self, method: &str, status: u16) {
        // The method is the client's text: only the ones HTTP defines are labels.
        const KNOWN: &[&str] = &[
            "GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
        ];
        let method = KNOWN
            .iter()
            .find(|m| **m == method)
            .copied()
            .unwrap_or("other");
        let status = status.to_string();
        self.recorder
            .register_counter(
                &key(
                    "pier_http_requests_total",
                    &[("method", method), ("status", &status)],
                ),
                &METADATA,
            )
            .increment(1);
    }

    /// One MCP request `method` (`tools/list`, … every method pier serves but `ping`) that ended `outcome` (`ok` or
    /// `error`: a JSON-RPC error), taking `seconds`; counted on every transport.
    pub fn mcp_request(&self, method: &str, outcome: &str, seconds: f64) {
        self.recorder
            .register_counter(
                &key(
                    "pier_mcp_requests_total",
                    &[("method", method), ("outcome", outcome)],
                ),
                &METADATA,
            )
            .increment(1);
        self.recorder
            .register_histogram(
                &key("pier_mcp_request_duration_seconds", &[("method", method)]),
                &METADATA,
            )
            .record(seconds);
    }

    /// One call of `tool` that ended `outcome`, taking `seconds`.
    pub fn tool_call(&self, tool: &str, outcome: &str, seconds: f64) {
        self.recorder
            .register_counter(
                &key(
                    "pier_tool_calls_total",
                    &[("tool", tool), ("outcome", outcome)],
                ),
                &METADATA,
            )
            .increment(1);
        self.recorder
            .register_histogram(
                &key("pier_tool_call_duration_seconds", &[("tool", tool)]),
                &METADATA,
            )
            .record(seconds);
    }

    /// A plugin compiled now (`hit = false`) or loaded from the AOT cache.
    pub fn aot_cache(&self, hit: bool) {
        let outcome = if hit { "hit" } else { "miss" };
        self.recorder
            .register_counter(
                &key("pier_aot_cache_total", &[("outcome", outcome)]),
                &METADATA,
            )
            .increment(1);
    }

    /// A change of plugin `plugin`: `mounted`, `swapped`, `unmounted` or `refused`.
    pub fn mount_change(&self, plugin: &str, outcome: &str) {
        self.recorder
            .register_counter(
                &key(
                    "pier_plugin_changes_total",
                    &[("plugin", plugin), ("outcome", outcome)],
                ),
                &METADATA,
            )
            .increment(1);
    }

    /// Adds `n` to counter `name` with `labels` (what middlewares count: errors, cache
    /// hits, rate-limited requests, retries).
    pub fn count(&self, name: &'static str, labels: &[(&'static str, &str)], n: u64) {
        self.recorder
            .register_counter(&key(name, labels), &METADATA)
            .increment(n);
    }

    /// Records `seconds` in histogram `name` with `labels` (the timing middlewares).
    pub fn observe(&self, name: &'static str, labels: &[(&'static str, &str)], seconds: f64) {
        self.recorder
            .register_histogram(&key(name, labels), &METADATA)
            .record(seconds);
    }

    /// A client session opened (`+1`) or closed (`-1`).
    pub fn sessions(&self, delta: f64) {
        self.recorder
            .register_gauge(&key("pier_active_sessions", &[]), &METADATA)
            .increment(delta);
    }

    /// The Prometheus text of every metric, with the catalogue's gauges and the number
    /// of plugin files whose latest version was `refused` brought up to date.
    pub fn render(&self, catalogue: &Catalogue, refused: usize) -> String {
        self.recorder
            .register_gauge(&key("pier_plugins_mounted", &[]), &METADATA)
            .set(catalogue.mounts.len() as f64);
        self.recorder
            .register_gauge(&key("pier_plugins_refused", &[]), &METADATA)
            .set(refused as f64);
        for plugin in catalogue.mounts.iter().filter_map(|m| m.wasm()) {
            self.recorder
                .register_counter(
                    &key("pier_instantiations_total", &[("plugin", plugin.name())]),
                    &METADATA,
                )
                .absolute(plugin.instantiations());
        }
        self.handle.render()
    }
}
