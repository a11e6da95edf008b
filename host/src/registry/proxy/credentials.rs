//! What pier shows a remote MCP server as its own identity: a static bearer token, or one
//! it gets from an authorization server by OAuth 2.1 client credentials (cached until it
//! expires, fetched again ahead of that, and at once when the server refuses it), and
//! extra headers. Values come from the mount's table or, for anything secret, from the
//! operator's `[secrets.NAMESPACE]`, read when the mount is made.
//!
//! The token of pier's own client is never forwarded: a token is issued for one
//! audience, and the MCP specification forbids passing it through to another.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::runtime::grants::config::Secrets;
use crate::text::clip;

/// Headers a mount may not set: pier and the MCP transport own them.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "accept",
    "connection",
    "content-length",
    "content-type",
    "host",
    "last-event-id",
    "mcp-method",
    "mcp-name",
    "mcp-protocol-version",
    "mcp-session-id",
    "te",
    "traceparent",
    "tracestate",
    "transfer-encoding",
    "upgrade",
];

/// The most extra headers one mount sends.
const MAX_HEADERS: usize = 32;
/// The largest answer of a token endpoint pier reads.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;
/// A token is fetched again this long before it expires (or at a tenth of its
/// lifetime before, when that is shorter).
const REFRESH_AHEAD: Duration = Duration::from_secs(60);

/// A value of a mount's configuration: written in the mount, or the key of a secret in
/// `[secrets.NAMESPACE]` (`{ secret = "KEY" }`).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Configured {
    /// The value itself.
    Literal(String),
    /// A key of the operator's `[secrets.NAMESPACE]`.
    Secret {
        /// The key.
        secret: String,
    },
}

impl std::fmt::Debug for Configured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Configured::Literal(_) => f.write_str("Literal(…)"),
            Configured::Secret { secret } => write!(f, "Secret({secret})"),
        }
    }
}

impl<'de> Deserialize<'de> for Configured {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(value) => Ok(Configured::Literal(value)),
            serde_json::Value::Object(table) if table.len() == 1 => match table.get("secret") {
                Some(serde_json::Value::String(key)) => Ok(Configured::Secret {
                    secret: key.clone(),
                }),
                _ => Err(D::Error::custom(
                    "expected a string, or { secret = \"KEY\" } naming a key of [secrets.NAMESPACE]",
                )),
            },
            _ => Err(D::Error::custom(
                "expected a string, or { secret = \"KEY\" } naming a key of [secrets.NAMESPACE]",
            )),
        }
    }
}

impl Configured {
    /// The value: the literal, or the secret `[secrets.NAMESPACE] KEY` read now.
    fn resolve(&self, namespace: &str, secrets: &Secrets) -> Result<String, String> {
        match self {
            Configured::Literal(value) => Ok(value.clone()),
            Configured::Secret { secret } => secrets
                .get(namespace)
                .and_then(|keys| keys.get(secret))
                .ok_or_else(|| format!("[secrets.{namespace}] has no key `{secret}`"))?
                .read()
                .map_err(|e| format!("the secret `{secret}` of [secrets.{namespace}]: {e}")),
        }
    }

    fn is_secret(&self) -> bool {
        matches!(self, Configured::Secret { .. })
    }
}

/// How pier presents its client id and secret to the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// HTTP Basic (`client_secret_basic`, what RFC 6749 asks every server to accept).
    #[default]
    Basic,
    /// In the form body (`client_secret_post`).
    Post,
}

/// A mount's `oauth` table: OAuth 2.1 client credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OAuthSpec {
    /// The authorization server's token endpoint.
    pub token_url: String,
    /// pier's client id there.
    pub client_id: String,
    /// pier's client secret there: `{ secret = "KEY" }`.
    pub client_secret: Configured,
    /// Scopes asked for.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The resource the token is for (RFC 8707), when the server wants it named.
    pub resource: Option<String>,
    /// `basic` (default) or `post`.
    #[serde(default)]
    pub client_auth: ClientAuth,
}

/// A `url` mount's credentials, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// A static bearer token.
    pub token: Option<Configured>,
    /// A token by client credentials.
    pub oauth: Option<OAuthSpec>,
    /// Extra headers sent with every request.
    pub headers: BTreeMap<String, Configured>,
}

