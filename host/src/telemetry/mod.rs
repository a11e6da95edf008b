//! Prometheus metrics of one pier instance, served at `/metrics`.
//!
//! Each [`Metrics`] owns its recorder (no global recorder), so several instances in one
//! process — tests, embedders — keep separate numbers. The metrics of the request path
//! keep their handles per label set ([`Handles`]): an update after the first looks its
//! handle up without building a key or allocating a label.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

use ::metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::registry::Catalogue;

pub mod feed;
pub mod otel;
pub mod trace;

static METADATA: Metadata<'static> = Metadata::new("pier", Level::INFO, Some(module_path!()));

/// Buckets of the call latency histogram, in seconds (50 µs … 30 s).
const LATENCY_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 30.0,
];

/// What a metric measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations in buckets (seconds).
    Histogram,
}

impl MetricKind {
    /// Its Prometheus name.
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One metric pier may export: the registry every name in the code must be in (a test
/// checks), from which the reference page is generated.
#[derive(Debug, Clone, Copy)]
pub struct MetricDoc {
    /// Its name.
    pub name: &'static str,
    /// What it is.
    pub kind: MetricKind,
    /// Its labels.
    pub labels: &'static [&'static str],
    /// Who exports it: `pier`, or the middleware that does.
    pub from: &'static str,
    /// What it counts or measures.
    pub doc: &'static str,
}

const fn metric(
    name: &'static str,
    kind: MetricKind,
    labels: &'static [&'static str],
    from: &'static str,
    doc: &'static str,
) -> MetricDoc {
    MetricDoc {
        name,
        kind,
        labels,
        from,
        doc,
    }
}

use MetricKind::{Counter as C, Gauge as G, Histogram as H};

