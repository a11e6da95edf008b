//! The public keys JWT access tokens are verified with: PEM files named by
//! `auth.public-keys` (read once, at start) and the JSON Web Key Set at `auth.jwks-url`.
//!
//! The JWKS is fetched at start and cached. A token naming a `kid` the cache does not
//! hold triggers one refetch (key rotation), at most once per `jwks-min-refresh-seconds`
//! however many such tokens arrive; once the cache is older than `jwks-cache-seconds` it
//! is refetched in the background while the cached keys keep verifying. A fetch that
//! fails (the server down, an answer that is not a key set) keeps the cached keys.
//!
//! Only signing keys pier can verify with are kept: RSA, EC P-256/P-384 and Ed25519.
//! Symmetric (`oct`) keys are never used, so a token signed with HMAC cannot be verified
//! with a key meant for something else.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey};

use crate::runtime::grants::Trust;

/// The most bytes of a JWKS answer or a PEM file.
const MAX_BYTES: usize = 1 << 20;
/// The most keys kept from one key set.
const MAX_KEYS: usize = 64;
/// The longest `kid` a key may have.
const MAX_KID_BYTES: usize = 256;
/// How long one JWKS fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// What kind of key verifies which algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// RS256/384/512, PS256/384/512.
    Rsa,
    /// ES256.
    P256,
    /// ES384.
    P384,
    /// EdDSA.
    Ed25519,
}

impl Family {
    /// The family of key `alg` is verified with; `None` for HMAC.
    pub fn of(alg: Algorithm) -> Option<Self> {
        use Algorithm::*;
        match alg {
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => Some(Self::Rsa),
            ES256 => Some(Self::P256),
            ES384 => Some(Self::P384),
            EdDSA => Some(Self::Ed25519),
            HS256 | HS384 | HS512 => None,
        }
    }
}

/// One public key.
pub struct Key {
    /// The key's `kid`, when it has one.
    pub kid: Option<String>,
    /// The one algorithm the key is for (a JWK's `alg`), when it says.
    pub alg: Option<Algorithm>,
    /// What it verifies.
    pub family: Family,
    /// The key.
    pub decoding: DecodingKey,
}

