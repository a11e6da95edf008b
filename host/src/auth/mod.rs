//! pier over HTTP as an OAuth 2.1 resource server (MCP authorization): who is calling.
//!
//! `auth.mode = "tokens"`: static bearer tokens, each configured by the SHA-256 of the
//! token (never the token itself) with the subject and scopes it stands for, compared in
//! constant time. A request to `/mcp` without a token, or with one pier does not know,
//! is answered 401 with `WWW-Authenticate: Bearer resource_metadata="…"` (and
//! `error="invalid_token"` when a token was sent), pointing at this server's protected
//! resource metadata (RFC 9728), served at `/.well-known/oauth-protected-resource` and
//! its `/mcp`-suffixed form. `/health`, `/ready` and `/metrics` stay open; stdio is
//! local and never authenticated. A legacy HTTP session is bound to the subject that
//! created it (kept in the store beside the session's record, so replicas agree):
//! another subject naming it is answered as if it did not exist.
//!
//! `auth.mode = "jwt"`: JWT access tokens from an authorization server ([`jwt`]), checked
//! against keys from PEM files and a JWKS ([`jwks`]).
//!
//! A verified token lacking a scope of `auth.required-scopes` is answered 403 with
//! `error="insufficient_scope"` and the scopes needed; what a caller may use once in
//! (`[[auth.rule]]`) is decided per component by the authorization gate
//! (`middleware/authorize.rs`), as JSON-RPC errors.

mod fetch;
mod guard;
pub mod jwks;
pub mod jwt;

pub(crate) use guard::refused;
pub use guard::{Guard, authenticate, metadata, require_token};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

/// How requests over HTTP are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Anyone who reaches the port is served.
    #[default]
    None,
    /// Static bearer tokens (`[[auth.token]]`).
    Tokens,
    /// JWT access tokens from an authorization server.
    Jwt,
}

/// One accepted token: the SHA-256 of the token, and who it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpec {
    /// SHA-256 of the token.
    pub hash: [u8; 32],
    /// The subject the token authenticates.
    pub subject: String,
    /// The scopes it grants.
    pub scopes: Vec<String>,
}

/// The `[auth]` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// How requests are authenticated.
    pub mode: Mode,
    /// The tokens of `tokens` mode.
    pub tokens: Vec<TokenSpec>,
    /// The settings of `jwt` mode.
    pub jwt: jwt::JwtSettings,
    /// This server's canonical resource URI (RFC 8707), e.g. `https://mcp.example.com/mcp`.
    pub resource: String,
    /// Authorization servers clients get tokens from.
    pub authorization_servers: Vec<String>,
    /// Scopes published in the metadata.
    pub scopes_supported: Vec<String>,
    /// Scopes every token must carry to use `/mcp` at all (403 `insufficient_scope`).
    pub required_scopes: Vec<String>,
    /// Which of `/health`, `/ready` and `/metrics` are served without a token.
    pub open_endpoints: Vec<String>,
    /// The scope a token needs to use `/admin` (besides `admin.token`).
    pub admin_scope: String,
    /// `[[auth.rule]]`: who may use which components, first match wins.
    pub rules: Vec<crate::middleware::authorize::Rule>,
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Who.
    pub subject: String,
    /// What the token grants.
    pub scopes: Vec<String>,
    /// When the token expires (seconds since the epoch); `None` for a static token.
    pub expires: Option<i64>,
}

impl Identity {
    /// The scopes of `needed` this caller lacks.
    pub fn lacks<'a>(&self, needed: &'a [String]) -> Vec<&'a str> {
        needed
            .iter()
            .filter(|s| !self.scopes.contains(s))
            .map(String::as_str)
            .collect()
    }
}

