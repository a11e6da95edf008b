//! Outbound HTTP of one call (`wasi:http/outgoing-handler`): every request is checked
//! against the component's grants and the call's budget before any connection is made;
//! pier resolves the host itself, checks every address, and connects to the address it
//! checked (a second lookup could answer differently: DNS rebinding). Redirects are not
//! followed. Each request is one `pier::egress` log line and one count in
//! `pier_egress_requests_total`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tracing::Instrument;

use http_body_util::BodyExt;
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiHttpHooks};

use super::Grants;
use super::http::Scheme;
use super::net::private_kind;

mod metered;
use metered::Metered;

/// Counts one outbound request ([`Counted`]).
pub type EgressCounter = Arc<dyn Fn(&Counted<'_>) + Send + Sync>;

/// One outbound request, as [`EgressCounter`] hears of it.
#[derive(Debug)]
pub struct Counted<'a> {
    /// The plugin that sent it.
    pub plugin: &'a str,
    /// The host pattern of the grant it matched (`other` for a refused one).
    pub host: &'a str,
    /// `ok`, `error` or `denied`.
    pub outcome: &'static str,
    /// The HTTP method.
    pub method: &'a str,
    /// `scheme://host:port`.
    pub origin: &'a str,
    /// The path, without the query (which may carry secrets).
    pub path: &'a str,
    /// Why it was refused or failed.
    pub detail: Option<&'a str>,
}

/// What one call may send: requests, and response bytes across all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpBudget {
    /// Requests per call (`[limits] http-requests`).
    pub requests: usize,
    /// Response body bytes per call, all requests together (`[limits] http-response-bytes`).
    pub response_bytes: usize,
}

impl Default for HttpBudget {
    fn default() -> Self {
        Self {
            requests: 16,
            response_bytes: 16 << 20,
        }
    }
}

/// The outbound HTTP of one call: the hooks `wasmtime-wasi-http` sends requests through.
#[derive(Clone)]
pub struct Egress {
    shared: Arc<Shared>,
}

struct Shared {
    /// ``plugin `NAME` ``, as messages name the component.
    who: String,
    plugin: Arc<str>,
    grants: Arc<Grants>,
    budget: HttpBudget,
    requests: AtomicUsize,
    bytes: AtomicUsize,
    deadline: Instant,
    /// The first refusal or failure of the call, for the client (see `explanation`).
    explanation: Mutex<Option<String>>,
    /// Set when the call's deadline cut a request short.
    late: std::sync::atomic::AtomicBool,
    count: Option<EgressCounter>,
    /// The table the budget's keys are in, as messages name it (`[limits]`).
    table: &'static str,
}

/// Where a request goes.
struct Target {
    scheme: Scheme,
    host: String,
    port: u16,
    method: String,
    /// `scheme://host:port` (IPv6 in brackets).
    origin: String,
    /// The path without the query (which may carry secrets).
    path: String,
}

impl Target {
    fn of(request: &http::Request<wasmtime_wasi_http::WasiBody>) -> Result<Self, Error> {
        let uri = request.uri();
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            _ => return Err(Error::HttpRequestUriInvalid),
        };
        let authority = uri.authority().ok_or(Error::HttpRequestUriInvalid)?;
        let host = authority.host().to_ascii_lowercase();
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = authority
            .port_u16()
            .or(scheme.default_port())
            .ok_or(Error::HttpRequestUriInvalid)?;
        let name = if scheme == Scheme::Https {
            "https"
        } else {
            "http"
        };
        Ok(Self {
            scheme,
            origin: format!("{name}://{host}:{port}"),
            host: bare,
            port,
            method: request.method().to_string(),
            path: crate::text::clip(uri.path()).into_owned(),
        })
    }
}