/// Every metric pier exports, in the order `/metrics` readers meet them (one line each:
/// the registry test reads them so).
#[rustfmt::skip]
pub const METRICS: &[MetricDoc] = &[
    metric("pier_http_requests_total", C, &["method", "status"], "pier", "HTTP requests to `/mcp` answered, by method (`other` for one HTTP does not define) and status."),
    metric("pier_mcp_requests_total", C, &["method", "outcome"], "pier", "MCP requests answered, every transport, every method but `ping`; `outcome` is `ok` or `error`."),
    metric("pier_mcp_request_duration_seconds", H, &["method"], "pier", "Time to answer an MCP request."),
    metric("pier_tool_calls_total", C, &["tool", "outcome"], "pier", "Tool calls of mounted tools (names from the catalogue only), by outcome: `ok`, `tool_error`, `invalid_arguments`, `invalid_params`, `input_required`, `timeout`, `out_of_memory`, `trap`, `cancelled`, `busy`; a proxied mount also `invalid_result` and `error`."),
    metric("pier_tool_call_duration_seconds", H, &["tool"], "pier", "Time a tool call took."),
    metric("pier_mount_calls_total", C, &["mount", "outcome"], "pier", "Calls into a mount (tool calls, reads, prompts, completions; lists are not calls), by its namespace and outcome: `ok`, `tool_error` (a result with `isError`) or `error` (a JSON-RPC error)."),
    metric("pier_mount_call_duration_seconds", H, &["mount"], "pier", "Time a call into a mount took: its own middleware, then the plugin or the upstream."),
    metric("pier_plugins_mounted", G, &[], "pier", "Mounts served now."),
    metric("pier_plugins_refused", G, &[], "pier", "Plugin files whose latest version was refused."),
    metric("pier_plugins_verified", G, &["state"], "pier", "Plugins served, by how their signature was checked: `verified` (by a key of [trust] keys), `unsigned`, `untrusted` (a signature no trusted key verifies for this content), `unchecked` (no keys are trusted)."),
    metric("pier_plugin_changes_total", C, &["plugin", "outcome"], "pier", "Changes of a plugin: `mounted`, `swapped`, `unmounted`, `refused`."),
    metric("pier_instantiations_total", C, &["plugin"], "pier", "Instances of a plugin made."),
    metric("pier_warm_hits_total", C, &["plugin"], "pier", "Calls a plugin served on a warm instance instead of a new one (plugins with `instances = \"reuse\"`)."),
    metric("pier_warm_instances", G, &["plugin"], "pier", "Warm instances a plugin keeps now (plugins with `instances = \"reuse\"`)."),
    metric("pier_plugin_resident_bytes", G, &["plugin"], "pier", "The plugin's compiled code resident in memory: the pages of its AOT artifact mapped into pier (warm instances' own pages left out)."),
    metric("pier_aot_cache_total", C, &["outcome"], "pier", "Loads of compiled plugins: `hit` (the artifact was cached) or `miss` (compiled)."),
    metric("pier_egress_requests_total", C, &["plugin", "host", "outcome"], "pier", "Outbound HTTP requests of plugins: `host` is the pattern of the grant matched (`other` for a refused one), `outcome` `ok`, `error` or `denied`."),
    metric("pier_active_sessions", G, &[], "pier", "HTTP sessions (MCP 2025-11-25) in memory; sessions put away are not counted."),
    metric("pier_sessions_hibernated_total", C, &[], "pier", "Quiet HTTP sessions put away (`server.session-hibernate-ms`)."),
    metric("pier_sessions_restored_total", C, &[], "pier", "Sessions brought back from their record by a request (put away here, or started by another pier on the same store)."),
    metric("mcp_server_operation_duration_seconds", H, &["mcp_method_name", "gen_ai_tool_name", "gen_ai_prompt_name", "gen_ai_operation_name", "error_type", "mcp_protocol_version", "network_transport"], "pier", "`mcp.server.operation.duration` of the OpenTelemetry conventions for MCP: time from a request's arrival to its answer, every method but `ping`. `gen_ai_tool_name` and `gen_ai_prompt_name` name a tool or prompt of the catalogue (no label for a name nothing serves); `error_type` is the JSON-RPC error code, or `tool_error` for a result with `isError`; `network_transport` is `tcp` (HTTP) or `pipe` (stdio). Also sent over OTLP when `[telemetry]` names a receiver."),
    metric("mcp_server_session_duration_seconds", H, &["mcp_protocol_version", "network_transport"], "pier", "`mcp.server.session.duration` of the OpenTelemetry conventions for MCP: how long a session (MCP 2025-11-25) was held, from its `initialize` until it ended or was put away. Also sent over OTLP when `[telemetry]` names a receiver."),
    metric("pier_auth_refusals_total", C, &["reason"], "pier", "Requests refused by authentication or authorization: `missing_token`, `invalid_token`, `insufficient_scope` (answered 401 or 403), `rule` (an `[[auth.rule]]` or a plugin's required scopes: a JSON-RPC error)."),
    metric("pier_store_up", G, &[], "pier", "1 when the store (plugins' storage, tasks, sessions, the fleet's mounts) answered its last probe, 0 when it did not; probed every 2 s."),
    metric("pier_request_timing_seconds", H, &["method"], "`timing` middleware", "Time a request spent in the chain after the middleware."),
    metric("pier_operation_duration_seconds", H, &["operation", "component"], "`detailed-timing` middleware", "Time per operation and per component (the tool, resource or prompt)."),
    metric("pier_errors_total", C, &["method", "component", "kind"], "`error-handling` middleware", "Errors, by method, component and kind."),
    metric("pier_retries_total", C, &["method"], "`retry` middleware", "Requests tried again."),
    metric("pier_rate_limited_total", C, &["method"], "`rate-limit` middleware", "Requests refused for going over the limit."),
    metric("pier_rate_limit_errors_total", C, &[], "`rate-limit` middleware", "Requests let through unlimited because the limit's store could not be asked."),
    metric("pier_cache_requests_total", C, &["kind", "outcome"], "`response-cache` middleware", "Cache lookups, by kind of request and outcome (`hit` or `miss`)."),
];

/// Handles of one metric, by label values: registered once, then reused.
struct Handles<K, H> {
    by_labels: RwLock<HashMap<K, H>>,
}

impl<K, H> Default for Handles<K, H> {
    fn default() -> Self {
        Self {
            by_labels: RwLock::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, H: Clone> Handles<K, H> {
    /// The handle of `labels` (looked up as `probe`), registered by `register` the
    /// first time.
    fn get<Q>(&self, probe: &Q, owned: impl FnOnce() -> K, register: impl FnOnce() -> H) -> H
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        if let Some(handle) = self
            .by_labels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(probe)
        {
            return handle.clone();
        }
        self.by_labels
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(owned())
            .or_insert_with(register)
            .clone()
    }
}

/// The metrics of one pier instance.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    http: Handles<(&'static str, u16), Counter>,
    mcp: Handles<(&'static str, &'static str), (Counter, Histogram)>,
    /// Per tool (names of mounted tools only), per outcome.
    tools: Handles<String, ToolHandles>,
    /// `mcp.server.operation.duration`, per label set.
    operations: Handles<OperationKey, Histogram>,
    /// Per mount: its duration, and its count per outcome.
    mounts: Handles<String, ToolHandles>,
    /// What happens, as it happens (the console's live view).
    feed: feed::Feed,
}

/// The labels of one series of `mcp.server.operation.duration`.
type OperationKey = (
    &'static str,
    Option<Named>,
    Option<std::borrow::Cow<'static, str>>,
    Option<&'static str>,
    bool,
);

/// What an MCP operation targets: a tool or a prompt of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Named {
    /// A tool's name.
    Tool(String),
    /// A prompt's name.
    Prompt(String),
}

