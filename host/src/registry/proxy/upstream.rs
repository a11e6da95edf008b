//! The HTTP side of a `url` mount: a reqwest client whose TLS trusts the web's roots and
//! `grants.ca-certificates`, the mount's credentials put on each request
//! ([`Upstream`]), and what went wrong said in a sentence ([`explain`]): a refusal in
//! `/ready` names the cause (nothing listening, an untrusted certificate, an HTTP
//! status), never the types it travelled through.

use std::collections::HashMap;
use std::sync::Arc;

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::Sse;

use super::credentials::{Bearer, Resolved};
use crate::runtime::grants::Trust;

/// Same-origin redirects (307 and 308, which keep the method and body) followed at most.
const MAX_REDIRECTS: usize = 10;

/// An HTTP client for upstream servers and their authorization servers: TLS by rustls
/// trusting `trust`, idle connections kept, same-origin 307/308 redirects followed (a
/// server at `/mcp` that moves to `/mcp/`), no other.
pub fn http_client(trust: &Trust) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .tls_backend_preconfigured((*trust.config()).clone())
        .pool_idle_timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let same_origin = attempt
                .previous()
                .first()
                .is_some_and(|first| first.origin() == attempt.url().origin());
            let keeps_body = matches!(
                attempt.status(),
                http::StatusCode::TEMPORARY_REDIRECT | http::StatusCode::PERMANENT_REDIRECT
            );
            if !same_origin || !keeps_body {
                attempt.stop()
            } else if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
            } else {
                attempt.follow()
            }
        }))
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {}", explain(&e)))
}

/// rmcp's streamable HTTP client with a mount's credentials on every request: the
/// bearer token of the moment and the extra headers. When the server answers 401 to a
/// token fetched by client credentials, the token is dropped and the request sent once
/// more with a new one.
#[derive(Clone)]
pub struct Upstream {
    http: reqwest::Client,
    credentials: Arc<Resolved>,
}

type Failed = StreamableHttpError<reqwest::Error>;

impl Upstream {
    /// `http` sending `credentials`.
    pub fn new(http: reqwest::Client, credentials: Resolved) -> Self {
        Self {
            http,
            credentials: Arc::new(credentials),
        }
    }

    async fn token(&self) -> Result<Option<String>, Failed> {
        self.credentials
            .bearer
            .token()
            .await
            .map_err(|e| StreamableHttpError::Io(std::io::Error::other(e)))
    }

    fn headers(
        &self,
        mut given: HashMap<HeaderName, HeaderValue>,
    ) -> HashMap<HeaderName, HeaderValue> {
        for (name, value) in &self.credentials.headers {
            given.insert(name.clone(), value.clone());
        }
        given
    }

    /// Whether the server refused `token` (`unauthorized`), and another may be fetched.
    async fn refused(&self, unauthorized: bool, token: Option<&str>) -> bool {
        match (unauthorized, token, &self.credentials.bearer) {
            (true, Some(token), bearer @ Bearer::OAuth(_)) => bearer.refused(token).await,
            _ => false,
        }
    }
}

/// Whether `result` is an HTTP 401.
fn unauthorized<T>(result: &Result<T, Failed>) -> bool {
    match result {
        Err(StreamableHttpError::AuthRequired(_)) => true,
        Err(StreamableHttpError::UnexpectedServerResponse(text)) => text.starts_with("HTTP 401"),
        _ => false,
    }
}

