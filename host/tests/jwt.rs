//! `[auth] mode = "jwt"` over real HTTP, with RSA, EC and Ed25519 keys generated here and
//! a JWKS served by a local HTTP server: valid tokens of each kind are served; expired,
//! premature, foreign (issuer, audience), unsigned, HMAC-confused, tampered and malformed
//! ones are answered 401 naming the reason, never 500; key rotation refetches the JWKS
//! at most once per `jwks-min-refresh-seconds`, and a JWKS outage keeps the cached keys.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const ISSUER: &str = "http://issuer.test";
const RESOURCE: &str = "http://pier.test/mcp";
const METADATA: &str = "http://pier.test/.well-known/oauth-protected-resource/mcp";

/// A private key the tests sign with, and its public halves.
struct Signer {
    kid: String,
    alg: Algorithm,
    key: EncodingKey,
    jwk: Value,
    public_pem: String,
}

fn rsa(kid: &str) -> Signer {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    use rsa::traits::PublicKeyParts;
    let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let public = private.to_public_key();
    let pem = private.to_pkcs8_pem(LineEnding::LF).unwrap();
    Signer {
        kid: kid.into(),
        alg: Algorithm::RS256,
        key: EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        jwk: json!({
            "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": B64.encode(public.n().to_bytes_be()),
            "e": B64.encode(public.e().to_bytes_be()),
        }),
        public_pem: public.to_public_key_pem(LineEnding::LF).unwrap(),
    }
}

fn ec(kid: &str) -> Signer {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let point = pair.public_key_raw();
    Signer {
        kid: kid.into(),
        alg: Algorithm::ES256,
        key: EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap(),
        jwk: json!({
            "kty": "EC", "kid": kid, "crv": "P-256",
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
        }),
        public_pem: pair.public_key_pem(),
    }
}