/// One MCP request answered, as `mcp.server.operation.duration` sees it.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `mcp.method.name`.
    pub method: &'static str,
    /// The tool or prompt, when the catalogue has it.
    pub target: Option<Named>,
    /// `error.type`: a JSON-RPC code, or `tool_error`.
    pub error: Option<std::borrow::Cow<'static, str>>,
    /// `mcp.protocol.version`, one pier negotiates.
    pub protocol: Option<&'static str>,
    /// Over HTTP (`tcp`), else stdio (`pipe`).
    pub http: bool,
}

impl Operation {
    /// `network.transport`.
    fn transport(&self) -> &'static str {
        if self.http { "tcp" } else { "pipe" }
    }

    /// Its attributes, as OTLP sends them.
    fn attributes(&self) -> Vec<opentelemetry::KeyValue> {
        use opentelemetry::KeyValue;
        let mut attributes = vec![
            KeyValue::new("mcp.method.name", self.method),
            KeyValue::new("network.transport", self.transport()),
        ];
        match &self.target {
            Some(Named::Tool(name)) => {
                attributes.push(KeyValue::new("gen_ai.tool.name", name.clone()));
                attributes.push(KeyValue::new("gen_ai.operation.name", "execute_tool"));
            }
            Some(Named::Prompt(name)) => {
                attributes.push(KeyValue::new("gen_ai.prompt.name", name.clone()));
            }
            None => {}
        }
        if let Some(error) = &self.error {
            attributes.push(KeyValue::new("error.type", error.to_string()));
        }
        if let Some(version) = self.protocol {
            attributes.push(KeyValue::new("mcp.protocol.version", version));
        }
        attributes
    }
}

/// The series of calls of one kind (of tools, into mounts): a count per outcome and a
/// duration, labelled by `label`.
#[derive(Clone, Copy)]
struct CallSeries {
    label: &'static str,
    count: &'static str,
    duration: &'static str,
}

