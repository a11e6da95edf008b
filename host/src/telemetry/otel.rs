//! OpenTelemetry export: traces and metrics sent over OTLP (HTTP/protobuf) when
//! `[telemetry] otlp-endpoint` or the standard `OTEL_EXPORTER_OTLP_*` variables name a
//! receiver; nothing at all otherwise.
//!
//! Spans are `tracing` spans of the target [`TARGET`] (see [`super::trace`]), turned into
//! OpenTelemetry spans by `tracing-opentelemetry`; the log output never shows them. The
//! exporters send with pier's own HTTP client on pier's runtime, from the SDK's
//! export threads.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, MeterProvider as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};

/// The `tracing` target of the spans exported to OpenTelemetry.
pub const TARGET: &str = "pier::otel";

/// Bucket boundaries of the MCP duration histograms, in seconds, as the semantic
/// conventions advise.
pub const MCP_BUCKETS: &[f64] = &[
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// What `[telemetry]` says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OtelOptions {
    /// Base URL of an OTLP/HTTP receiver (`/v1/traces` and `/v1/metrics` are added);
    /// `None`: the `OTEL_EXPORTER_OTLP_*` variables decide.
    pub endpoint: Option<String>,
    /// Fraction of new traces sampled; `None`: `OTEL_TRACES_SAMPLER`, else all.
    pub sample_ratio: Option<f64>,
    /// `service.name`; `None`: `OTEL_SERVICE_NAME`, else `pier`.
    pub service_name: Option<String>,
    /// More resource attributes (`key=value`), over `OTEL_RESOURCE_ATTRIBUTES`.
    pub resource_attributes: Vec<(String, String)>,
    /// How often metrics are sent.
    pub export_interval: Duration,
    /// Mounts whose tool arguments and results go into spans.
    pub trace_content: Vec<String>,
}

/// Whether spans are exported (set once, by [`install`]).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// The instruments of the MCP metrics sent over OTLP, when they are.
static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();

/// Whether spans are exported: everything that builds one asks first, so that a pier
/// without a receiver does no tracing work.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The OTLP instruments of the MCP conventions' metrics.
pub struct Instruments {
    /// `mcp.server.operation.duration`.
    pub operation: Histogram<f64>,
    /// `mcp.server.session.duration`.
    pub session: Histogram<f64>,
}

/// The OTLP instruments, when metrics are sent.
pub fn instruments() -> Option<&'static Instruments> {
    INSTRUMENTS.get()
}

/// Records `seconds` of one MCP operation with `attributes` on the OTLP instrument.
pub fn record_operation(seconds: f64, attributes: &[KeyValue]) {
    if let Some(instruments) = instruments() {
        instruments.operation.record(seconds, attributes);
    }
}

/// The exporters, flushed and stopped by [`Otel::shutdown`].
pub struct Otel {
    tracer: SdkTracerProvider,
    meter: SdkMeterProvider,
}

impl std::fmt::Debug for Otel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Otel")
    }
}