impl Key {
    /// Whether the key may verify a token signed with `alg`.
    pub fn fits(&self, alg: Algorithm) -> bool {
        Family::of(alg) == Some(self.family) && self.alg.is_none_or(|own| own == alg)
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

/// The key of the PEM file at `path`: an RSA, EC or Ed25519 public key
/// (`-----BEGIN PUBLIC KEY-----`, or PKCS#1 `RSA PUBLIC KEY`).
pub fn read_pem(path: &Path) -> Result<Key, String> {
    use std::io::Read;
    let shown = path.display();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("{shown}: {e}"))?;
    if bytes.len() > MAX_BYTES {
        return Err(format!("{shown}: larger than {MAX_BYTES} bytes"));
    }
    let text = String::from_utf8_lossy(&bytes);
    let (family, decoding) = if let Ok(key) = DecodingKey::from_rsa_pem(&bytes) {
        (Family::Rsa, key)
    } else if let Ok(key) = DecodingKey::from_ed_pem(&bytes) {
        (Family::Ed25519, key)
    } else if let Ok(key) = DecodingKey::from_ec_pem(&bytes) {
        // The curve is the SubjectPublicKeyInfo's parameter; its OID's tail tells them apart
        // (P-256: 1.2.840.10045.3.1.7, P-384: 1.3.132.0.34).
        let p384 = pem_der(&text).is_some_and(|der| {
            der.windows(7)
                .any(|w| w == [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22])
        });
        (if p384 { Family::P384 } else { Family::P256 }, key)
    } else {
        return Err(format!(
            "{shown}: not a PEM public key pier verifies with (RSA, EC P-256/P-384 or Ed25519)"
        ));
    };
    Ok(Key {
        kid: None,
        alg: None,
        family,
        decoding,
    })
}

/// The DER inside the first PEM block of `text`.
fn pem_der(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// The keys of a JSON Web Key Set: those pier verifies with, and how many others it
/// skipped. Not a key set at all is an error.
pub fn parse_set(bytes: &[u8]) -> Result<(Vec<Key>, usize), String> {
    let set: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let Some(keys) = set.get("keys").and_then(|k| k.as_array()) else {
        return Err("not a JSON Web Key Set (no \"keys\" list)".into());
    };
    let mut usable = Vec::new();
    let mut skipped = 0;
    for jwk in keys {
        match (usable.len() < MAX_KEYS).then(|| parse_jwk(jwk)).flatten() {
            Some(key) => usable.push(key),
            None => skipped += 1,
        }
    }
    Ok((usable, skipped))
}

/// A signing key pier verifies with, or `None` for any other (encryption keys,
/// symmetric keys, unknown curves, malformed ones).
fn parse_jwk(jwk: &serde_json::Value) -> Option<Key> {
    let text = |name: &str| jwk.get(name).and_then(|v| v.as_str());
    if text("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let alg = match text("alg") {
        Some(name) => Some(name.parse::<Algorithm>().ok()?),
        None => None,
    };
    let (family, decoding) = match (text("kty")?, text("crv")) {
        ("RSA", _) => (
            Family::Rsa,
            DecodingKey::from_rsa_components(text("n")?, text("e")?).ok()?,
        ),
        ("EC", Some(curve @ ("P-256" | "P-384"))) => {
            let length = if curve == "P-256" { 32 } else { 48 };
            let (x, y) = (decoded(text("x")?)?, decoded(text("y")?)?);
            if x.len() != length || y.len() != length {
                return None;
            }
            let family = if length == 32 {
                Family::P256
            } else {
                Family::P384
            };
            (
                family,
                DecodingKey::from_ec_components(text("x")?, text("y")?).ok()?,
            )
        }
        ("OKP", Some("Ed25519")) => {
            if decoded(text("x")?)?.len() != 32 {
                return None;
            }
            (
                Family::Ed25519,
                DecodingKey::from_ed_components(text("x")?).ok()?,
            )
        }
        _ => return None,
    };
    let kid = text("kid");
    if kid.is_some_and(|k| k.len() > MAX_KID_BYTES) {
        return None;
    }
    let key = Key {
        kid: kid.map(str::to_string),
        alg,
        family,
        decoding,
    };
    // A key whose own `alg` is of another family (an RSA key "for" ES256) is unusable.
    alg.is_none_or(|a| key.fits(a)).then_some(key)
}

fn decoded(b64: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .ok()
}

/// The keys a token is verified with: the PEM files' and the cached JWKS's.
pub struct KeySet {
    pems: Vec<Arc<Key>>,
    remote: Option<Arc<Remote>>,
}

/// The JWKS at a URL, and its cache.
struct Remote {
    url: String,
    trust: Trust,
    min_refresh: Duration,
    max_age: Duration,
    cached: Mutex<Cached>,
    /// Held by the one fetch under way.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Cached {
    keys: Vec<Arc<Key>>,
    /// When the keys were fetched.
    fetched: Option<Instant>,
    /// When a fetch last started, successful or not.
    attempted: Option<Instant>,
}

/// Where the keys come from.
pub struct Sources<'a> {
    /// PEM files.
    pub public_keys: &'a [PathBuf],
    /// A JWKS URL.
    pub jwks_url: Option<&'a str>,
    /// Whom the JWKS server's certificate is checked against.
    pub trust: Trust,
    /// The least time between two fetches of the JWKS.
    pub min_refresh: Duration,
    /// How long fetched keys are used before they are refetched.
    pub max_age: Duration,
}

impl KeySet {
    /// Reads the PEM files (one that cannot be read is an error) and prepares the JWKS,
    /// fetched by [`KeySet::warm`] or when a token first needs it.
    pub fn new(sources: Sources<'_>) -> Result<Self, String> {
        let pems = sources
            .public_keys
            .iter()
            .map(|path| read_pem(path).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let remote = sources.jwks_url.map(|url| {
            Arc::new(Remote {
                url: url.to_string(),
                trust: sources.trust,
                min_refresh: sources.min_refresh,
                max_age: sources.max_age,
                cached: Mutex::default(),
                fetching: tokio::sync::Mutex::new(()),
            })
        });
        Ok(Self { pems, remote })
    }

    /// Fetches the JWKS; a failure is logged (tokens wait for a later fetch).
    pub async fn warm(&self) {
        if let Some(remote) = &self.remote
            && let Err(e) = remote.refresh(None).await
        {
            tracing::warn!("auth.jwks-url: {e} (tokens are refused until it can be fetched)");
        }
    }

    /// The keys that may verify a token signed with `alg` naming `kid` (a key without a
    /// kid, as a PEM file's, may verify any). A `kid` none of the JWKS's keys has
    /// refetches the JWKS (unless it was fetched too recently).
    pub async fn candidates(&self, kid: Option<&str>, alg: Algorithm) -> Vec<Arc<Key>> {
        let matching = |keys: &[Arc<Key>]| -> Vec<Arc<Key>> {
            keys.iter()
                .filter(|k| {
                    k.fits(alg) && (k.kid.is_none() || kid.is_none() || k.kid.as_deref() == kid)
                })
                .cloned()
                .collect()
        };
        let mut found = matching(&self.pems);
        let Some(remote) = &self.remote else {
            return found;
        };
        let (keys, stale) = remote.snapshot();
        if stale {
            let remote = remote.clone();
            tokio::spawn(async move {
                if let Err(e) = remote.refresh(Some(remote.min_refresh)).await {
                    tracing::warn!("auth.jwks-url: {e} (the cached keys keep verifying)");
                }
            });
        }
        let from_jwks = matching(&keys);
        if from_jwks.is_empty() && (kid.is_some() || keys.is_empty()) {
            if let Err(e) = remote.refresh(Some(remote.min_refresh)).await {
                tracing::warn!("auth.jwks-url: {e} (the cached keys keep verifying)");
            }
            // Fetched now, or by a concurrent request this one waited for.
            found.extend(matching(&remote.snapshot().0));
        } else {
            found.extend(from_jwks);
        }
        found
    }
}

impl Remote {
    fn lock(&self) -> MutexGuard<'_, Cached> {
        self.cached.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached keys, and whether they are older than their maximum age.
    fn snapshot(&self) -> (Vec<Arc<Key>>, bool) {
        let cached = self.lock();
        let stale = cached.fetched.is_some_and(|t| t.elapsed() >= self.max_age)
            && cached
                .attempted
                .is_none_or(|t| t.elapsed() >= self.min_refresh);
        (cached.keys.clone(), stale)
    }

