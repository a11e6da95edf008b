//! Keys in the formats cosign reads and writes: public keys as PEM `PUBLIC KEY`
//! (SubjectPublicKeyInfo), private keys as cosign's `ENCRYPTED SIGSTORE PRIVATE KEY`
//! (PKCS#8 sealed with scrypt and NaCl secretbox) or a plain PKCS#8 `PRIVATE KEY`.
//! The signatures are ring's: ECDSA P-256 and P-384 (ASN.1 DER, cosign's default),
//! Ed25519, RSA PKCS#1 v1.5 with SHA-256.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The PEM label cosign writes on an encrypted private key (and the older one).
const ENCRYPTED: [&str; 2] = [
    "ENCRYPTED SIGSTORE PRIVATE KEY",
    "ENCRYPTED COSIGN PRIVATE KEY",
];
/// Most bytes a key file may have.
pub const MAX_KEY_FILE: u64 = 64 * 1024;

const EC_PUBLIC_KEY: spki::ObjectIdentifier =
    spki::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ED25519: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.3.101.112");
const RSA: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// A key that checks signatures.
#[derive(Clone)]
pub struct PublicKey {
    algorithm: &'static dyn signature::VerificationAlgorithm,
    /// The key's bytes as the algorithm takes them (an EC point, an RSA key's DER).
    key: Vec<u8>,
    fingerprint: String,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint)
    }
}

impl PublicKey {
    /// The key in a PEM `PUBLIC KEY` block (what `cosign generate-key-pair` writes in
    /// `cosign.pub`).
    pub fn from_pem(text: &[u8]) -> Result<Self, String> {
        let (label, der) = pem_block(text)?;
        if label != "PUBLIC KEY" {
            return Err(format!(
                "it holds a `{label}`, not a `PUBLIC KEY` (a public key as cosign writes it)"
            ));
        }
        Self::from_der(&der)
    }

    /// The key in a DER SubjectPublicKeyInfo.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        use spki::der::Decode;
        let info = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| format!("it is not a public key ({e})"))?;
        let bits = info
            .subject_public_key
            .as_bytes()
            .ok_or("its key is not a whole number of bytes")?;
        let oid = info.algorithm.oid;
        let algorithm: &'static dyn signature::VerificationAlgorithm = if oid == EC_PUBLIC_KEY {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|_| "its elliptic curve is not named")?;
            if curve == P256 {
                &signature::ECDSA_P256_SHA256_ASN1
            } else if curve == P384 {
                &signature::ECDSA_P384_SHA384_ASN1
            } else {
                return Err(format!(
                    "its elliptic curve {curve} is not one pier checks (P-256 or P-384)"
                ));
            }
        } else if oid == ED25519 {
            &signature::ED25519
        } else if oid == RSA {
            &signature::RSA_PKCS1_2048_8192_SHA256
        } else {
            return Err(format!(
                "its algorithm {oid} is not one pier checks (ECDSA, Ed25519, RSA)"
            ));
        };
        Ok(Self {
            algorithm,
            key: bits.to_vec(),
            fingerprint: fingerprint(der),
        })
    }

    /// Whether `signature` (DER for ECDSA) is this key's over `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(self.algorithm, &self.key)
            .verify(message, signature)
            .is_ok()
    }

    /// `SHA256:` and the hex SHA-256 of the key's DER: how pier names a signer.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

fn fingerprint(spki_der: &[u8]) -> String {
    format!("SHA256:{}", hex::encode(Sha256::digest(spki_der)))
}

/// A key that signs: ECDSA P-256 (cosign's default), P-384 or Ed25519.
pub struct SigningKey {
    pair: Pair,
    public: PublicKey,
    public_der: Vec<u8>,
}

enum Pair {
    Ecdsa(signature::EcdsaKeyPair),
    Ed25519(signature::Ed25519KeyPair),
}

impl SigningKey {
    /// The key in `text`: cosign's encrypted format (opened with `password`, asked for
    /// only then) or a plain PKCS#8 `PRIVATE KEY`.
    pub fn from_pem(
        text: &[u8],
        password: impl FnOnce() -> Result<Vec<u8>, String>,
    ) -> Result<Self, String> {
        let (label, der) = pem_block(text)?;
        let pkcs8 = if ENCRYPTED.contains(&label.as_str()) {
            let sealed: Sealed = serde_json::from_slice(&der)
                .map_err(|e| format!("it is not a cosign private key ({e})"))?;
            sealed.open(&password()?)?
        } else if label == "PRIVATE KEY" {
            der
        } else {
            return Err(format!(
                "it holds a `{label}`, not a private key (cosign's, or a PKCS#8 `PRIVATE KEY`)"
            ));
        };
        Self::from_pkcs8(&pkcs8)
    }

    fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, String> {
        let rng = SystemRandom::new();
        let pair = if let Ok(pair) = signature::EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            pkcs8,
            &rng,
        ) {
            Pair::Ecdsa(pair)
        } else if let Ok(pair) = signature::EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            pkcs8,
            &rng,
        ) {
            Pair::Ecdsa(pair)
        } else if let Ok(pair) = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8) {
            Pair::Ed25519(pair)
        } else {
            return Err(
                "it is not an ECDSA P-256, P-384 or Ed25519 private key pier can sign with".into(),
            );
        };
        let point = match &pair {
            Pair::Ecdsa(p) => p.public_key().as_ref().to_vec(),
            Pair::Ed25519(p) => p.public_key().as_ref().to_vec(),
        };
        let public_der = spki_der(&pair, &point);
        let public = PublicKey::from_der(&public_der)?;
        Ok(Self {
            pair,
            public,
            public_der,
        })
    }

    /// A new ECDSA P-256 key (cosign's default kind).
    pub fn generate() -> Result<(Self, Vec<u8>), String> {
        let rng = SystemRandom::new();
        let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rng,
        )
        .map_err(|_| "the system's random numbers are not available")?;
        let pkcs8 = pkcs8.as_ref().to_vec();
        Ok((Self::from_pkcs8(&pkcs8)?, pkcs8))
    }

    /// The signature over `message` (DER for ECDSA, as cosign writes it).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        match &self.pair {
            Pair::Ecdsa(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| "signing failed".to_string()),
            Pair::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }

    /// The key that checks this key's signatures.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The public key as a PEM `PUBLIC KEY` (cosign's `cosign.pub`).
    pub fn public_pem(&self) -> String {
        pem("PUBLIC KEY", &self.public_der)
    }
}

/// `pkcs8` sealed in cosign's format with `password` (an empty one is allowed, as
/// cosign allows it).
pub fn seal(pkcs8: &[u8], password: &[u8]) -> Result<String, String> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
    let kdf = Kdf {
        name: "scrypt".into(),
        params: ScryptParams {
            n: 32768,
            r: 8,
            p: 1,
        },
        salt: STANDARD.encode(salt),
    };
    let key = kdf.key(password)?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(&key.into());
    let ciphertext = cipher
        .encrypt(&nonce.into(), pkcs8)
        .map_err(|_| "sealing the key failed")?;
    let sealed = Sealed {
        kdf,
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: STANDARD.encode(nonce),
        },
        ciphertext: STANDARD.encode(ciphertext),
    };
    let json = serde_json::to_vec(&sealed).map_err(|e| e.to_string())?;
    Ok(pem(ENCRYPTED[0], &json))
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

impl Kdf {
    fn key(&self, password: &[u8]) -> Result<[u8; 32], String> {
        if self.name != "scrypt" {
            return Err(format!("its key derivation `{}` is not scrypt", self.name));
        }
        // cosign writes N = 2^15 (2^16 for stronger keys), r = 8, p = 1; anything else
        // could make opening it take any time or memory.
        let log_n = match self.params.n {
            32768 => 15,
            65536 => 16,
            _ => return Err("its scrypt parameters are not cosign's".into()),
        };
        if self.params.r != 8 || self.params.p != 1 {
            return Err("its scrypt parameters are not cosign's".into());
        }
        let salt = STANDARD
            .decode(&self.salt)
            .map_err(|_| "its salt is not base64")?;
        let params = scrypt::Params::new(log_n, 8, 1, 32).map_err(|e| e.to_string())?;
        let mut key = [0u8; 32];
        scrypt::scrypt(password, &salt, &params, &mut key).map_err(|e| e.to_string())?;
        Ok(key)
    }
}

impl Sealed {
    fn open(&self, password: &[u8]) -> Result<Vec<u8>, String> {
        use crypto_secretbox::aead::{Aead, KeyInit};
        if self.cipher.name != "nacl/secretbox" {
            return Err(format!(
                "its cipher `{}` is not nacl/secretbox",
                self.cipher.name
            ));
        }
        let key = self.kdf.key(password)?;
        let nonce: [u8; 24] = STANDARD
            .decode(&self.cipher.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or("its nonce is not 24 bytes of base64")?;
        let ciphertext = STANDARD
            .decode(&self.ciphertext)
            .map_err(|_| "its ciphertext is not base64")?;
        crypto_secretbox::XSalsa20Poly1305::new(&key.into())
            .decrypt(&nonce.into(), ciphertext.as_slice())
            .map_err(|_| "the password does not open it".to_string())
    }
}

/// The DER SubjectPublicKeyInfo of `pair`'s public key `point`.
fn spki_der(pair: &Pair, point: &[u8]) -> Vec<u8> {
    // The algorithm identifiers, DER-encoded, of the three kinds of key pier signs with.
    const P256_ID: &[u8] = &[
        0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
        0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    const P384_ID: &[u8] = &[
        0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81,
        0x04, 0x00, 0x22,
    ];
    const ED25519_ID: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];
    let id = match pair {
        Pair::Ecdsa(_) if point.len() == 65 => P256_ID,
        Pair::Ecdsa(_) => P384_ID,
        Pair::Ed25519(_) => ED25519_ID,
    };
    let mut bits = vec![0x03];
    der_len(&mut bits, point.len() + 1);
    bits.push(0);
    bits.extend_from_slice(point);
    let mut out = vec![0x30];
    der_len(&mut out, id.len() + bits.len());
    out.extend_from_slice(id);
    out.extend_from_slice(&bits);
    out
}

fn der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.push(0x81);
        out.push(len as u8);
    }
}