/// Whether `OTEL_SDK_DISABLED=true` turns export off, whatever else says.
fn sdk_disabled() -> bool {
    std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Whether the environment names an OTLP receiver.
fn env_configured() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    set("OTEL_EXPORTER_OTLP_ENDPOINT")
        || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        || set("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
}

/// Refuses an OTLP protocol pier does not speak, named by the environment.
fn check_protocol() -> Result<(), String> {
    for name in [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    ] {
        if let Ok(value) = std::env::var(name)
            && !value.trim().is_empty()
            && value.trim() != "http/protobuf"
        {
            return Err(format!(
                "{name} is {:?}: pier sends OTLP over HTTP/protobuf only; point it at the receiver's HTTP port (4318 on a Collector) and set http/protobuf or nothing",
                crate::text::clip(&value)
            ));
        }
    }
    Ok(())
}

/// The resource every span and metric names: `service.name`, `service.version`,
/// `service.instance.id` and the configured attributes.
fn resource(options: &OtelOptions) -> Resource {
    let env_name = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|n| !n.trim().is_empty());
    let name = options
        .service_name
        .clone()
        .or(env_name)
        .unwrap_or_else(|| "pier".to_string());
    let configured = |key: &str| {
        options.resource_attributes.iter().any(|(k, _)| k == key)
            || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| {
                v.split(',')
                    .any(|kv| kv.trim().starts_with(&format!("{key}=")))
            })
    };
    let mut attributes = vec![KeyValue::new("service.version", env!("CARGO_PKG_VERSION"))];
    if !configured("service.instance.id") {
        attributes.push(KeyValue::new(
            "service.instance.id",
            format!("{:032x}", fastrand::u128(..)),
        ));
    }
    attributes.extend(
        options
            .resource_attributes
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
    );
    Resource::builder()
        .with_service_name(name)
        .with_attributes(attributes)
        .build()
}

/// `endpoint` with `path` added (`http://collector:4318` + `/v1/traces`).
fn signal_url(endpoint: &str, path: &str) -> String {
    format!("{}{path}", endpoint.trim_end_matches('/'))
}

/// Starts exporting when a receiver is configured: returns the exporters (to be shut
/// down at exit) and the layer turning pier's spans into OpenTelemetry spans; `None`
/// when nothing is configured. Must run on a multi-threaded tokio runtime.
pub fn install<S>(options: &OtelOptions) -> Result<Option<(Otel, OtelLayer<S>)>, String>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    if sdk_disabled() || (options.endpoint.is_none() && !env_configured()) {
        return Ok(None);
    }
    check_protocol()?;
    let client = Sender::new()?;
    let resource = resource(options);

    let mut spans = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client.clone());
    if let Some(endpoint) = &options.endpoint {
        spans = spans.with_endpoint(signal_url(endpoint, "/v1/traces"));
    }
    let spans = spans
        .build()
        .map_err(|e| format!("cannot set up the OTLP span exporter: {e}"))?;
    let mut tracer = SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .with_resource(resource.clone());
    if let Some(ratio) = options.sample_ratio {
        tracer = tracer.with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            ratio,
        ))));
    }
    let tracer = tracer.build();

    let mut metrics = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_http_client(client);
    if let Some(endpoint) = &options.endpoint {
        metrics = metrics.with_endpoint(signal_url(endpoint, "/v1/metrics"));
    }
    let metrics = metrics
        .build()
        .map_err(|e| format!("cannot set up the OTLP metric exporter: {e}"))?;
    let reader = PeriodicReader::builder(metrics)
        .with_interval(options.export_interval)
        .build();
    let meter = SdkMeterProvider::builder()
        .with_reader(reader)
        .with_resource(resource)
        .build();
    let m = meter.meter("pier");
    let _ = INSTRUMENTS.set(Instruments {
        operation: m
            .f64_histogram("mcp.server.operation.duration")
            .with_unit("s")
            .with_description("MCP request or notification duration as observed on the receiver from the time it was received until the result or ack is sent.")
            .with_boundaries(MCP_BUCKETS.to_vec())
            .build(),
        session: m
            .f64_histogram("mcp.server.session.duration")
            .with_unit("s")
            .with_description("The duration of the MCP session as observed on the MCP server.")
            .with_boundaries(MCP_BUCKETS.to_vec())
            .build(),
    });
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer.tracer("pier"))
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false);
    ENABLED.store(true, Ordering::Relaxed);
    super::trace::set_content_of(options.trace_content.clone());
    Ok(Some((Otel { tracer, meter }, layer)))
}

/// The layer [`install`] makes.
pub type OtelLayer<S> =
    tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>;