impl Credentials {
    /// Checks the configuration; the error names the field.
    pub fn check(&self) -> Result<(), (String, String)> {
        let fail = |key: String, message: String| Err((key, message));
        if self.token.is_some() && self.oauth.is_some() {
            return fail(
                "oauth".into(),
                "a mount takes a `token` or an `oauth` table, not both".into(),
            );
        }
        if let Some(oauth) = &self.oauth {
            if let Err(e) = check_url(&oauth.token_url) {
                return fail("oauth.token-url".into(), e);
            }
            if oauth.client_id.is_empty() {
                return fail("oauth.client-id".into(), "must not be empty".into());
            }
            if !oauth.client_secret.is_secret() {
                return fail(
                    "oauth.client-secret".into(),
                    "must be { secret = \"KEY\" }: a client secret belongs in [secrets.NAMESPACE], not in the mount".into(),
                );
            }
            if let Some(bad) = oauth
                .scopes
                .iter()
                .find(|s| s.is_empty() || s.chars().any(|c| c == ' ' || c.is_control()))
            {
                return fail(
                    "oauth.scopes".into(),
                    format!("`{}` is not a scope (one word each)", clip(bad)),
                );
            }
        }
        if self.headers.len() > MAX_HEADERS {
            return fail("headers".into(), format!("at most {MAX_HEADERS} headers"));
        }
        for (name, value) in &self.headers {
            let key = format!("headers.{}", clip(name));
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return fail(key, "not a valid header name".into());
            }
            if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return fail(
                    key,
                    "pier sets this header itself (use `token` or `oauth` for Authorization)"
                        .into(),
                );
            }
            if let Configured::Literal(text) = value
                && http::HeaderValue::from_str(text).is_err()
            {
                return fail(key, "not a valid header value".into());
            }
        }
        Ok(())
    }

    /// Whether any value comes from `[secrets]`.
    pub fn uses_secrets(&self) -> bool {
        self.token.as_ref().is_some_and(Configured::is_secret)
            || self.oauth.is_some()
            || self.headers.values().any(Configured::is_secret)
    }

    /// The credentials of the mount `namespace`, their secrets read now from `secrets`.
    pub fn resolve(
        &self,
        namespace: &str,
        secrets: &Secrets,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> Result<Resolved, String> {
        let bearer = match (&self.token, &self.oauth) {
            (Some(token), _) => Bearer::Static(token.resolve(namespace, secrets)?),
            (None, Some(oauth)) => Bearer::OAuth(Arc::new(TokenSource {
                http: http.clone(),
                token_url: oauth.token_url.clone(),
                client_id: oauth.client_id.clone(),
                client_secret: oauth.client_secret.resolve(namespace, secrets)?,
                scopes: oauth.scopes.join(" "),
                resource: oauth.resource.clone(),
                client_auth: oauth.client_auth,
                timeout,
                cached: tokio::sync::Mutex::new(None),
            })),
            (None, None) => Bearer::None,
        };
        let mut headers = http::HeaderMap::new();
        for (name, value) in &self.headers {
            let value = value.resolve(namespace, secrets)?;
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{}` is not a valid header name", clip(name)))?;
            let mut value = http::HeaderValue::from_str(&value)
                .map_err(|_| format!("the value of header `{name}` is not a valid header value"))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Ok(Resolved { bearer, headers })
    }
}

/// An authorization server's URL: https, or http on a loopback address only.
fn check_url(url: &str) -> Result<(), String> {
    let uri: http::Uri = url.parse().map_err(|_| "not a URL".to_string())?;
    let host = uri.host().unwrap_or_default();
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") if crate::text::is_loopback_url(url) => Ok(()),
        Some("http") => Err(
            "must be https (plain http only on a loopback address): the client secret travels in it"
                .into(),
        ),
        _ => Err("must be an https URL".into()),
    }
}

/// A mount's credentials, ready to send.
#[derive(Clone)]
pub struct Resolved {
    /// The bearer token.
    pub bearer: Bearer,
    /// Extra headers.
    pub headers: http::HeaderMap,
}

/// Where a mount's bearer token comes from.
#[derive(Clone)]
pub enum Bearer {
    /// No token.
    None,
    /// A fixed one.
    Static(String),
    /// One fetched by client credentials.
    OAuth(Arc<TokenSource>),
}

impl Bearer {
    /// The token to send now.
    pub async fn token(&self) -> Result<Option<String>, String> {
        match self {
            Bearer::None => Ok(None),
            Bearer::Static(token) => Ok(Some(token.clone())),
            Bearer::OAuth(source) => source.token().await.map(Some),
        }
    }

    /// The server refused `token`: the next request fetches another. Whether another
    /// may be fetched (a static token stays what it is).
    pub async fn refused(&self, token: &str) -> bool {
        match self {
            Bearer::OAuth(source) => {
                let mut cached = source.cached.lock().await;
                if cached.as_ref().is_some_and(|c| c.token == token) {
                    *cached = None;
                }
                true
            }
            _ => false,
        }
    }
}

/// A token cached until it is due.
struct Cached {
    token: String,
    /// When it must be fetched again (`None`: when the server refuses it).
    due: Option<Instant>,
}

/// Gets tokens from an authorization server by client credentials.
pub struct TokenSource {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: String,
    scopes: String,
    resource: Option<String>,
    client_auth: ClientAuth,
    timeout: Duration,
    /// Held while fetching: concurrent requests wait for one fetch.
    cached: tokio::sync::Mutex<Option<Cached>>,
}

/// A token endpoint's answer (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    token_type: String,
    expires_in: Option<u64>,
}

/// A token endpoint's refusal (RFC 6749 §5.2).
#[derive(Deserialize)]
struct TokenRefusal {
    error: String,
    error_description: Option<String>,
}

impl TokenSource {
    /// A token that is not due, fetched now when the cached one is.
    async fn token(&self) -> Result<String, String> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && c.due.is_none_or(|due| Instant::now() < due)
        {
            return Ok(c.token.clone());
        }
        let fetched = tokio::time::timeout(self.timeout, self.fetch())
            .await
            .map_err(|_| {
                format!(
                    "the authorization server at {} did not answer within {} ms",
                    self.token_url,
                    self.timeout.as_millis()
                )
            })??;
        let token = fetched.token.clone();
        *cached = Some(fetched);
        Ok(token)
    }

    async fn fetch(&self) -> Result<Cached, String> {
        let at = &self.token_url;
        let mut request = self
            .http
            .post(at)
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials");
            if !self.scopes.is_empty() {
                form.append_pair("scope", &self.scopes);
            }
            if let Some(resource) = &self.resource {
                form.append_pair("resource", resource);
            }
            match self.client_auth {
                ClientAuth::Basic => {
                    // RFC 6749 §2.3.1: each part form-encoded before Basic encoding.
                    use base64::Engine;
                    let encode =
                        |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                        "{}:{}",
                        encode(&self.client_id),
                        encode(&self.client_secret)
                    ));
                    request = request.header(http::header::AUTHORIZATION, format!("Basic {basic}"));
                }
                ClientAuth::Post => {
                    form.append_pair("client_id", &self.client_id);
                    form.append_pair("client_secret", &self.client_secret);
                }
            }
            form.finish()
        };
        let started = Instant::now();
        let mut response = request.body(body).send().await.map_err(|e| {
            format!(
                "cannot reach the authorization server at {at}: {}",
                super::upstream::explain(&e)
            )
        })?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            format!(
                "the authorization server at {at} broke off its answer: {}",
                super::upstream::explain(&e)
            )
        })? {
            if body.len() + chunk.len() > MAX_TOKEN_RESPONSE_BYTES {
                return Err(format!(
                    "the authorization server at {at} answered more than {MAX_TOKEN_RESPONSE_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(match serde_json::from_slice::<TokenRefusal>(&body) {
                Ok(refusal) => format!(
                    "the authorization server at {at} refused pier's client credentials: {}{}",
                    clip(&refusal.error),
                    refusal
                        .error_description
                        .map(|d| format!(" ({})", clip(&d)))
                        .unwrap_or_default()
                ),
                Err(_) => format!("the authorization server at {at} answered HTTP {status}"),
            });
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
            format!("the authorization server at {at} answered without an access_token and token_type in JSON")
        })?;
        if !answer.token_type.eq_ignore_ascii_case("bearer") {
            return Err(format!(
                "the authorization server at {at} issued a `{}` token; pier sends Bearer tokens only",
                clip(&answer.token_type)
            ));
        }
        if http::HeaderValue::from_str(&answer.access_token).is_err()
            || answer.access_token.is_empty()
        {
            return Err(format!(
                "the authorization server at {at} issued a token that cannot be sent in a header"
            ));
        }
        // A lifetime beyond a year (or beyond what the clock can add) is kept until the
        // server refuses the token.
        let due = answer
            .expires_in
            .filter(|&seconds| seconds <= 365 * 24 * 3600)
            .and_then(|seconds| {
                let lifetime = Duration::from_secs(seconds);
                started.checked_add(lifetime - REFRESH_AHEAD.min(lifetime / 10))
            });
        tracing::debug!(token_url = %at, expires_in = ?answer.expires_in, "fetched an upstream token");
        Ok(Cached {
            token: answer.access_token,
            due,
        })
    }
}