/// `sha256:HEX` of `token`, as `[[auth.token]] hash` takes it.
pub fn hash_token(token: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// The digest of a `sha256:HEX` hash, or why it is not one.
pub fn parse_hash(text: &str) -> Result<[u8; 32], String> {
    let mut digest = [0u8; 32];
    text.strip_prefix("sha256:")
        .and_then(|hex_part| hex::decode_to_slice(hex_part, &mut digest).ok())
        .ok_or_else(|| {
            "expected \"sha256:\" and 64 hex digits (`pier auth hash-token` prints it)".to_string()
        })?;
    Ok(digest)
}

/// Equal in time independent of where they differ.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Two secrets equal, telling neither how much of a guess was right nor how long the
/// secret is: their SHA-256 digests are compared in constant time.
pub(crate) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    same(&Sha256::digest(a).into(), &Sha256::digest(b).into())
}

/// Why a request was not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No bearer token was sent.
    Missing,
    /// A token was sent that pier does not accept, and why.
    Invalid(String),
    /// A valid token lacks these scopes.
    Scope(Vec<String>),
}

/// The bearer token of the `Authorization` header of `headers`.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&str, Refusal> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(Refusal::Missing);
    };
    if values.next().is_some() {
        return Err(Refusal::Invalid(
            "more than one Authorization header".into(),
        ));
    }
    value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Refusal::Invalid("not `Authorization: Bearer <token>`".into()))
}

impl AuthConfig {
    /// Whether HTTP requests must carry a token (`auth.mode` is not `none`).
    pub fn enabled(&self) -> bool {
        self.mode != Mode::None
    }

    /// The URL of this server's protected resource metadata: the resource's origin, then
    /// `/.well-known/oauth-protected-resource`, then the resource's path (RFC 9728 §3).
    pub fn metadata_url(&self) -> String {
        let (origin, path) = match self.resource.find("://") {
            Some(scheme_end) => {
                let after = scheme_end + 3;
                match self.resource[after..].find('/') {
                    Some(slash) => self.resource.split_at(after + slash),
                    None => (self.resource.as_str(), ""),
                }
            }
            None => (self.resource.as_str(), ""),
        };
        format!("{origin}/.well-known/oauth-protected-resource{path}")
    }

    /// The caller a static token (`[[auth.token]]`) stands for.
    fn static_token(&self, token: &str) -> Option<Identity> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Every token is compared, whichever matches.
        let mut found = None;
        for spec in &self.tokens {
            if same(&spec.hash, &digest) {
                found = Some(spec);
            }
        }
        found.map(|spec| Identity {
            subject: spec.subject.clone(),
            scopes: spec.scopes.clone(),
            expires: None,
        })
    }

    /// The answer to a request refused for `why`: 401 without a valid token, 403 when
    /// a valid one lacks scopes.
    pub fn challenge(&self, why: &Refusal) -> Response {
        let metadata = format!("resource_metadata=\"{}\"", self.metadata_url());
        let (status, value, message) = match why {
            Refusal::Missing => (
                StatusCode::UNAUTHORIZED,
                format!("Bearer {metadata}"),
                "this server needs `Authorization: Bearer <token>`".to_string(),
            ),
            Refusal::Invalid(reason) => (
                StatusCode::UNAUTHORIZED,
                format!("Bearer {metadata}, error=\"invalid_token\""),
                format!("the bearer token is not valid here: {reason}"),
            ),
            Refusal::Scope(needed) => {
                let scopes = needed.join(" ");
                (
                    StatusCode::FORBIDDEN,
                    format!("Bearer {metadata}, error=\"insufficient_scope\", scope=\"{scopes}\""),
                    format!("the token lacks the scope(s) {scopes}"),
                )
            }
        };
        let mut response = (status, Json(json!({ "error": message }))).into_response();
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }

    /// The protected resource metadata (RFC 9728).
    pub fn metadata(&self) -> serde_json::Value {
        json!({
            "resource": self.resource,
            "authorization_servers": self.authorization_servers,
            "scopes_supported": self.scopes_supported,
            "bearer_methods_supported": ["header"],
        })
    }
}

/// Verifies tokens in the configured mode.
pub struct Verifier {
    auth: AuthConfig,
    jwt: Option<jwt::Jwt>,
    /// Where refusals are counted (`pier_auth_refusals_total`), when anywhere.
    metrics: Option<std::sync::Arc<crate::telemetry::Metrics>>,
}