impl Otel {
    /// Sends what is left and stops the exporters (blocks: call it off the runtime's
    /// workers, e.g. in `spawn_blocking`).
    pub fn shutdown(&self) {
        ENABLED.store(false, Ordering::Relaxed);
        // Why a last export failed is logged where it failed ([`Sender`]).
        if self.tracer.shutdown().is_err() {
            tracing::warn!("OpenTelemetry: the last spans could not be sent");
        }
        if self.meter.shutdown().is_err() {
            tracing::warn!("OpenTelemetry: the last metrics could not be sent");
        }
    }
}

/// Sends OTLP requests with pier's HTTP client on pier's runtime: the SDK calls it from
/// its own export threads, which have no runtime of their own.
#[derive(Clone)]
struct Sender {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sender")
    }
}

/// How long one OTLP request may take, unless `OTEL_EXPORTER_OTLP_TIMEOUT` says
/// (in milliseconds, 100 ms to 60 s).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// [`SEND_TIMEOUT`], or the environment's.
fn send_timeout() -> Duration {
    std::env::var("OTEL_EXPORTER_OTLP_TIMEOUT")
        .ok()
        .and_then(|ms| ms.trim().parse::<u64>().ok())
        .map(|ms| Duration::from_millis(ms.clamp(100, 60_000)))
        .unwrap_or(SEND_TIMEOUT)
}

/// The most of a receiver's answer read (it is only checked for its status).
const MAX_ANSWER_BYTES: usize = 64 << 10;

impl Sender {
    fn new() -> Result<Self, String> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "OpenTelemetry export needs pier's runtime".to_string())?;
        let client = reqwest::Client::builder()
            .timeout(send_timeout())
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("cannot make the OTLP HTTP client: {e}"))?;
        Ok(Self { client, runtime })
    }
}

/// The innermost cause of `error`: what went wrong, without the layers around it.
fn cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = error;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}

/// How often a failing receiver is reported in the log.
const COMPLAIN_EVERY: Duration = Duration::from_secs(60);

impl Sender {
    /// Logs that a request to `url` failed because of `why`: the first time, then at
    /// most once a minute (a receiver that is down must not flood the log).
    fn complain(&self, url: &http::Uri, why: &str) {
        static LAST: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| at.elapsed() < COMPLAIN_EVERY) {
            return;
        }
        *last = Some(std::time::Instant::now());
        let shown = format!(
            "{}://{}{}",
            url.scheme_str().unwrap_or("http"),
            url.authority().map(|a| a.host()).unwrap_or(""),
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        );
        tracing::warn!(
            "OpenTelemetry: cannot send to {shown}{}: {} (spans and metrics of this moment are lost; this is said again at most once a minute)",
            url.path(),
            crate::text::clip(why)
        );
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for Sender {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        let url = request.uri().clone();
        let sent = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let mut request = client
                .request(parts.method, parts.uri.to_string())
                .body(body);
            for (name, value) in &parts.headers {
                request = request.header(name, value);
            }
            let mut response = request.send().await?;
            let status = response.status();
            let mut answer = bytes::BytesMut::new();
            while let Some(chunk) = response.chunk().await? {
                let room = MAX_ANSWER_BYTES.saturating_sub(answer.len());
                answer.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok::<_, reqwest::Error>((status, answer.freeze()))
        });
        let (status, body) = match sent.await {
            Ok(Ok(answered)) => answered,
            Ok(Err(e)) => {
                let why = cause(&e);
                self.complain(&url, &why);
                return Err(why.into());
            }
            Err(e) => {
                let why = format!("the request was not sent ({e})");
                self.complain(&url, &why);
                return Err(why.into());
            }
        };
        if !status.is_success() {
            self.complain(&url, &format!("it answered HTTP {status}"));
        }
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::signal_url;

    #[test]
    fn signal_paths_are_added_to_the_base_url() {
        assert_eq!(
            signal_url("http://127.0.0.1:4318/", "/v1/traces"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            signal_url("http://collector:4318", "/v1/metrics"),
            "http://collector:4318/v1/metrics"
        );
    }
}
