//! An OTLP/HTTP receiver on loopback: what pier exports, decoded with the official
//! OpenTelemetry protocol definitions (`opentelemetry-proto`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// One span as received, with the `service.name` of its resource.
#[derive(Debug, Clone)]
pub struct Received {
    pub service: String,
    pub resource: Vec<KeyValue>,
    pub span: Span,
}

/// One metric as received, with the `service.name` of its resource.
#[derive(Debug, Clone)]
pub struct ReceivedMetric {
    pub service: String,
    pub metric: Metric,
}

#[derive(Default)]
struct Inbox {
    spans: Mutex<Vec<Received>>,
    metrics: Mutex<Vec<ReceivedMetric>>,
    /// Requests that were not OTLP/protobuf.
    bad: Mutex<Vec<String>>,
}

/// The receiver: `endpoint` is the base URL pier is given.
pub struct Receiver {
    pub endpoint: String,
    inbox: Arc<Inbox>,
    stop: tokio_util::sync::CancellationToken,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The text of an attribute's value (ints and bools as their text).
pub fn text(value: &Option<AnyValue>) -> Option<String> {
    match value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(n) => Some(n.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::DoubleValue(x) => Some(x.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// The value of attribute `key` in `attributes`.
pub fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| text(&kv.value))
}

fn service_of(
    resource: &Option<opentelemetry_proto::tonic::resource::v1::Resource>,
) -> (String, Vec<KeyValue>) {
    let attributes = resource
        .as_ref()
        .map(|r| r.attributes.clone())
        .unwrap_or_default();
    (
        attribute(&attributes, "service.name").unwrap_or_default(),
        attributes,
    )
}

async fn traces(State(inbox): State<Arc<Inbox>>, body: Bytes) -> Vec<u8> {
    match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            let mut spans = inbox.spans.lock().unwrap();
            for resource_spans in request.resource_spans {
                let (service, resource) = service_of(&resource_spans.resource);
                for scope in resource_spans.scope_spans {
                    for span in scope.spans {
                        spans.push(Received {
                            service: service.clone(),
                            resource: resource.clone(),
                            span,
                        });
                    }
                }
            }
        }
        Err(e) => inbox.bad.lock().unwrap().push(format!("traces: {e}")),
    }
    Vec::new()
}

async fn metrics(State(inbox): State<Arc<Inbox>>, body: Bytes) -> Vec<u8> {
    match ExportMetricsServiceRequest::decode(body) {
        Ok(request) => {
            let mut metrics = inbox.metrics.lock().unwrap();
            for resource_metrics in request.resource_metrics {
                let (service, _) = service_of(&resource_metrics.resource);
                for scope in resource_metrics.scope_metrics {
                    for metric in scope.metrics {
                        metrics.push(ReceivedMetric {
                            service: service.clone(),
                            metric,
                        });
                    }
                }
            }
        }
        Err(e) => inbox.bad.lock().unwrap().push(format!("metrics: {e}")),
    }
    Vec::new()
}

impl Receiver {
    /// Starts a receiver on a free loopback port.
    pub async fn start() -> Self {
        let inbox = Arc::new(Inbox::default());
        let router = axum::Router::new()
            .route("/v1/traces", post(traces))
            .route("/v1/metrics", post(metrics))
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let stop = tokio_util::sync::CancellationToken::new();
        let until = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { until.cancelled().await })
                .await
                .unwrap();
        });
        Self {
            endpoint,
            inbox,
            stop,
        }
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Received> {
        self.inbox.spans.lock().unwrap().clone()
    }

    /// Every metric received so far.
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        self.inbox.metrics.lock().unwrap().clone()
    }

    /// Requests that did not decode as OTLP/protobuf.
    pub fn bad(&self) -> Vec<String> {
        self.inbox.bad.lock().unwrap().clone()
    }

    /// The spans of trace `trace_id` (hex), once `done` holds for them (waits up to
    /// 30 s, then fails naming what arrived).
    pub async fn trace(&self, trace_id: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let spans: Vec<Received> = self
                .spans()
                .into_iter()
                .filter(|r| hex::encode(&r.span.trace_id) == trace_id)
                .collect();
            if done(&spans) {
                return spans;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "trace {trace_id} incomplete after 30 s: {:?}",
                spans.iter().map(|r| &r.span.name).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