impl StreamableHttpClient for Upstream {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, Failed> {
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            None,
            custom_headers,
            StreamableHttpResponseLimits::default(),
        )
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, Failed> {
        let mut limits = StreamableHttpResponseLimits::default();
        limits.max_sse_event_size = max_sse_event_size;
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            None,
            custom_headers,
            limits,
        )
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, Failed> {
        let headers = self.headers(custom_headers);
        let token = self.token().await?;
        if !matches!(self.credentials.bearer, Bearer::OAuth(_)) {
            // Nothing to fetch again on a 401: sent once, without keeping a copy.
            return self
                .http
                .post_message_with_response_limits(uri, message, session_id, token, headers, limits)
                .await;
        }
        let sent = self
            .http
            .post_message_with_response_limits(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token.clone(),
                headers.clone(),
                limits,
            )
            .await;
        if !self.refused(unauthorized(&sent), token.as_deref()).await {
            return sent;
        }
        let token = self.token().await?;
        self.http
            .post_message_with_response_limits(uri, message, session_id, token, headers, limits)
            .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), Failed> {
        let token = self.token().await?;
        self.http
            .delete_session(uri, session_id, token, self.headers(custom_headers))
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, Failed> {
        let token = self.token().await?;
        self.http
            .get_stream(
                uri,
                session_id,
                last_event_id,
                token,
                self.headers(custom_headers),
            )
            .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, Failed> {
        let token = self.token().await?;
        self.http
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                token,
                self.headers(custom_headers),
                max_sse_event_size,
            )
            .await
    }
}

/// What `error` (and what caused it) means for people: the innermost cause pier
/// recognises, in a sentence; else the last message of the chain that names no type.
pub fn explain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        chain.push(e);
        next = match e.downcast_ref::<Failed>() {
            // rmcp's client error does not name its cause as its source.
            Some(StreamableHttpError::Client(inner)) => Some(inner),
            // An I/O error's source is its inner error's source, not the inner error.
            _ => match e
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
            {
                Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
                None => e.source(),
            },
        };
        if chain.len() > 32 {
            break;
        }
    }
    for e in chain.iter().rev() {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return tls_sentence(tls);
        }
    }
    for e in chain.iter().rev() {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            // An error pier itself wrapped (a token that could not be fetched) is
            // its own sentence.
            if io.kind() == std::io::ErrorKind::Other
                && io.get_ref().is_some_and(|inner| inner.source().is_none())
            {
                return io.to_string();
            }
            if let Some(sentence) = io_sentence(io) {
                return sentence;
            }
        }
    }
    for e in &chain {
        if let Some(http) = e.downcast_ref::<Failed>()
            && let Some(sentence) = http_sentence(http)
        {
            return sentence;
        }
        if let Some(reqwest) = e.downcast_ref::<reqwest::Error>() {
            if reqwest.is_timeout() {
                return "it did not answer in time".into();
            }
            if reqwest.is_redirect() {
                return "it redirected too often".into();
            }
        }
    }
    // The last message that names no Rust type (`Transport [a::b<…>]`).
    chain
        .iter()
        .rev()
        .map(|e| e.to_string())
        .find(|text| !text.contains("::"))
        .unwrap_or_else(|| "the connection failed".into())
}

fn tls_sentence(error: &rustls::Error) -> String {
    use rustls::{CertificateError, Error};
    match error {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "its TLS certificate is signed by an authority pier does not trust (add that authority's PEM file to grants.ca-certificates)".into()
        }
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => "its TLS certificate is not valid for that host name".into(),
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "its TLS certificate has expired".into(),
        Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => "its TLS certificate is not valid yet (is this machine's clock right?)".into(),
        Error::InvalidCertificate(CertificateError::Revoked) => {
            "its TLS certificate has been revoked".into()
        }
        Error::InvalidCertificate(_) => "its TLS certificate was refused".into(),
        Error::InvalidMessage(_) | Error::InappropriateMessage { .. } => {
            "it does not speak TLS there (is the URL meant to be http://?)".into()
        }
        Error::AlertReceived(alert) => {
            format!("it ended the TLS handshake ({})", format!("{alert:?}").to_lowercase())
        }
        other => format!("the TLS handshake failed: {other}"),
    }
}

