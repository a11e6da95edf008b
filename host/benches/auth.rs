//! Token verification per request, in-process: what `auth.mode = "tokens"` and `"jwt"`
//! (RS256, ES256, EdDSA keys from PEM files) cost before a request reaches the server:
//! a token's first use (signature checked) and its later ones (remembered).
//! Run by `make bench`; results in `target/criterion/auth/`.

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pier::auth::{AuthConfig, Mode, TokenSpec, Verifier, jwt::JwtSettings};
use pier::runtime::grants::Trust;

const RESOURCE: &str = "https://mcp.example.com/mcp";
const ISSUER: &str = "https://auth.example.com";

fn headers(token: &str) -> axum::http::HeaderMap {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        axum::http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    headers
}

/// A private key (PKCS#8 PEM) and its public PEM.
fn keys(alg: Algorithm) -> (EncodingKey, String) {
    match alg {
        Algorithm::RS256 => {
            use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
            let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
            let pem = private.to_pkcs8_pem(LineEnding::LF).unwrap();
            let public = private
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .unwrap();
            (EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(), public)
        }
        Algorithm::ES256 => {
            let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let key = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
            (key, pair.public_key_pem())
        }
        _ => {
            let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
            let key = EncodingKey::from_ed_pem(pair.serialize_pem().as_bytes()).unwrap();
            (key, pair.public_key_pem())
        }
    }
}

fn verify(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("auth");
    let tokens = Verifier::new(
        AuthConfig {
            mode: Mode::Tokens,
            tokens: (0..10)
                .map(|n| TokenSpec {
                    hash: pier::auth::parse_hash(&pier::auth::hash_token(&format!("token-{n}")))
                        .unwrap(),
                    subject: format!("s{n}"),
                    scopes: vec!["mcp".into()],
                })
                .collect(),
            resource: RESOURCE.into(),
            ..AuthConfig::default()
        },
        Trust::web(),
    )
    .unwrap();
    let sent = headers("token-7");
    group.bench_function("tokens", |b| {
        b.iter(|| runtime.block_on(tokens.verify(&sent)).unwrap())
    });

    let dir = tempfile::tempdir().unwrap();
    for (id, alg) in [
        ("jwt-rs256", Algorithm::RS256),
        ("jwt-es256", Algorithm::ES256),
        ("jwt-eddsa", Algorithm::EdDSA),
    ] {
        let (private, public) = keys(alg);
        let path = dir.path().join(format!("{id}.pem"));
        std::fs::write(&path, public).unwrap();
        let verifier = Verifier::new(
            AuthConfig {
                mode: Mode::Jwt,
                jwt: JwtSettings {
                    issuer: ISSUER.into(),
                    audience: RESOURCE.into(),
                    public_keys: vec![path],
                    ..JwtSettings::default()
                },
                resource: RESOURCE.into(),
                ..AuthConfig::default()
            },
            Trust::web(),
        )
        .unwrap();
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({
            "iss": ISSUER, "aud": RESOURCE, "sub": "alice", "exp": now + 86_400,
            "scope": "mcp tools:read",
        });
        let token = jsonwebtoken::encode(&Header::new(alg), &claims, &private).unwrap();
        let sent = headers(&token);
        // A client's every request after its first: the token is remembered.
        group.bench_function(id, |b| {
            b.iter(|| runtime.block_on(verifier.verify(&sent)).unwrap())
        });
        // The first request with a token: its signature checked.
        group.bench_function(format!("{id}-first"), |b| {
            b.iter_batched(
                || verifier.forget_verified(),
                |()| runtime.block_on(verifier.verify(&sent)).unwrap(),
                criterion::BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