impl Egress {
    /// The egress of one call of `who` (``plugin `NAME` ``) named `plugin`, ending at
    /// `deadline`.
    pub fn new(
        who: String,
        plugin: Arc<str>,
        grants: Arc<Grants>,
        budget: HttpBudget,
        deadline: Instant,
        count: Option<EgressCounter>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                who,
                plugin,
                grants,
                budget,
                requests: AtomicUsize::new(0),
                bytes: AtomicUsize::new(0),
                deadline,
                explanation: Mutex::new(None),
                late: Default::default(),
                count,
                table: "[limits]",
            }),
        }
    }

    /// The same, its budget named as keys of `table` in messages (a host mount's comes
    /// from `[defaults]`, not from a sidecar's `[limits]`).
    pub fn budget_from(mut self, table: &'static str) -> Self {
        // Named before the egress is shared (its clones would keep the old name).
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.table = table;
        }
        self
    }

    /// What went wrong with the call's first refused or failed request, naming the
    /// component and the destination: the grant or limit it lacked, or why it failed
    /// (the guest sees only an error code, e.g. a TLS error without the certificate's
    /// fault).
    pub fn explanation(&self) -> Option<String> {
        self.shared.lock_explanation().clone()
    }

    /// Whether the call's deadline cut one of its requests short: the call timed out,
    /// whatever the guest made of the error.
    pub fn cut_by_deadline(&self) -> bool {
        self.shared.late.load(Ordering::Relaxed)
    }
}

