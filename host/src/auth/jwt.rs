//! `auth.mode = "jwt"`: JWT access tokens (RFC 9068) signed by an authorization server.
//!
//! A token is accepted when it has three base64url parts, its header names an algorithm
//! of `auth.algorithms` (never `none`, never HMAC: pier holds public keys only, so a
//! token "signed" with a public key as an HMAC secret is refused before any key is
//! looked at), one of the keys for that algorithm (and its `kid`, when it names one)
//! verifies the signature, and its claims hold: `iss` is `auth.issuer`, `aud` names
//! this server (`auth.audience`, by default `auth.resource`: a token minted for another
//! resource is refused, RFC 8707), `exp` has not passed and `nbf` has (each with
//! `auth.leeway-seconds`), and the subject claim is a non-empty string. The scopes claim
//! may be a space-separated string (`scope`) or a list (`scp`).
//!
//! Checking a signature costs tens of microseconds, more than the rest of a request, and
//! a client sends the same token with every request: a verified token is remembered (by
//! its SHA-256) for at most [`REMEMBER_FOR`], never past its `exp`; refusals are not.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Identity;
use super::jwks::{KeySet, Sources};
use crate::runtime::grants::Trust;

/// The longest token looked at (headers beyond this are refused unread).
pub const MAX_TOKEN_BYTES: usize = 16 << 10;
/// The most scopes taken from one token.
const MAX_SCOPES: usize = 256;
/// The longest subject.
const MAX_SUBJECT_BYTES: usize = 1024;
/// How long a verified token is taken without checking its signature again.
pub const REMEMBER_FOR: Duration = Duration::from_secs(60);
/// The most verified tokens remembered.
const MAX_REMEMBERED: usize = 4096;

/// The `jwt` settings of `[auth]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The `aud` every token must name (this server's resource URI).
    pub audience: String,
    /// Where the authorization server publishes its keys.
    pub jwks_url: Option<String>,
    /// PEM files of public keys.
    pub public_keys: Vec<PathBuf>,
    /// The algorithms accepted.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway: u64,
    /// The claim holding the scopes.
    pub scopes_claim: String,
    /// The claim holding the subject.
    pub subject_claim: String,
    /// The least time between two JWKS fetches.
    pub jwks_min_refresh: Duration,
    /// How long fetched keys are used before they are refetched.
    pub jwks_max_age: Duration,
    /// Whether a token's header must say `typ: at+jwt` (RFC 9068 access tokens), so that
    /// an ID token or another JWT of the same issuer is never taken for one.
    pub require_type: bool,
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            audience: String::new(),
            jwks_url: None,
            public_keys: Vec::new(),
            algorithms: vec![Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA],
            leeway: 30,
            scopes_claim: "scope".into(),
            subject_claim: "sub".into(),
            jwks_min_refresh: Duration::from_secs(30),
            jwks_max_age: Duration::from_secs(600),
            require_type: false,
        }
    }
}

/// The names `auth.algorithms` takes.
pub const ALGORITHMS: &str = "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA";

/// The algorithm `name` stands for, or why it is not accepted.
pub fn algorithm(name: &str) -> Result<Algorithm, String> {
    if name.eq_ignore_ascii_case("none") {
        return Err("`none` (an unsigned token) is never accepted".into());
    }
    match name.parse::<Algorithm>() {
        Ok(alg) if super::jwks::Family::of(alg).is_some() => Ok(alg),
        Ok(_) => Err(format!(
            "{name}: HMAC needs a shared secret, and pier verifies with public keys only"
        )),
        Err(_) => Err(format!(
            "{}: not one of {ALGORITHMS}",
            crate::text::clip(name)
        )),
    }
}

/// The JWT verifier: the settings and the keys.
pub struct Jwt {
    settings: JwtSettings,
    keys: KeySet,
    /// Tokens verified lately, by their SHA-256: who, and until when (monotonic).
    verified: Mutex<HashMap<[u8; 32], (Identity, Instant)>>,
}

impl Jwt {
    /// Reads the PEM keys (an unreadable file is an error) and prepares the JWKS, which
    /// [`Jwt::warm`] fetches.
    pub fn new(settings: JwtSettings, trust: Trust) -> Result<Self, String> {
        let keys = KeySet::new(Sources {
            public_keys: &settings.public_keys,
            jwks_url: settings.jwks_url.as_deref(),
            trust,
            min_refresh: settings.jwks_min_refresh,
            max_age: settings.jwks_max_age,
        })?;
        Ok(Self {
            settings,
            keys,
            verified: Mutex::default(),
        })
    }

    fn remembered(&self) -> MutexGuard<'_, HashMap<[u8; 32], (Identity, Instant)>> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets every verified token: the next use of each checks its signature again.
    pub fn forget(&self) {
        self.remembered().clear();
    }

    /// Remembers that `digest`'s token stands for `identity`.
    fn remember(&self, digest: [u8; 32], identity: &Identity, now: i64) {
        let left = identity
            .expires
            .map_or(0, |exp| exp.saturating_sub(now).max(0) as u64);
        let until = Instant::now() + REMEMBER_FOR.min(Duration::from_secs(left));
        let mut remembered = self.remembered();
        if remembered.len() >= MAX_REMEMBERED {
            let now = Instant::now();
            remembered.retain(|_, (_, until)| *until > now);
            if remembered.len() >= MAX_REMEMBERED {
                remembered.clear();
            }
        }
        remembered.insert(digest, (identity.clone(), until));
    }

    /// Fetches the JWKS (at start): a failure is logged and retried when a token needs it.
    pub async fn warm(&self) {
        self.keys.warm().await;
    }