/// The handles of one tool (or mount): its duration, and its count per outcome.
#[derive(Clone)]
struct ToolHandles {
    duration: Histogram,
    outcomes: std::sync::Arc<Handles<&'static str, Counter>>,
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
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Prefix("mcp_server_".into()),
                otel::MCP_BUCKETS,
            )
            .expect("the conventions' buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        Self {
            recorder,
            handle,
            http: Handles::default(),
            mcp: Handles::default(),
            tools: Handles::default(),
            operations: Handles::default(),
            mounts: Handles::default(),
            feed: feed::Feed::default(),
        }
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
        let labels = (method, status);
        let counter = self.http.get(
            &labels,
            || labels,
            || {
                let status = status.to_string();
                self.recorder.register_counter(
                    &key(
                        "pier_http_requests_total",
                        &[("method", method), ("status", &status)],
                    ),
                    &METADATA,
                )
            },
        );
        counter.increment(1);
    }

    /// One MCP request `method` (`tools/list`, … every method pier serves but `ping`) that ended `outcome` (`ok` or
    /// `error`: a JSON-RPC error), taking `seconds`; counted on every transport.
    pub fn mcp_request(&self, method: &'static str, outcome: &'static str, seconds: f64) {
        let labels = (method, outcome);
        let (count, duration) = self.mcp.get(
            &labels,
            || labels,
            || {
                let count = self.recorder.register_counter(
                    &key(
                        "pier_mcp_requests_total",
                        &[("method", method), ("outcome", outcome)],
                    ),
                    &METADATA,
                );
                let duration = self.recorder.register_histogram(
                    &key("pier_mcp_request_duration_seconds", &[("method", method)]),
                    &METADATA,
                );
                (count, duration)
            },
        );
        count.increment(1);
        duration.record(seconds);
    }

    /// One call of `tool` that ended `outcome`, taking `seconds`.
    pub fn tool_call(&self, tool: &str, outcome: &'static str, seconds: f64) {
        let series = CallSeries {
            label: "tool",
            count: "pier_tool_calls_total",
            duration: "pier_tool_call_duration_seconds",
        };
        self.call(&self.tools, series, tool, outcome, seconds);
    }

    /// One call of `series` for `name` that ended `outcome`, taking `seconds`: its
    /// handles registered once per name and outcome.
    fn call(
        &self,
        handles: &Handles<String, ToolHandles>,
        series: CallSeries,
        name: &str,
        outcome: &'static str,
        seconds: f64,
    ) {
        let handles = handles.get(
            name,
            || name.to_string(),
            || ToolHandles {
                duration: self
                    .recorder
                    .register_histogram(&key(series.duration, &[(series.label, name)]), &METADATA),
                outcomes: Default::default(),
            },
        );
        let count = handles.outcomes.get(
            &outcome,
            || outcome,
            || {
                self.recorder.register_counter(
                    &key(series.count, &[(series.label, name), ("outcome", outcome)]),
                    &METADATA,
                )
            },
        );
        count.increment(1);
        handles.duration.record(seconds);
    }

    /// One MCP request answered in `seconds` (`mcp.server.operation.duration`, on
    /// `/metrics` and, when configured, over OTLP).
    pub fn operation(&self, operation: Operation, seconds: f64) {
        if otel::instruments().is_some() {
            otel::record_operation(seconds, &operation.attributes());
        }
        let series: OperationKey = (
            operation.method,
            operation.target.clone(),
            operation.error.clone(),
            operation.protocol,
            operation.http,
        );
        let histogram = self.operations.get(
            &series,
            || series.clone(),
            || {
                let mut labels: Vec<(&'static str, &str)> = vec![
                    ("mcp_method_name", operation.method),
                    ("network_transport", operation.transport()),
                ];
                match &operation.target {
                    Some(Named::Tool(name)) => {
                        labels.push(("gen_ai_tool_name", name));
                        labels.push(("gen_ai_operation_name", "execute_tool"));
                    }
                    Some(Named::Prompt(name)) => labels.push(("gen_ai_prompt_name", name)),
                    None => {}
                }
                if let Some(error) = &operation.error {
                    labels.push(("error_type", error));
                }
                if let Some(version) = operation.protocol {
                    labels.push(("mcp_protocol_version", version));
                }
                self.recorder.register_histogram(
                    &key("mcp_server_operation_duration_seconds", &labels),
                    &METADATA,
                )
            },
        );
        histogram.record(seconds);
    }

    /// A session (MCP 2025-11-25) held for `seconds` ended (`mcp.server.session.duration`).
    pub fn session_ended(&self, protocol: Option<&'static str>, http: bool, seconds: f64) {
        let transport = if http { "tcp" } else { "pipe" };
        if let Some(instruments) = otel::instruments() {
            let mut attributes = vec![opentelemetry::KeyValue::new("network.transport", transport)];
            if let Some(version) = protocol {
                attributes.push(opentelemetry::KeyValue::new(
                    "mcp.protocol.version",
                    version,
                ));
            }
            instruments.session.record(seconds, &attributes);
        }
        let mut labels = vec![("network_transport", transport)];
        if let Some(version) = protocol {
            labels.push(("mcp_protocol_version", version));
        }
        self.observe("mcp_server_session_duration_seconds", &labels, seconds);
    }

    /// One call into mount `mount` that ended `outcome` (`ok`, `tool_error`, `error`),
    /// taking `seconds`.
    pub fn mount_call(&self, mount: &str, outcome: &'static str, seconds: f64) {
        let series = CallSeries {
            label: "mount",
            count: "pier_mount_calls_total",
            duration: "pier_mount_call_duration_seconds",
        };
        self.call(&self.mounts, series, mount, outcome, seconds);
    }

    /// A request refused by authentication or authorization, for `reason`; `detail`
    /// says what was refused (for the live feed).
    pub fn auth_refused(&self, reason: &'static str, detail: Option<&str>) {
        self.count("pier_auth_refusals_total", &[("reason", reason)], 1);
        self.feed.publish(|| feed::Event::Refusal {
            reason,
            detail: detail.map(feed::clipped),
        });
    }

    /// What happens, as it happens.
    pub fn feed(&self) -> &feed::Feed {
        &self.feed
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

    /// One outbound HTTP request of `plugin` to `host` (a grant's host pattern, or
    /// `other` for a refused one): `ok`, `error` or `denied`.
    pub fn egress(&self, plugin: &str, host: &str, outcome: &'static str) {
        self.count(
            "pier_egress_requests_total",
            &[("plugin", plugin), ("host", host), ("outcome", outcome)],
            1,
        );
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

    /// Whether the store answered its last probe.
    pub fn store_up(&self, up: bool) {
        self.recorder
            .register_gauge(&key("pier_store_up", &[]), &METADATA)
            .set(if up { 1.0 } else { 0.0 });
    }

    /// A client session opened (`+1`) or closed (`-1`).
    pub fn sessions(&self, delta: f64) {
        self.recorder
            .register_gauge(&key("pier_active_sessions", &[]), &METADATA)
            .increment(delta);
    }

    /// Folds the samples each histogram recorded since the last time into its buckets.
    /// The exporter keeps every sample until then: without this (or a scrape of
    /// `/metrics`, which does the same) memory grows with every request, 8 bytes a
    /// sample, for as long as nobody scrapes ([`spawn_upkeep`] calls it).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
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
        for state in crate::trust::State::ALL {
            let count = catalogue
                .mounts
                .iter()
                .filter(|m| {
                    m.provenance
                        .as_ref()
                        .is_some_and(|p| p.verification.state == state)
                })
                .count();
            self.recorder
                .register_gauge(
                    &key("pier_plugins_verified", &[("state", state.as_str())]),
                    &METADATA,
                )
                .set(count as f64);
        }
        let mapped = crate::runtime::resident::mapped_files();
        for plugin in catalogue.mounts.iter().filter_map(|m| m.wasm()) {
            self.recorder
                .register_gauge(
                    &key("pier_plugin_resident_bytes", &[("plugin", plugin.name())]),
                    &METADATA,
                )
                .set(plugin.resident_bytes(&mapped) as f64);
            self.recorder
                .register_counter(
                    &key("pier_instantiations_total", &[("plugin", plugin.name())]),
                    &METADATA,
                )
                .absolute(plugin.instantiations());
            if plugin.reuses_instances() {
                self.recorder
                    .register_counter(
                        &key("pier_warm_hits_total", &[("plugin", plugin.name())]),
                        &METADATA,
                    )
                    .absolute(plugin.warm_hits());
                self.recorder
                    .register_gauge(
                        &key("pier_warm_instances", &[("plugin", plugin.name())]),
                        &METADATA,
                    )
                    .set(plugin.warm_instances() as f64);
            }
        }
        self.handle.render()
    }
}