fn io_sentence(error: &std::io::Error) -> Option<String> {
    use std::io::ErrorKind;
    Some(match error.kind() {
        ErrorKind::ConnectionRefused => "nothing listens there (connection refused)".into(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
            "it closed the connection".into()
        }
        ErrorKind::TimedOut => "it did not answer in time".into(),
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => {
            "its address cannot be reached from here".into()
        }
        ErrorKind::UnexpectedEof => "it closed the connection before answering".into(),
        _ => return None,
    })
}

fn http_sentence(error: &Failed) -> Option<String> {
    use crate::text::clip;
    Some(match error {
        StreamableHttpError::AuthRequired(_) => {
            "it asks for authorization (HTTP 401): the mount sent no token, or one it refused"
                .into()
        }
        StreamableHttpError::InsufficientScope(e) => match &e.required_scope {
            Some(scope) => format!(
                "it refused the mount's token (HTTP 403): the token lacks the scope `{}`",
                clip(scope)
            ),
            None => "it refused the mount's token (HTTP 403)".into(),
        },
        StreamableHttpError::HttpStatus(e) => format!("it answered HTTP {}", e.status),
        StreamableHttpError::UnexpectedContentType(ct) => format!(
            "it answered with content type `{}`, not an MCP server's (is the URL its MCP endpoint?)",
            clip(ct.as_deref().unwrap_or("none"))
        ),
        StreamableHttpError::UnexpectedServerResponse(text) => {
            let text = text.trim();
            match text.strip_prefix("HTTP ") {
                Some(rest) => {
                    let (status, body) = rest.split_once(':').unwrap_or((rest, ""));
                    let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
                    if body.is_empty() {
                        format!("it answered HTTP {status}")
                    } else {
                        format!("it answered HTTP {status}: {}", clip(&body))
                    }
                }
                None => format!("it answered something unexpected: {}", clip(text)),
            }
        }
        StreamableHttpError::ResponseBodyTooLarge { max_size } => {
            format!("its answer was larger than {max_size} bytes")
        }
        StreamableHttpError::Deserialize(_) => "its answer is not JSON-RPC".into(),
        StreamableHttpError::SessionExpired => "it no longer knows the session (HTTP 404)".into(),
        StreamableHttpError::MissingSessionIdInResponse => {
            "it opened no session (no Mcp-Session-Id header)".into()
        }
        _ => return None,
    })
}

/// Why the MCP handshake with a server failed, in a sentence.
pub fn explain_init(error: &rmcp::service::ClientInitializeError) -> String {
    use rmcp::service::ClientInitializeError as E;
    match error {
        E::TransportError { error, .. } => explain(error),
        E::JsonRpcError(data) => format!(
            "it refused the MCP handshake: {}",
            crate::text::clip(&data.message)
        ),
        E::NoCompatibleProtocolVersion {
            server_supported, ..
        } => {
            let theirs: Vec<String> = server_supported.iter().map(|v| v.to_string()).collect();
            format!(
                "it speaks no MCP revision pier does (it offers {})",
                crate::text::clip(&theirs.join(", "))
            )
        }
        E::ConnectionClosed(_) => "it closed the connection during the MCP handshake".into(),
        E::LegacyFallbackFailed { fallback, .. } => explain_init(fallback),
        E::Cancelled => "the MCP handshake was cancelled".into(),
        _ => "it did not answer the MCP handshake as MCP says".into(),
    }
}

/// Why a request to a connected server got no answer, in a sentence.
pub fn explain_service(error: &rmcp::ServiceError) -> String {
    use rmcp::ServiceError as E;
    match error {
        E::McpError(data) => crate::text::clip(&data.message).into_owned(),
        E::TransportSend(e) => explain(e),
        E::TransportClosed => "the connection to it is closed".into(),
        E::UnexpectedResponse => "it answered with a result of another kind".into(),
        E::Timeout { timeout } => format!("it did not answer within {} ms", timeout.as_millis()),
        E::Cancelled { .. } => "the request was cancelled".into(),
        other => other.to_string(),
    }
}