impl Verifier {
    /// The verifier of `auth`; `trust` checks a JWKS server's certificate. A PEM key
    /// file that cannot be read is an error.
    pub fn new(auth: AuthConfig, trust: crate::runtime::grants::Trust) -> Result<Self, String> {
        let jwt = match auth.mode {
            Mode::Jwt => Some(jwt::Jwt::new(auth.jwt.clone(), trust)?),
            _ => None,
        };
        Ok(Self {
            auth,
            jwt,
            metrics: None,
        })
    }

    /// Counts its refusals in `metrics`.
    pub fn counting_refusals(mut self, metrics: std::sync::Arc<crate::telemetry::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Counts one refusal for `why`.
    pub(crate) fn count_refusal(&self, why: &Refusal) {
        if let Some(metrics) = &self.metrics {
            let (reason, detail) = match why {
                Refusal::Missing => ("missing_token", "no bearer token".to_string()),
                Refusal::Invalid(why) => ("invalid_token", why.clone()),
                Refusal::Scope(scopes) => (
                    "insufficient_scope",
                    format!("the token lacks {}", scopes.join(" ")),
                ),
            };
            metrics.auth_refused(reason, Some(&detail));
        }
    }

    /// The settings.
    pub fn auth(&self) -> &AuthConfig {
        &self.auth
    }

    /// Fetches what verification needs from elsewhere (the JWKS), at start.
    pub async fn warm(&self) {
        if let Some(jwt) = &self.jwt {
            jwt.warm().await;
        }
    }

    /// Forgets the JWTs it verified lately, so that their next use checks their
    /// signatures again (measurements; nothing else needs it).
    pub fn forget_verified(&self) {
        if let Some(jwt) = &self.jwt {
            jwt.forget();
        }
    }

    /// The caller `token` stands for, or exactly why it is refused.
    pub async fn token(&self, token: &str) -> Result<Identity, String> {
        match (&self.auth.mode, &self.jwt) {
            (Mode::Jwt, Some(jwt)) => jwt.verify(token, chrono::Utc::now().timestamp()).await,
            (Mode::Tokens, _) => self
                .auth
                .static_token(token)
                .ok_or_else(|| "not one of this server's tokens".to_string()),
            _ => {
                Err("auth.mode is \"none\": pier asks for no token and serves every request".into())
            }
        }
    }

    /// The caller the `Authorization` header of `headers` names, or why none.
    pub async fn verify(&self, headers: &HeaderMap) -> Result<Identity, Refusal> {
        let token = bearer(headers)?;
        self.token(token).await.map_err(Refusal::Invalid)
    }

    /// The caller of a request to `/mcp`: verified, and holding `auth.required-scopes`.
    pub async fn admit(&self, headers: &HeaderMap) -> Result<Identity, Refusal> {
        let identity = self.verify(headers).await?;
        let lacking = identity.lacks(&self.auth.required_scopes);
        if lacking.is_empty() {
            Ok(identity)
        } else {
            Err(Refusal::Scope(
                lacking.into_iter().map(str::to_string).collect(),
            ))
        }
    }

    /// Whether `token` would be accepted, as whom, or exactly why not (`pier auth check`).
    pub async fn check(&self, token: &str) -> Result<Identity, String> {
        if token.len() > jwt::MAX_TOKEN_BYTES || token.contains(['\r', '\n']) {
            return Err(format!(
                "a token is at most {} bytes, without line breaks",
                jwt::MAX_TOKEN_BYTES
            ));
        }
        self.warm().await;
        let identity = match self.token(token).await {
            // The operator may know how many tokens there are; a client is not told.
            Err(_) if self.auth.mode == Mode::Tokens => {
                return Err(format!(
                    "its SHA-256 ({}) is none of the {} [[auth.token]] hashes",
                    hash_token(token),
                    self.auth.tokens.len()
                ));
            }
            verified => verified?,
        };
        let lacking = identity.lacks(&self.auth.required_scopes);
        if !lacking.is_empty() {
            return Err(format!(
                "valid for {}, but /mcp answers 403: it lacks auth.required-scopes {}",
                identity.subject,
                lacking.join(" ")
            ));
        }
        Ok(identity)
    }

    /// The 401/403 answer to a request refused for `why`.
    pub fn challenge(&self, why: &Refusal) -> Response {
        self.auth.challenge(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> AuthConfig {
        AuthConfig {
            mode: Mode::Tokens,
            tokens: vec![TokenSpec {
                hash: parse_hash(&hash_token("s3cret")).unwrap(),
                subject: "ci".into(),
                scopes: vec!["tools:read".into()],
            }],
            resource: "https://mcp.example.com/mcp".into(),
            ..AuthConfig::default()
        }
    }

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[tokio::test]
    async fn tokens_are_checked_by_their_hash() {
        let auth = Verifier::new(tokens(), crate::runtime::grants::Trust::web()).unwrap();
        assert_eq!(
            auth.verify(&with("Bearer s3cret")).await,
            Ok(Identity {
                subject: "ci".into(),
                scopes: vec!["tools:read".into()],
                expires: None,
            })
        );
        assert_eq!(
            auth.verify(&with("bearer s3cret")).await.unwrap().subject,
            "ci"
        );
        assert_eq!(auth.verify(&HeaderMap::new()).await, Err(Refusal::Missing));
        let unknown = Err(Refusal::Invalid("not one of this server's tokens".into()));
        assert_eq!(auth.verify(&with("Bearer s3cre")).await, unknown);
        assert_eq!(auth.verify(&with("Bearer s3cret2")).await, unknown);
        assert_eq!(
            auth.check("s3cre").await,
            Err(format!(
                "its SHA-256 ({}) is none of the 1 [[auth.token]] hashes",
                hash_token("s3cre")
            ))
        );
        for bad in ["Bearer ", "Basic czNjcmV0", "s3cret"] {
            assert_eq!(
                auth.verify(&with(bad)).await,
                Err(Refusal::Invalid(
                    "not `Authorization: Bearer <token>`".into()
                )),
                "{bad}"
            );
        }
        let mut twice = with("Bearer s3cret");
        twice.append(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert_eq!(
            auth.verify(&twice).await,
            Err(Refusal::Invalid(
                "more than one Authorization header".into()
            ))
        );
    }

    #[tokio::test]
    async fn a_token_without_the_required_scopes_is_answered_403() {
        let mut config = tokens();
        config.required_scopes = vec!["tools:read".into(), "mcp".into()];
        let auth = Verifier::new(config, crate::runtime::grants::Trust::web()).unwrap();
        let why = auth.admit(&with("Bearer s3cret")).await.unwrap_err();
        assert_eq!(why, Refusal::Scope(vec!["mcp".into()]));
        let answer = auth.challenge(&why);
        assert_eq!(answer.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            answer.headers()[header::WWW_AUTHENTICATE],
            "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\", error=\"insufficient_scope\", scope=\"mcp\""
        );
    }

    #[test]
    fn the_compare_takes_every_byte() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(same(&a, &b));
        b[31] ^= 1;
        assert!(!same(&a, &b));
        b = a;
        b[0] ^= 0x80;
        assert!(!same(&a, &b));
    }

    #[test]
    fn hashes_are_written_and_read_back() {
        let hash = hash_token("s3cret");
        assert_eq!(
            hash,
            "sha256:1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0"
        );
        assert!(parse_hash(&hash).is_ok());
        assert!(parse_hash("sha256:zz").is_err());
        assert!(parse_hash(&hash[7..]).is_err());
    }

    #[test]
    fn the_metadata_url_inserts_the_well_known_path() {
        let mut auth = tokens();
        assert_eq!(
            auth.metadata_url(),
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
        auth.resource = "https://mcp.example.com".into();
        assert_eq!(
            auth.metadata_url(),
            "https://mcp.example.com/.well-known/oauth-protected-resource"
        );
    }
}