fn ed25519(kid: &str) -> Signer {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    Signer {
        kid: kid.into(),
        alg: Algorithm::EdDSA,
        key: EncodingKey::from_ed_pem(pair.serialize_pem().as_bytes()).unwrap(),
        jwk: json!({
            "kty": "OKP", "kid": kid, "crv": "Ed25519",
            "x": B64.encode(pair.public_key_raw()),
        }),
        public_pem: pair.public_key_pem(),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims pier accepts: `subject`, scopes `tools:read calc`, an hour left; each set
/// with a `jti` of its own, so no two tokens are the same (pier remembers tokens it
/// verified).
fn claims(subject: &str) -> Value {
    static ISSUED: AtomicUsize = AtomicUsize::new(0);
    json!({
        "iss": ISSUER, "aud": RESOURCE, "sub": subject,
        "exp": now() + 3600, "iat": now(), "scope": "tools:read calc",
        "jti": ISSUED.fetch_add(1, Ordering::SeqCst).to_string(),
    })
}

impl Signer {
    /// `claims` signed, the header naming this key's kid.
    fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    /// `claims` signed without a kid.
    fn sign_without_kid(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(self.alg), claims, &self.key).unwrap()
    }
}

/// A JWKS served over HTTP on loopback: what it serves can change, it can go down, and
/// it counts the fetches.
struct Jwks {
    url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    down: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
}

impl Jwks {
    async fn serve(keys: Vec<Value>) -> Self {
        let keys = Arc::new(Mutex::new(keys));
        let down = Arc::new(AtomicBool::new(false));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (k, d, f) = (keys.clone(), down.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let (k, d, f) = (k.clone(), d.clone(), f.clone());
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    if d.load(Ordering::SeqCst) {
                        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, String::new());
                    }
                    let body = json!({ "keys": *k.lock().unwrap() });
                    (axum::http::StatusCode::OK, body.to_string())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/jwks.json"),
            keys,
            down,
            fetches,
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// `[auth]` in jwt mode with `keys` (`jwks-url = …` and/or `public-keys = […]`), then
/// `extra` lines of `[auth]`, then `more` of `pier.toml`.
fn jwt_file(keys: &str, extra: &str, more: &str) -> String {
    format!(
        "[auth]\nmode = \"jwt\"\nresource = \"{RESOURCE}\"\nissuer = \"{ISSUER}\"\nauthorization-servers = [\"{ISSUER}\"]\n{keys}\n{extra}\n{more}"
    )
}

async fn jwt_server(dir: &PluginDir, text: &str) -> Server {
    let configured = configured(text).unwrap();
    Server::start_with(pier::ServeConfig {
        auth: configured.auth,
        admin_token: configured.admin_token,
        ..dir.config()
    })
    .await
}

/// The status and body of an `initialize` sent with `token`.
async fn initialize(server: &Server, token: &str) -> (u16, Value, String) {
    let answer = post(&server.url, INIT)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let challenge = answer
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = answer.text().await.unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
        challenge,
    )
}

/// Asserts `token` is answered 401 `invalid_token` because of `reason` (a prefix).
async fn assert_refused(server: &Server, token: &str, reason: &str) {
    let (status, body, challenge) = initialize(server, token).await;
    assert_eq!(status, 401, "{reason}: {body}");
    assert_eq!(
        challenge,
        format!("Bearer resource_metadata=\"{METADATA}\", error=\"invalid_token\"")
    );
    let message = body["error"].as_str().unwrap_or_default();
    let expected = format!("the bearer token is not valid here: {reason}");
    assert!(
        message.starts_with(&expected),
        "{message}\nexpected: {expected}"
    );
}

async fn assert_served(server: &Server, token: &str) {
    let (status, body, _) = initialize(server, token).await;
    assert_eq!(status, 200, "{body}");
}

/// A token whose parts are `header` and `claims` as given, and `signature`.
fn forged(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    )
}

#[tokio::test]
async fn tokens_of_each_key_type_are_served_and_bad_ones_refused_naming_why() {
    let (rsa, ec, ed) = (rsa("rsa-1"), ec("ec-1"), ed25519("ed-1"));
    let jwks = Jwks::serve(vec![rsa.jwk.clone(), ec.jwk.clone(), ed.jwk.clone()]).await;
    let dir = PluginDir::examples().with(&fixture("hostile"), "hostile");
    let server = jwt_server(
        &dir,
        &jwt_file(&format!("jwks-url = \"{}\"", jwks.url), "", ""),
    )
    .await;
    assert_eq!(jwks.fetches(), 1, "fetched at start");

    for signer in [&rsa, &ec, &ed] {
        let token = signer.sign(&claims("alice"));
        assert_served(&server, &token).await;
        // The plugin sees the token's subject and scopes.
        let client = client_with(&server, &token).await;
        let result = client
            .peer()
            .call_tool(rmcp::model::CallToolRequestParams::new("hostile_whoami"))
            .await
            .unwrap();
        assert!(
            text(&result).ends_with(" subject=alice scopes=tools:read,calc"),
            "{:?}: {}",
            signer.alg,
            text(&result)
        );
        client.cancel().await.unwrap();
    }
    // A list of scopes (`scp`-style) and an audience list naming this server.
    let mut listed = claims("bob");
    listed["scope"] = json!(["a", "b"]);
    listed["aud"] = json!(["http://other.test", RESOURCE]);
    assert_served(&server, &ec.sign(&listed)).await;

    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims("alice");
        change(&mut c);
        c
    };
    let expired = with(&|c| c["exp"] = json!(now() - 120));
    assert_refused(&server, &rsa.sign(&expired), "expired at 20").await;
    // Within the leeway (30 s), a token just expired still serves.
    assert_served(&server, &rsa.sign(&with(&|c| c["exp"] = json!(now() - 5)))).await;
    let premature = with(&|c| c["nbf"] = json!(now() + 3600));
    assert_refused(&server, &ed.sign(&premature), "not valid before 20").await;
    let foreign = with(&|c| c["iss"] = json!("http://evil.test"));
    assert_refused(
        &server,
        &ec.sign(&foreign),
        "issued by `http://evil.test`, not by auth.issuer `http://issuer.test`",
    )
    .await;
    // A token minted for another resource is not accepted here (no passthrough).
    let elsewhere = with(&|c| c["aud"] = json!("http://other.test/mcp"));
    assert_refused(
        &server,
        &rsa.sign(&elsewhere),
        "meant for `http://other.test/mcp`, not for this server (`http://pier.test/mcp`)",
    )
    .await;
    let forever = with(&|c| {
        c.as_object_mut().unwrap().remove("exp");
    });
    assert_refused(
        &server,
        &rsa.sign(&forever),
        "the token has no expiry (`exp`)",
    )
    .await;
    let nobody = with(&|c| c["sub"] = json!(""));
    assert_refused(
        &server,
        &rsa.sign(&nobody),
        "no subject: the `sub` claim is not a string of 1 to 1024 bytes",
    )
    .await;

    // Unsigned, and HMAC "signed" with the RSA key's public PEM as the secret.
    let unsigned = forged(
        &json!({"alg": "none", "typ": "JWT"}),
        &claims("mallory"),
        "",
    );
    assert_refused(
        &server,
        &unsigned,
        "`none` (an unsigned token) is never accepted",
    )
    .await;
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("rsa-1".into());
    let confused = jsonwebtoken::encode(
        &hs,
        &claims("mallory"),
        &EncodingKey::from_secret(rsa.public_pem.as_bytes()),
    )
    .unwrap();
    assert_refused(
        &server,
        &confused,
        "HS256: HMAC needs a shared secret, and pier verifies with public keys only",
    )
    .await;
    // Another's claims under alice's signature.
    let good = rsa.sign(&claims("alice"));
    let other = rsa.sign(&claims("mallory"));
    let mut spliced: Vec<&str> = other.split('.').collect();
    spliced[2] = good.split('.').nth(2).unwrap();
    assert_refused(&server, &spliced.join("."), "the signature does not verify").await;
    // A key of one family never verifies another's algorithm.
    let rs384 = {
        let mut header = Header::new(Algorithm::RS384);
        header.kid = Some("rsa-1".into());
        jsonwebtoken::encode(&header, &claims("alice"), &rsa.key).unwrap()
    };
    assert_refused(
        &server,
        &rs384,
        "signed with RS384, which auth.algorithms does not accept",
    )
    .await;
    let ec_named_as_rsa = ec.sign_as("rsa-1", &claims("alice"));
    assert_refused(&server, &ec_named_as_rsa, "no ES256 key with kid `rsa-1`").await;

    // Malformed tokens of every shape.
    let claims_part = B64.encode(claims("x").to_string());
    for (token, reason) in [
        (
            "abc".to_string(),
            "not a JWT: a JWT has three parts separated by dots",
        ),
        (
            "a.b".to_string(),
            "not a JWT: a JWT has three parts separated by dots",
        ),
        (
            format!("{good}.x"),
            "not a JWT: a JWT has three parts separated by dots",
        ),
        ("..".to_string(), "the header is not a JSON object"),
        (
            format!("!!!.{claims_part}.x"),
            "the header is not base64url",
        ),
        (
            format!("{}.{claims_part}.x", B64.encode("not json")),
            "the header is not a JSON object",
        ),
        (
            format!("{}.{claims_part}.x", B64.encode("[1]")),
            "the header is not a JSON object",
        ),
        (
            format!("{}.{claims_part}.x", B64.encode(r#"{"alg":7}"#)),
            "the header names no algorithm (`alg`)",
        ),
        (
            format!("{}.{claims_part}.x", B64.encode(r#"{"alg":"XS999"}"#)),
            "XS999: not one of",
        ),
        (
            format!(
                "{}.{claims_part}.x",
                B64.encode(r#"{"alg":"RS256","kid":5}"#)
            ),
            "the header's `kid` is not a string",
        ),
        (
            format!(
                "{}.{claims_part}.x",
                B64.encode(r#"{"alg":"RS256","crit":["exp"]}"#)
            ),
            "the header has critical extensions",
        ),
        (
            format!(
                "{}.{claims_part}.x",
                B64.encode(format!(r#"{{"alg":"RS256","x":"{}"}}"#, "y".repeat(20_000)))
            ),
            "the token is longer than 16384 bytes",
        ),
        (
            format!(
                "{}.!!!.{}",
                good.split('.').next().unwrap(),
                good.split('.').nth(2).unwrap()
            ),
            "the signature does not verify",
        ),
    ] {
        assert_refused(&server, &token, reason).await;
    }
    // A signed payload that is not JSON.
    let header = B64.encode(json!({"alg": "EdDSA", "kid": "ed-1"}).to_string());
    let body = B64.encode("not json");
    let message = format!("{header}.{body}");
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &ed.key, Algorithm::EdDSA).unwrap();
    assert_refused(
        &server,
        &format!("{message}.{signature}"),
        "the payload is not a JSON object",
    )
    .await;

    // Nothing broke: every kind still serves, and the JWKS was fetched once.
    for signer in [&rsa, &ec, &ed] {
        assert_served(&server, &signer.sign(&claims("alice"))).await;
    }
    assert_eq!(jwks.fetches(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_jwks_at_most_once_per_interval_and_an_outage_keeps_the_keys()
{
    let (first, second) = (rsa("rsa-1"), rsa("rsa-2"));
    let jwks = Jwks::serve(vec![first.jwk.clone()]).await;
    let dir = PluginDir::examples();
    let server = jwt_server(
        &dir,
        &jwt_file(
            &format!("jwks-url = \"{}\"", jwks.url),
            "jwks-min-refresh-seconds = 4",
            "",
        ),
    )
    .await;
    assert_eq!(jwks.fetches(), 1);
    assert_served(&server, &first.sign(&claims("alice"))).await;

    // The issuer rotates to a new key. Within the interval of the fetch at start, a
    // token naming it is refused without a fetch.
    jwks.keys.lock().unwrap().push(second.jwk.clone());
    let rotated = second.sign(&claims("alice"));
    assert_refused(&server, &rotated, "no RS256 key with kid `rsa-2`").await;
    assert_eq!(jwks.fetches(), 1);
    // After it, the first token naming the new key fetches the set once, and is served.
    tokio::time::sleep(std::time::Duration::from_millis(4200)).await;
    assert_served(&server, &rotated).await;
    assert_eq!(jwks.fetches(), 2);
    // Tokens naming keys nobody has, one after another: no further fetch.
    for ghost in ["ghost-1", "ghost-2", "ghost-3"] {
        assert_refused(
            &server,
            &first.sign_as(ghost, &claims("alice")),
            &format!("no RS256 key with kid `{ghost}`"),
        )
        .await;
    }
    assert_eq!(jwks.fetches(), 2);

    // The JWKS server goes down: the cached keys keep verifying, also after a failed
    // fetch.
    jwks.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(4200)).await;
    assert_served(&server, &first.sign(&claims("alice"))).await;
    assert_refused(
        &server,
        &first.sign_as("ghost-4", &claims("alice")),
        "no RS256 key with kid `ghost-4`",
    )
    .await;
    assert_eq!(jwks.fetches(), 3);
    assert_served(&server, &second.sign(&claims("alice"))).await;
    assert_served(&server, &first.sign(&claims("alice"))).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_verified_token_is_remembered_even_once_its_key_is_gone() {
    let (old, new) = (ec("ec-1"), ec("ec-2"));
    let jwks = Jwks::serve(vec![old.jwk.clone()]).await;
    let server = jwt_server(
        &PluginDir::examples(),
        &jwt_file(
            &format!("jwks-url = \"{}\"", jwks.url),
            "jwks-min-refresh-seconds = 1",
            "",
        ),
    )
    .await;
    let token = old.sign(&claims("alice"));
    assert_served(&server, &token).await;
    // The issuer replaces its key; a token of the new one makes pier refetch the set.
    *jwks.keys.lock().unwrap() = vec![new.jwk.clone()];
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_served(&server, &new.sign(&claims("bob"))).await;
    assert_eq!(jwks.fetches(), 2);
    // The old token, verified before, is still taken (for a minute at most) ...
    assert_served(&server, &token).await;
    // ... and refused once forgotten: its key is gone; a new token of the old key too.
    server.app.verifier().forget_verified();
    assert_refused(&server, &token, "no ES256 key with kid `ec-1`").await;
    assert_refused(
        &server,
        &old.sign(&claims("alice")),
        "no ES256 key with kid `ec-1`",
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn keys_older_than_the_cache_age_are_refetched_in_the_background() {
    let signer = ec("ec-1");
    let jwks = Jwks::serve(vec![signer.jwk.clone()]).await;
    let server = jwt_server(
        &PluginDir::examples(),
        &jwt_file(
            &format!("jwks-url = \"{}\"", jwks.url),
            "jwks-cache-seconds = 1\njwks-min-refresh-seconds = 1",
            "",
        ),
    )
    .await;
    assert_eq!(jwks.fetches(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_served(&server, &signer.sign(&claims("alice"))).await;
    wait_until("the stale JWKS is refetched", || jwks.fetches() >= 2).await;
    // Down: the refetch fails, the cached key serves on.
    jwks.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let before = jwks.fetches();
    assert_served(&server, &signer.sign(&claims("alice"))).await;
    wait_until("a refetch is tried", || jwks.fetches() > before).await;
    assert_served(&server, &signer.sign(&claims("alice"))).await;
    server.shutdown().await;
}

#[tokio::test]
async fn pem_public_keys_verify_tokens_without_a_jwks() {
    let (rsa, ec, ed) = (rsa("a"), ec("b"), ed25519("c"));
    let keys = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, signer) in [("rsa", &rsa), ("ec", &ec), ("ed", &ed)] {
        let path = keys.path().join(format!("{name}.pem"));
        std::fs::write(&path, &signer.public_pem).unwrap();
        paths.push(format!("\"{}\"", path.display()));
    }
    let server = jwt_server(
        &PluginDir::examples(),
        &jwt_file(
            &format!("public-keys = [{}]", paths.join(", ")),
            "algorithms = [\"RS256\", \"ES256\", \"EdDSA\", \"PS256\"]",
            "",
        ),
    )
    .await;
    for signer in [&rsa, &ec, &ed] {
        // PEM keys have no kid: they verify tokens naming one and tokens naming none.
        assert_served(&server, &signer.sign_without_kid(&claims("alice"))).await;
        assert_served(&server, &signer.sign(&claims("alice"))).await;
    }
    let ps256 =
        jsonwebtoken::encode(&Header::new(Algorithm::PS256), &claims("alice"), &rsa.key).unwrap();
    assert_served(&server, &ps256).await;
    // Another RSA key's token does not verify with the configured one.
    let stranger = self::rsa("a").sign_without_kid(&claims("alice"));
    assert_refused(&server, &stranger, "the signature does not verify").await;
    server.shutdown().await;
}

#[test]
fn jwt_settings_that_cannot_work_are_errors_naming_them() {
    let keys = tempfile::tempdir().unwrap();
    let not_a_key = keys.path().join("cert.txt");
    std::fs::write(&not_a_key, "hello").unwrap();
    let missing = keys.path().join("absent.pem");
    let base = format!("[auth]\nmode = \"jwt\"\nresource = \"{RESOURCE}\"\n");
    for (text, error) in [
        (
            format!("{base}jwks-url = \"http://127.0.0.1:9/jwks\"\n"),
            "default: auth.issuer: needed when auth.mode is jwt: the `iss` of the tokens, e.g. \"https://auth.example.com\"".to_string(),
        ),
        (
            format!("{base}issuer = \"{ISSUER}\"\n"),
            "pier.toml: auth.mode: jwt needs keys: auth.jwks-url and/or auth.public-keys".to_string(),
        ),
        (
            format!("{base}issuer = \"{ISSUER}\"\njwks-url = \"ftp://x/jwks\"\n"),
            "pier.toml: auth.jwks-url: ftp://x/jwks: not an http(s) URL".to_string(),
        ),
        (
            format!("{base}issuer = \"{ISSUER}\"\njwks-url = \"https://x/\"\nalgorithms = [\"RS256\", \"HS256\"]\n"),
            "pier.toml: auth.algorithms: HS256: HMAC needs a shared secret, and pier verifies with public keys only".to_string(),
        ),
        (
            format!("{base}issuer = \"{ISSUER}\"\njwks-url = \"https://x/\"\nalgorithms = [\"none\"]\n"),
            "pier.toml: auth.algorithms: `none` (an unsigned token) is never accepted".to_string(),
        ),
        (
            format!("{base}issuer = \"{ISSUER}\"\njwks-url = \"https://x/\"\nalgorithms = []\n"),
            "pier.toml: auth.algorithms: no algorithm left to verify with".to_string(),
        ),
        (
            format!("{base}issuer = \"{ISSUER}\"\npublic-keys = [\"{}\"]\n", not_a_key.display()),
            format!("pier.toml: auth.public-keys: {}: not a PEM public key pier verifies with (RSA, EC P-256/P-384 or Ed25519)", not_a_key.display()),
        ),
        (
            format!("{base}issuer = \"{ISSUER}\"\npublic-keys = [\"{}\"]\n", missing.display()),
            format!("pier.toml: auth.public-keys: {}: No such file or directory (os error 2)", missing.display()),
        ),
        (
            format!("{base}issuer = \"{ISSUER}\"\njwks-url = \"https://x/\"\nopen-endpoints = [\"/health\", \"/admin\"]\n"),
            "pier.toml: auth.open-endpoints: /admin: only /health, /ready and /metrics can be opened".to_string(),
        ),
        (
            format!("{base}issuer = \"{ISSUER}\"\njwks-url = \"https://x/\"\nrequired-scopes = [\"a b\"]\n"),
            "pier.toml: auth.required-scopes: \"a b\": a scope is a word without spaces, quotes or backslashes".to_string(),
        ),
        (
            format!("{base}issuer = \"{ISSUER}\"\njwks-url = \"http://auth.example.com/jwks\"\n"),
            "pier.toml: auth.jwks-url: http://auth.example.com/jwks: plain http beyond loopback, where anyone on the path could hand pier signing keys: use https (or set auth.jwks-allow-http on a network you trust)".to_string(),
        ),
        (
            format!("{base}issuer = \"{ISSUER}\"\njwks-url = \"http://10.0.0.1:8080/jwks\"\n"),
            "pier.toml: auth.jwks-url: http://10.0.0.1:8080/jwks: plain http beyond loopback, where anyone on the path could hand pier signing keys: use https (or set auth.jwks-allow-http on a network you trust)".to_string(),
        ),
    ] {
        assert_eq!(configured(&text).err().as_deref(), Some(error.as_str()), "{text}");
    }
    // Plain http to a loopback address, or when the operator says so, is taken.
    for url in [
        "http://127.0.0.1:9/jwks",
        "http://localhost/jwks",
        "http://[::1]:8080/jwks",
    ] {
        let text = format!("{base}issuer = \"{ISSUER}\"\njwks-url = \"{url}\"\n");
        assert!(configured(&text).is_ok(), "{url}");
    }
    let allowed = format!(
        "{base}issuer = \"{ISSUER}\"\njwks-url = \"http://auth.example.com/jwks\"\njwks-allow-http = true\n"
    );
    assert!(configured(&allowed).is_ok());
    // Without authorization-servers, the metadata names the issuer.
    let issuer_only = configured(&format!(
        "{base}issuer = \"{ISSUER}\"\njwks-url = \"https://x/\"\n"
    ))
    .unwrap()
    .auth;
    assert_eq!(issuer_only.authorization_servers, [ISSUER]);
    assert_eq!(
        issuer_only.metadata()["authorization_servers"],
        json!([ISSUER])
    );
}

#[tokio::test]
async fn admin_required_scopes_and_closed_endpoints_answer_403_or_401_as_the_spec_says() {
    let signer = ed25519("ed-1");
    let jwks = Jwks::serve(vec![signer.jwk.clone()]).await;
    let server = jwt_server(
        &PluginDir::examples(),
        &jwt_file(
            &format!("jwks-url = \"{}\"", jwks.url),
            "required-scopes = [\"mcp\"]\nopen-endpoints = [\"/health\"]",
            "",
        ),
    )
    .await;
    let token = |scope: &str| {
        signer.sign(&json!({
            "iss": ISSUER, "aud": RESOURCE, "sub": "alice", "exp": now() + 600, "scope": scope,
        }))
    };

    // /mcp: a valid token without the required scope is 403 insufficient_scope.
    let (status, body, challenge) = initialize(&server, &token("tools:read")).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        challenge,
        format!(
            "Bearer resource_metadata=\"{METADATA}\", error=\"insufficient_scope\", scope=\"mcp\""
        )
    );
    assert_eq!(body, json!({"error": "the token lacks the scope(s) mcp"}));
    assert_served(&server, &token("mcp")).await;

    // /admin: the admin scope (default pier:admin), else 403; no token, 401.
    let get = |path: &str, token: Option<String>| {
        let request = reqwest::Client::new().get(format!("{}{path}", server.base));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
    };
    let admin = |token: Option<String>| get("/admin/mounts", token);
    let answer = admin(Some(token("mcp pier:admin"))).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.json::<Value>().await.unwrap()["mounts"].is_array());
    let answer = admin(Some(token("mcp"))).await.unwrap();
    assert_eq!(answer.status(), 403);
    assert_eq!(
        answer.headers()["www-authenticate"],
        format!("Bearer resource_metadata=\"{METADATA}\", error=\"insufficient_scope\", scope=\"pier:admin\"").as_str()
    );
    let answer = admin(None).await.unwrap();
    assert_eq!(answer.status(), 401);
    assert_eq!(
        answer.headers()["www-authenticate"],
        format!("Bearer resource_metadata=\"{METADATA}\"").as_str()
    );

    // Only /health is open; /ready and /metrics need a valid token (any scope).
    assert_eq!(get("/health", None).await.unwrap().status(), 200);
    for path in ["/ready", "/metrics"] {
        assert_eq!(get(path, None).await.unwrap().status(), 401, "{path}");
        assert_eq!(
            get(path, Some("nonsense".into())).await.unwrap().status(),
            401,
            "{path}"
        );
        assert_eq!(
            get(path, Some(token("tools:read"))).await.unwrap().status(),
            200,
            "{path}"
        );
    }
    let metrics = get("/metrics", Some(token("x")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains(&token("x")[..20]),
        "no token in the metrics"
    );
    server.shutdown().await;
}

#[test]
fn auth_check_explains_a_jwt() {
    let signer = rsa("rsa-1");
    let keys = tempfile::tempdir().unwrap();
    let pem = keys.path().join("issuer.pem");
    std::fs::write(&pem, &signer.public_pem).unwrap();
    let (_dir, config) = config_file(&jwt_file(
        &format!("public-keys = [\"{}\"]", pem.display()),
        "",
        "",
    ));
    let config = config.to_str().unwrap();
    let good = signer.sign_without_kid(&claims("alice"));
    let checked = pier_with_stdin(&["auth", "check", "--config", config, &good], b"");
    let out = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..2],
        ["subject: alice", "scopes: tools:read calc"],
        "{out}"
    );
    assert!(
        lines[2].starts_with("expires: 20") && lines[2].contains("Z (in 3"),
        "{out}"
    );

    let mut old = claims("alice");
    old["exp"] = json!(now() - 3600);
    let expired = signer.sign_without_kid(&old);
    let refused = pier_with_stdin(&["auth", "check", "--config", config, &expired], b"");
    let out = String::from_utf8_lossy(&refused.stdout);
    assert_eq!(refused.status.code(), Some(1), "{out}");
    assert!(
        out.starts_with("refused: expired at 20")
            && (out.contains("(3600 s ago)") || out.contains("(3601 s ago)")),
        "{out}"
    );
    let garbage = pier_with_stdin(&["auth", "check", "--config", config, "garbage"], b"");
    assert_eq!(
        String::from_utf8_lossy(&garbage.stdout),
        "refused: not a JWT: a JWT has three parts separated by dots\n"
    );
}

/// A one-file HTTPS server on loopback answering every request with `body`, its
/// certificate (for 127.0.0.1) issued by a CA of its own; the URL of `/jwks.json` and
/// the CA's PEM.
async fn https_jwks(body: String) -> (String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, SanType};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, body) = (acceptor.clone(), body.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (format!("https://{addr}/jwks.json"), ca.pem())
}

#[tokio::test]
async fn a_jwks_over_https_is_trusted_through_the_configured_certificate_authorities() {
    let signer = rsa("rsa-1");
    let (url, ca) = https_jwks(json!({"keys": [signer.jwk]}).to_string()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let token = signer.sign(&claims("alice"));

    // Trusted through grants.ca-certificates: fetched, and the token verifies.
    let trusted = jwt_file(
        &format!("jwks-url = \"{url}\""),
        "",
        &format!("[grants]\nca-certificates = [\"{}\"]\n", ca_file.display()),
    );
    let configured = configured(&trusted).unwrap();
    let server = Server::start_with(pier::ServeConfig {
        auth: configured.auth,
        grants: configured.grants,
        ..PluginDir::examples().config()
    })
    .await;
    assert_served(&server, &token).await;
    server.shutdown().await;

    // Without the CA the server is not trusted: no keys, the token is refused.
    let server = jwt_server(
        &PluginDir::examples(),
        &jwt_file(&format!("jwks-url = \"{url}\""), "", ""),
    )
    .await;
    assert_refused(&server, &token, "no RS256 key with kid `rsa-1`").await;
    server.shutdown().await;
}

#[tokio::test]
async fn require_jwt_type_takes_access_tokens_only() {
    let rsa = rsa("a");
    let keys = tempfile::tempdir().unwrap();
    let path = keys.path().join("rsa.pem");
    std::fs::write(&path, &rsa.public_pem).unwrap();
    let server = jwt_server(
        &PluginDir::examples(),
        &jwt_file(
            &format!("public-keys = [\"{}\"]", path.display()),
            "require-jwt-type = true",
            "",
        ),
    )
    .await;
    let typed = |typ: Option<&str>| {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = typ.map(str::to_string);
        jsonwebtoken::encode(&header, &claims("alice"), &rsa.key).unwrap()
    };
    assert_served(&server, &typed(Some("at+jwt"))).await;
    assert_served(&server, &typed(Some("application/at+JWT"))).await;
    assert_refused(
        &server,
        &typed(Some("JWT")),
        "its type (`typ`) is `JWT`, not `at+jwt` (auth.require-jwt-type)",
    )
    .await;
    assert_refused(
        &server,
        &typed(None),
        "its type (`typ`) is ``, not `at+jwt` (auth.require-jwt-type)",
    )
    .await;
    server.shutdown().await;
}