/// The first PEM block of `text`: its label and bytes.
fn pem_block(text: &[u8]) -> Result<(String, Vec<u8>), String> {
    let text = std::str::from_utf8(text).map_err(|_| "it is not a PEM text file")?;
    let start = text
        .find("-----BEGIN ")
        .ok_or("it is not a PEM file (no -----BEGIN line)")?;
    let rest = &text[start + 11..];
    let label_end = rest.find("-----").ok_or("its BEGIN line is not closed")?;
    let label = &rest[..label_end];
    let body = &rest[label_end + 5..];
    let end = format!("-----END {label}-----");
    let stop = body
        .find(&end)
        .ok_or_else(|| format!("its `{label}` block has no END line"))?;
    let encoded: String = body[..stop]
        .lines()
        .filter(|l| !l.contains(':'))
        .flat_map(|l| l.trim().chars())
        .collect();
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| format!("its `{label}` block is not base64"))?;
    Ok((label.to_string(), bytes))
}

/// `bytes` in a PEM block labelled `label`.
pub fn pem(label: &str, bytes: &[u8]) -> String {
    let encoded = STANDARD.encode(bytes);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_with_its_password_only_and_signs_what_its_public_key_checks() {
        let (key, pkcs8) = SigningKey::generate().unwrap();
        let sealed = seal(&pkcs8, b"pw").unwrap();
        assert!(sealed.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let opened = SigningKey::from_pem(sealed.as_bytes(), || Ok(b"pw".to_vec())).unwrap();
        assert_eq!(opened.public().fingerprint(), key.public().fingerprint());
        assert_eq!(
            SigningKey::from_pem(sealed.as_bytes(), || Ok(b"no".to_vec()))
                .err()
                .unwrap(),
            "the password does not open it"
        );
        let public = PublicKey::from_pem(key.public_pem().as_bytes()).unwrap();
        let signature = opened.sign(b"payload").unwrap();
        assert!(public.verifies(b"payload", &signature));
        assert!(!public.verifies(b"payload!", &signature));
        let other = SigningKey::generate().unwrap().0;
        assert!(!other.public().verifies(b"payload", &signature));
        assert!(public.fingerprint().starts_with("SHA256:"));
        assert_eq!(public.fingerprint().len(), 7 + 64);
    }

    #[test]
    fn a_plain_pkcs8_key_signs_too() {
        let (key, pkcs8) = SigningKey::generate().unwrap();
        let plain = pem("PRIVATE KEY", &pkcs8);
        let asked = std::cell::Cell::new(false);
        let opened = SigningKey::from_pem(plain.as_bytes(), || {
            asked.set(true);
            Ok(Vec::new())
        })
        .unwrap();
        assert!(!asked.get(), "a plain key needs no password");
        assert_eq!(opened.public().fingerprint(), key.public().fingerprint());
    }

    #[test]
    fn what_is_not_a_key_is_refused_in_words() {
        assert_eq!(
            PublicKey::from_pem(b"hello").unwrap_err(),
            "it is not a PEM file (no -----BEGIN line)"
        );
        let (key, pkcs8) = SigningKey::generate().unwrap();
        assert_eq!(
            PublicKey::from_pem(pem("PRIVATE KEY", &pkcs8).as_bytes()).unwrap_err(),
            "it holds a `PRIVATE KEY`, not a `PUBLIC KEY` (a public key as cosign writes it)"
        );
        assert_eq!(
            SigningKey::from_pem(key.public_pem().as_bytes(), || Ok(Vec::new()))
                .err()
                .unwrap(),
            "it holds a `PUBLIC KEY`, not a private key (cosign's, or a PKCS#8 `PRIVATE KEY`)"
        );
        assert!(
            PublicKey::from_pem(pem("PUBLIC KEY", b"\x30\x03\x02\x01\x01").as_bytes())
                .unwrap_err()
                .starts_with("it is not a public key")
        );
        assert_eq!(
            SigningKey::from_pem(pem(ENCRYPTED[0], b"{}").as_bytes(), || Ok(Vec::new()))
                .err()
                .unwrap(),
            "it is not a cosign private key (missing field `kdf` at line 1 column 2)"
        );
    }
}