/// How often [`spawn_upkeep`] folds histogram samples into their buckets.
pub const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Calls [`Metrics::upkeep`] every `every` until the metrics are dropped elsewhere (the
/// task holds only a weak reference).
pub fn spawn_upkeep(
    metrics: &std::sync::Arc<Metrics>,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    crate::spawn_every(metrics, every, |metrics| async move { metrics.upkeep() })
}

#[cfg(test)]
mod tests {
    use super::Metrics;

    #[test]
    fn request_path_metrics_register_each_label_set_once_and_count_every_update() {
        let metrics = Metrics::default();
        metrics.tool_call("calc_add", "ok", 0.001);
        metrics.tool_call("calc_add", "ok", 0.002);
        metrics.tool_call("calc_add", "tool_error", 0.003);
        metrics.mcp_request("tools/call", "ok", 0.001);
        metrics.mcp_request("tools/call", "ok", 0.001);
        metrics.http_request("POST", 200);
        metrics.http_request("BREW", 200);
        let text = metrics.render(&Default::default(), 0);
        for line in [
            "pier_tool_calls_total{tool=\"calc_add\",outcome=\"ok\"} 2",
            "pier_tool_calls_total{tool=\"calc_add\",outcome=\"tool_error\"} 1",
            "pier_tool_call_duration_seconds_count{tool=\"calc_add\"} 3",
            "pier_mcp_requests_total{method=\"tools/call\",outcome=\"ok\"} 2",
            "pier_http_requests_total{method=\"POST\",status=\"200\"} 1",
            "pier_http_requests_total{method=\"other\",status=\"200\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
        let tools = metrics.tools.by_labels.read().unwrap();
        assert_eq!(tools.len(), 1);
        assert_eq!(
            tools["calc_add"].outcomes.by_labels.read().unwrap().len(),
            2
        );
        assert_eq!(metrics.mcp.by_labels.read().unwrap().len(), 1);
    }
}