    /// The caller `token` stands for at `now` (seconds since the epoch), or exactly why
    /// it is refused.
    pub async fn verify(&self, token: &str, now: i64) -> Result<Identity, String> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(format!("the token is longer than {MAX_TOKEN_BYTES} bytes"));
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some((identity, until)) = self.remembered().get(&digest)
            && *until > Instant::now()
        {
            return Ok(identity.clone());
        }
        let mut parts = token.split('.');
        let (Some(head), Some(body), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("not a JWT: a JWT has three parts separated by dots".into());
        };
        let header = object(head, "header")?;
        let alg_name = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or("the header names no algorithm (`alg`)")?;
        let alg = algorithm(alg_name)?;
        if !self.settings.algorithms.contains(&alg) {
            return Err(format!(
                "signed with {alg_name}, which auth.algorithms does not accept"
            ));
        }
        if self.settings.require_type {
            let typ = header.get("typ").and_then(Value::as_str).unwrap_or("");
            let typ = typ.strip_prefix("application/").unwrap_or(typ);
            if !typ.eq_ignore_ascii_case("at+jwt") {
                return Err(format!(
                    "its type (`typ`) is `{}`, not `at+jwt` (auth.require-jwt-type)",
                    crate::text::clip(typ)
                ));
            }
        }
        if header.get("crit").is_some() {
            return Err("the header has critical extensions (`crit`) pier does not know".into());
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.as_str()),
            Some(_) => return Err("the header's `kid` is not a string".into()),
        };
        let keys = self.keys.candidates(kid, alg).await;
        if keys.is_empty() {
            return Err(match kid {
                Some(kid) => format!(
                    "no {alg_name} key with kid `{}` (after fetching the JWKS again, unless it was fetched in the last {} s)",
                    crate::text::clip(kid),
                    self.settings.jwks_min_refresh.as_secs()
                ),
                None => format!("no {alg_name} key to verify it with"),
            });
        }
        let signed = &token[..head.len() + 1 + body.len()];
        let verified = keys.iter().any(|key| {
            jsonwebtoken::crypto::verify(signature, signed.as_bytes(), &key.decoding, alg)
                .unwrap_or(false)
        });
        if !verified {
            return Err("the signature does not verify".into());
        }
        let claims = object(body, "payload")?;
        let identity = self.identity(&claims, now)?;
        self.remember(digest, &identity, now);
        Ok(identity)
    }

    /// The identity of verified `claims`, if they hold at `now`.
    fn identity(
        &self,
        claims: &serde_json::Map<String, Value>,
        now: i64,
    ) -> Result<Identity, String> {
        let s = &self.settings;
        let leeway = i64::try_from(s.leeway).unwrap_or(i64::MAX);
        let time = |name: &str| -> Result<Option<i64>, String> {
            match claims.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_f64()
                    .filter(|t| t.is_finite())
                    .map(|t| Some(t as i64))
                    .ok_or_else(|| format!("the `{name}` claim is not a number")),
            }
        };
        let expires = time("exp")?.ok_or("the token has no expiry (`exp`)")?;
        if now > expires.saturating_add(leeway) {
            return Err(format!(
                "expired at {} ({} s ago)",
                when(expires),
                now.saturating_sub(expires)
            ));
        }
        if let Some(not_before) = time("nbf")?
            && now.saturating_add(leeway) < not_before
        {
            return Err(format!(
                "not valid before {} (in {} s)",
                when(not_before),
                not_before.saturating_sub(now)
            ));
        }
        match claims.get("iss").and_then(Value::as_str) {
            Some(issuer) if issuer == s.issuer => {}
            Some(issuer) => {
                return Err(format!(
                    "issued by `{}`, not by auth.issuer `{}`",
                    crate::text::clip(issuer),
                    s.issuer
                ));
            }
            None => return Err("the token names no issuer (`iss`)".into()),
        }
        let audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => return Err("the token names no audience (`aud`)".into()),
        };
        if !audiences.contains(&s.audience.as_str()) {
            return Err(format!(
                "meant for `{}`, not for this server (`{}`)",
                crate::text::clip(&audiences.join(" ")),
                s.audience
            ));
        }
        let subject = claims
            .get(&s.subject_claim)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty() && v.len() <= MAX_SUBJECT_BYTES)
            .ok_or_else(|| {
                format!(
                    "no subject: the `{}` claim is not a string of 1 to {MAX_SUBJECT_BYTES} bytes",
                    s.subject_claim
                )
            })?;
        let scopes: Vec<String> = match claims.get(&s.scopes_claim) {
            None => Vec::new(),
            Some(Value::String(text)) => text.split_whitespace().map(str::to_string).collect(),
            Some(Value::Array(list)) => list
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| format!("the `{}` claim lists a non-string", s.scopes_claim))?,
            Some(_) => {
                return Err(format!(
                    "the `{}` claim is neither a string nor a list",
                    s.scopes_claim
                ));
            }
        };
        if scopes.len() > MAX_SCOPES {
            return Err(format!("more than {MAX_SCOPES} scopes"));
        }
        Ok(Identity {
            subject: subject.to_string(),
            scopes,
            expires: Some(expires),
        })
    }
}

/// The JSON object base64url `part` of a token encodes.
fn object(part: &str, what: &str) -> Result<serde_json::Map<String, Value>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| format!("the {what} is not base64url"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(format!("the {what} is not a JSON object")),
    }
}

/// `t` (seconds since the epoch) in RFC 3339.
pub fn when(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map_or_else(
        || t.to_string(),
        |d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}