impl Shared {
    fn lock_explanation(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.explanation.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Refuses a request to `target`: noted, logged, counted.
    fn deny(&self, target: &Target, why: String) -> Error {
        let message = format!("{} may not reach {}: {why}", self.who, target.origin);
        tracing::info!(
            target: "pier::egress",
            plugin = %self.plugin,
            method = %target.method,
            url = %format_args!("{}{}", target.origin, target.path),
            refused = %why,
            "outbound request refused"
        );
        self.lock_explanation().get_or_insert(message);
        self.counted(target, "other", "denied", Some(&why));
        Error::HttpRequestDenied
    }

    fn counted(&self, target: &Target, host: &str, outcome: &'static str, detail: Option<&str>) {
        if let Some(count) = &self.count {
            count(&Counted {
                plugin: &self.plugin,
                host,
                outcome,
                method: &target.method,
                origin: &target.origin,
                path: &target.path,
                detail,
            });
        }
    }

    /// The addresses pier will connect to: the host resolved once, each address
    /// checked. Fails with a network error, or with the reason to refuse the request.
    async fn resolve(&self, target: &Target) -> Result<Vec<SocketAddr>, Result<Error, String>> {
        let addrs: Vec<SocketAddr> = match target.host.parse::<std::net::IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, target.port)],
            Err(_) => tokio::net::lookup_host((target.host.as_str(), target.port))
                .await
                .map_err(|e| {
                    Ok(Error::DnsError {
                        rcode: Some(e.to_string()),
                        info_code: None,
                    })
                })?
                .take(16)
                .collect(),
        };
        if addrs.is_empty() {
            return Err(Ok(Error::DestinationNotFound));
        }
        if !self.grants.http.private_networks {
            for addr in &addrs {
                if let Some(kind) = private_kind(addr.ip()) {
                    let resolved = if target.host.parse::<std::net::IpAddr>().is_ok() {
                        format!("{} is", addr.ip())
                    } else {
                        format!("{} resolves to {}, which is", target.host, addr.ip())
                    };
                    return Err(Err(format!(
                        "{resolved} a {kind} address, and private networks are not in its [grants] (private-networks)"
                    )));
                }
            }
        }
        Ok(addrs)
    }

    /// Checks and sends `request`; its response with a metered body.
    async fn send(
        self: Arc<Self>,
        mut request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<(http::Response<wasmtime_wasi_http::WasiBody>, IoFuture), Error> {
        let started = Instant::now();
        let target = Target::of(&request)?;
        // Every attempt counts, refused ones too: a guest retrying a refused request in
        // a loop writes one log line per budgeted request, then one more, then none.
        let attempt = self.requests.fetch_add(1, Ordering::Relaxed);
        if attempt > self.budget.requests {
            self.counted(
                &target,
                "other",
                "denied",
                Some("its requests of this call are used up"),
            );
            return Err(Error::HttpRequestDenied);
        }
        if attempt == self.budget.requests {
            return Err(self.deny(
                &target,
                format!(
                    "its {} requests of this call are used up ({} http-requests)",
                    self.budget.requests, self.table
                ),
            ));
        }
        let Some(grant) = self
            .grants
            .http
            .find(target.scheme, &target.host, target.port)
        else {
            return Err(self.deny(&target, "not in its [grants] http".into()));
        };
        let label = grant.host_label();
        let deadline = match options.and_then(|o| o.connect_timeout) {
            Some(wait) => self.deadline.min(started + wait),
            None => self.deadline,
        };
        let connected = tokio::time::timeout_at(deadline.into(), async {
            match self.resolve(&target).await {
                Ok(addrs) => connect(&addrs, &target, &self.grants.http.trust)
                    .await
                    .map_err(Ok),
                Err(Ok(error)) => Err(Ok(error)),
                Err(Err(why)) => Err(Err(self.deny(&target, why))),
            }
        })
        .await
        .unwrap_or_else(|_| {
            if deadline == self.deadline {
                self.late.store(true, Ordering::Relaxed);
            }
            Err(Ok(Error::ConnectionTimeout))
        });
        let sender = match connected {
            Ok(sender) => sender,
            Err(Ok(error)) => return Err(self.failed(&target, &label, error, started)),
            Err(Err(denied)) => return Err(denied),
        };
        let (mut sender, conn) = sender;
        *request.uri_mut() = path_only(request.uri());
        let mut conn = Box::pin(conn);
        // The connection may end in the same poll that delivers the response (a server
        // that closes after answering: HTTP/1.0, `Connection: close`). The response is
        // then already on its way to `send`, so an ended connection is awaited past, not
        // taken for a failure; `send` fails by itself when no response came.
        let mut ended = None;
        // The guest's own waits (`request-options`) count within the call's deadline.
        let answer_by = options
            .and_then(|o| o.first_byte_timeout)
            .map_or(self.deadline, |wait| {
                self.deadline.min(Instant::now() + wait)
            });
        let answered = tokio::time::timeout_at(answer_by.into(), async {
            let mut send = std::pin::pin!(sender.send_request(request));
            tokio::select! {
                biased;
                response = &mut send => response,
                done = &mut conn => {
                    ended = Some(done);
                    send.await
                }
            }
            .map_err(Error::from)
        })
        .await;
        let response = match answered {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => return Err(self.failed(&target, &label, error, started)),
            Err(_) => {
                if answer_by == self.deadline {
                    self.late.store(true, Ordering::Relaxed);
                }
                return Err(self.failed(&target, &label, Error::HttpResponseTimeout, started));
            }
        };
        let status = response.status().as_u16();
        self.counted(&target, &label, "ok", None);
        let shared = self.clone();
        let between = options.and_then(|o| o.between_bytes_timeout);
        let response = response.map(move |incoming| {
            Metered::new(incoming, shared, target, status, started, between).boxed_unsync()
        });
        let io: IoFuture = Box::new(async move {
            match ended {
                Some(done) => done.map_err(Error::from),
                None => conn.await.map_err(Error::from),
            }
        });
        Ok((response, io))
    }

    /// A request that failed after its checks: logged and counted as an error.
    fn failed(&self, target: &Target, label: &str, error: Error, started: Instant) -> Error {
        tracing::info!(
            target: "pier::egress",
            plugin = %self.plugin,
            method = %target.method,
            url = %format_args!("{}{}", target.origin, target.path),
            error = %error,
            ms = started.elapsed().as_millis() as u64,
            "outbound request failed"
        );
        self.counted(target, label, "error", Some(&error.to_string()));
        self.explain_failure(target, &error.to_string());
        error
    }

    /// Notes why a request to `target` failed, for the client, unless the call already
    /// has an explanation (its first refusal or failure is the one that matters).
    fn explain_failure(&self, target: &Target, why: &str) {
        self.lock_explanation().get_or_insert_with(|| {
            let why = crate::text::clip(why);
            format!("{} could not reach {}: {why}", self.who, target.origin)
        });
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

type Connection = (
    hyper::client::conn::http1::SendRequest<wasmtime_wasi_http::WasiBody>,
    hyper::client::conn::http1::Connection<TokioIo<Box<dyn Stream>>, wasmtime_wasi_http::WasiBody>,
);

trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Sync + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Sync + Unpin> Stream for T {}

/// A connection to the first of `addrs` that answers, over TLS for `https`.
async fn connect(
    addrs: &[SocketAddr],
    target: &Target,
    trust: &super::Trust,
) -> Result<Connection, Error> {
    let mut last = None;
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                tcp = Some(stream);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let Some(tcp) = tcp else {
        return Err(last.map_or(Error::DestinationNotFound, Error::Connect));
    };
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Stream> = if target.scheme == Scheme::Https {
        let name = match target.host.parse::<std::net::IpAddr>() {
            Ok(ip) => rustls::pki_types::ServerName::from(ip),
            Err(_) => rustls::pki_types::ServerName::try_from(target.host.clone())?,
        };
        Box::new(
            tokio_rustls::TlsConnector::from(trust.config())
                .connect(name, tcp)
                .await
                .map_err(Error::Tls)?,
        )
    } else {
        Box::new(tcp)
    };
    Ok(hyper::client::conn::http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await?)
}

/// The URI as sent to an origin server: the path and query only.
fn path_only(uri: &http::Uri) -> http::Uri {
    uri.path_and_query()
        .map(|p| http::Uri::from(p.clone()))
        .unwrap_or_else(|| http::Uri::from_static("/"))
}

impl WasiHttpHooks for Egress {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<
        dyn Future<Output = Result<(http::Response<wasmtime_wasi_http::WasiBody>, IoFuture), Error>>
            + Send,
    > {
        if !crate::telemetry::otel::enabled() {
            return Box::new(self.shared.clone().send(request, options));
        }
        // Made here, in the guest's call (wasi-http runs the request on a task of its
        // own): a child of the call's span, whose context the request carries on.
        let span = egress_span(&request);
        let mut request = request;
        // A trace left unsampled has no span here, but its context goes on all the same.
        let trace = if span.is_none() {
            crate::telemetry::trace::outgoing(None)
        } else {
            crate::telemetry::trace::context_of(&span)
        };
        if let Some(trace) = trace
            && !request.headers().contains_key("traceparent")
            && let Ok(value) = http::HeaderValue::from_str(&trace.traceparent)
        {
            request.headers_mut().insert("traceparent", value);
            if let Some(state) = trace.tracestate
                && let Ok(value) = http::HeaderValue::from_str(&state)
            {
                request.headers_mut().insert("tracestate", value);
            }
        }
        let send = self.shared.clone().send(request, options);
        Box::new(async move {
            let sent = send.instrument(span.clone()).await;
            match &sent {
                Ok((response, _)) => {
                    let status = response.status().as_u16();
                    span.record("http.response.status_code", status);
                    if status >= 500 {
                        crate::telemetry::trace::fail(&span, &status.to_string(), "server error");
                    }
                }
                Err(error) => {
                    let kind = match error {
                        Error::HttpRequestDenied => "denied",
                        Error::ConnectionTimeout | Error::HttpResponseTimeout => "timeout",
                        Error::DnsTimeout | Error::DnsError { .. } => "dns_error",
                        Error::ConnectionRefused => "connection_refused",
                        _ => "_OTHER",
                    };
                    crate::telemetry::trace::fail(&span, kind, &error.to_string());
                }
            }
            sent
        })
    }
}

/// The CLIENT span of an outbound request: method, scheme, host and port only (its
/// path, query and headers may carry secrets).
fn egress_span(request: &http::Request<wasmtime_wasi_http::WasiBody>) -> tracing::Span {
    let uri = request.uri();
    let scheme = uri.scheme_str().unwrap_or("");
    let host = uri.host().unwrap_or("");
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    crate::telemetry::trace::egress(request.method().as_str(), scheme, host, port)
}