    /// Fetches the JWKS, unless one was attempted less than `not_within` ago; whether it
    /// fetched. A failure keeps the cached keys.
    async fn refresh(&self, not_within: Option<Duration>) -> Result<bool, String> {
        let _one = self.fetching.lock().await;
        {
            let mut cached = self.lock();
            if let (Some(window), Some(at)) = (not_within, cached.attempted)
                && at.elapsed() < window
            {
                return Ok(false);
            }
            cached.attempted = Some(Instant::now());
        }
        let bytes = tokio::time::timeout(
            FETCH_TIMEOUT,
            super::fetch::get(&self.url, &self.trust, MAX_BYTES),
        )
        .await
        .map_err(|_| format!("{}: no answer within {FETCH_TIMEOUT:?}", self.url))??;
        let (keys, skipped) = parse_set(&bytes).map_err(|e| format!("{}: {e}", self.url))?;
        if keys.is_empty() {
            return Err(format!(
                "{}: no signing key pier verifies with ({skipped} skipped)",
                self.url
            ));
        }
        tracing::info!(
            url = %self.url,
            keys = keys.len(),
            skipped,
            "fetched the JWKS"
        );
        let mut cached = self.lock();
        cached.keys = keys.into_iter().map(Arc::new).collect();
        cached.fetched = Some(Instant::now());
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn only_signing_keys_pier_verifies_with_are_kept() {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let point = pair.public_key_raw();
        let (x, y) = (b64(&point[1..33]), b64(&point[33..65]));
        let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let ec = |extra: serde_json::Value| {
            let mut key = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y});
            key.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            key
        };
        let set = json!({"keys": [
            ec(json!({"kid": "ok", "use": "sig", "alg": "ES256"})),
            {"kty": "OKP", "crv": "Ed25519", "x": b64(ed.public_key_raw()), "kid": "ed"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            ec(json!({"kid": "enc", "use": "enc"})),
            ec(json!({"kid": "mislabelled", "alg": "RS256"})),
            ec(json!({"kid": "k".repeat(MAX_KID_BYTES + 1)})),
            {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": y, "kid": "short"},
            {"kty": "EC", "crv": "secp256k1", "x": x, "y": y},
            {"kty": "OKP", "crv": "X25519", "x": b64(ed.public_key_raw())},
            {"kty": "RSA", "kid": "no-n", "e": "AQAB"},
            "not an object",
        ]});
        let (keys, skipped) = parse_set(set.to_string().as_bytes()).unwrap();
        let kept: Vec<_> = keys.iter().map(|k| (k.kid.as_deref(), k.family)).collect();
        assert_eq!(
            kept,
            [(Some("ok"), Family::P256), (Some("ed"), Family::Ed25519)]
        );
        assert_eq!(skipped, 9);
        assert!(keys[0].fits(Algorithm::ES256));
        assert!(!keys[0].fits(Algorithm::ES384));
        assert!(!keys[0].fits(Algorithm::HS256));
        assert!(keys[1].fits(Algorithm::EdDSA));

        assert_eq!(
            parse_set(b"[]").err().as_deref(),
            Some("not a JSON Web Key Set (no \"keys\" list)")
        );
        assert!(parse_set(b"{").unwrap_err().starts_with("not JSON: "));
    }
}
