//! Trust: which plugins run. The operator names the public keys it trusts (`[trust]
//! keys`) and whether a plugin must be signed by one of them (`require-signatures`).
//!
//! Two kinds of signature, both cosign's, so that `cosign verify --key` and `cosign
//! verify-blob --key` check what pier checks (and the other way round):
//! - an OCI artifact is signed as cosign signs an image: a simple-signing payload
//!   naming the manifest's digest, stored under the tag `sha256-<hex>.sig` of its
//!   repository ([`crate::oci`]);
//! - a file of the plugin directory is signed as `cosign sign-blob` signs a file: the
//!   base64 signature over its bytes, in `NAME.wasm.sig` beside it.
//!
//! Keyless signing (Fulcio certificates, Rekor entries) needs those services: a signer
//! identity would be one more kind of [`TrustedKey`], checked where keys are.

pub mod keys;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Serialize;

use keys::PublicKey;

/// What cosign's simple-signing payload says it is.
pub const PAYLOAD_TYPE: &str = "cosign container image signature";
/// Most bytes a detached signature file may have.
pub const MAX_SIGNATURE_FILE: u64 = 64 * 1024;

/// A key the operator trusts, and the file it came from.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// The key file, as configured.
    pub file: PathBuf,
    /// The key.
    pub key: PublicKey,
}

/// The operator's `[trust]`.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// The keys whose signatures count.
    pub keys: Vec<TrustedKey>,
    /// Whether a plugin without a good signature is refused.
    pub require: bool,
}

/// How a plugin's signature was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Signed by a trusted key, for exactly this content.
    Verified,
    /// No signature found.
    Unsigned,
    /// Signed, but no trusted key verifies the signature for this content.
    Untrusted,
    /// No keys are trusted: nothing was checked.
    Unchecked,
}

impl State {
    /// Every state, as the metric labels them.
    pub const ALL: [State; 4] = [
        State::Verified,
        State::Unsigned,
        State::Untrusted,
        State::Unchecked,
    ];

    /// The state's name (the metric's label).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Verified => "verified",
            State::Unsigned => "unsigned",
            State::Untrusted => "untrusted",
            State::Unchecked => "unchecked",
        }
    }
}

/// The result of checking one plugin's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// What was found.
    pub state: State,
    /// The fingerprint of the key that verified it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// Why it is not verified, in a sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Verification {
    fn not(state: State, reason: impl Into<String>) -> Self {
        Self {
            state,
            signer: None,
            reason: Some(reason.into()),
        }
    }

    fn by(key: &TrustedKey) -> Self {
        Self {
            state: State::Verified,
            signer: Some(key.key.fingerprint().to_string()),
            reason: None,
        }
    }
}

/// One signature of an OCI artifact: cosign's payload and the signature over it.
#[derive(Debug, Clone)]
pub struct ImageSignature {
    /// The simple-signing payload, as signed.
    pub payload: Vec<u8>,
    /// The signature's bytes (decoded from cosign's base64 annotation).
    pub signature: Vec<u8>,
}

impl Trust {
    /// The trust of `[trust]`: `keys` read (relative to `base`), each error naming the
    /// file.
    pub fn load(files: &[PathBuf], require: bool, base: &Path) -> Result<Self, String> {
        let mut keys = Vec::with_capacity(files.len());
        for file in files {
            let path = base.join(file);
            let text = read_bounded(&path, keys::MAX_KEY_FILE)
                .map_err(|e| format!("trusted key {}: {e}", path.display()))?;
            let key = PublicKey::from_pem(&text)
                .map_err(|e| format!("trusted key {}: {e}", path.display()))?;
            keys.push(TrustedKey {
                file: file.clone(),
                key,
            });
        }
        if require && keys.is_empty() {
            return Err(
                "require-signatures = true needs at least one key in [trust] keys: no plugin could run".into(),
            );
        }
        Ok(Self { keys, require })
    }

    /// Checks the detached signature `signature` (the text of `NAME.wasm.sig`, cosign's
    /// base64) of the file content `bytes`.
    pub fn check_blob(&self, bytes: &[u8], signature: Option<&[u8]>) -> Verification {
        let Some(text) = signature else {
            return self.unsigned("it has no signature file (NAME.wasm.sig) beside it");
        };
        if self.keys.is_empty() {
            return Verification::not(State::Unchecked, "no keys are trusted ([trust] keys)");
        }
        let encoded: Vec<u8> = text
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            return Verification::not(
                State::Untrusted,
                "its signature file is not base64 (as `cosign sign-blob` writes it)",
            );
        };
        match self.keys.iter().find(|k| k.key.verifies(bytes, &signature)) {
            Some(key) => Verification::by(key),
            None => Verification::not(
                State::Untrusted,
                "its signature does not verify with any trusted key (signed by another key, or the file changed after it was signed)",
            ),
        }
    }

    /// Checks the cosign signatures `signatures` of the OCI artifact whose manifest has
    /// digest `digest`.
    pub fn check_image(&self, digest: &str, signatures: &[ImageSignature]) -> Verification {
        if signatures.is_empty() {
            return self.unsigned("it has no cosign signature in its registry");
        }
        if self.keys.is_empty() {
            return Verification::not(State::Unchecked, "no keys are trusted ([trust] keys)");
        }
        let mut elsewhere = None;
        for signature in signatures {
            let Some(key) = self
                .keys
                .iter()
                .find(|k| k.key.verifies(&signature.payload, &signature.signature))
            else {
                continue;
            };
            match signed_digest(&signature.payload) {
                Some(signed) if signed == digest => return Verification::by(key),
                Some(signed) => elsewhere = Some(signed),
                None => continue,
            }
        }
        match elsewhere {
            Some(signed) => Verification::not(
                State::Untrusted,
                format!("its signature is for {signed}, not for this artifact ({digest})"),
            ),
            None => Verification::not(
                State::Untrusted,
                "no signature of it verifies with a trusted key",
            ),
        }
    }

    fn unsigned(&self, reason: &str) -> Verification {
        if self.keys.is_empty() {
            Verification::not(State::Unchecked, "no keys are trusted ([trust] keys)")
        } else {
            Verification::not(State::Unsigned, reason)
        }
    }

    /// `Err` with the reason when `verification` may not run under this trust.
    pub fn admit(&self, verification: &Verification) -> Result<(), String> {
        if !self.require || verification.state == State::Verified {
            return Ok(());
        }
        Err(format!(
            "signatures are required ([trust] require-signatures) and {}",
            verification
                .reason
                .as_deref()
                .unwrap_or("it is not signed by a trusted key")
        ))
    }
}

/// Cosign's simple-signing payload for the manifest `digest` of repository
/// `repository`.
pub fn payload(repository: &str, digest: &str) -> Vec<u8> {
    serde_json::json!({
        "critical": {
            "identity": {"docker-reference": repository},
            "image": {"docker-manifest-digest": digest},
            "type": PAYLOAD_TYPE,
        },
        "optional": null,
    })
    .to_string()
    .into_bytes()
}

/// The manifest digest a simple-signing payload names, when it is one.
fn signed_digest(payload: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let critical = value.get("critical")?;
    if critical.get("type")?.as_str()? != PAYLOAD_TYPE {
        return None;
    }
    Some(
        critical
            .get("image")?
            .get("docker-manifest-digest")?
            .as_str()?
            .to_string(),
    )
}

/// The text of `wasm`'s detached signature `NAME.wasm.sig`, when there is one.
pub fn signature_for(wasm: &Path) -> Result<Option<Vec<u8>>, String> {
    let mut path = wasm.as_os_str().to_owned();
    path.push(".sig");
    let path = PathBuf::from(path);
    if !path.exists() {
        return Ok(None);
    }
    read_bounded(&path, MAX_SIGNATURE_FILE)
        .map(Some)
        .map_err(|e| format!("its signature file {}: {e}", path.display()))
}

/// The bytes of `path`, refused past `max`.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > max {
        return Err(format!("it is larger than {max} bytes"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::keys::SigningKey;
    use super::*;

    fn trust(keys: &[&SigningKey], require: bool) -> Trust {
        Trust {
            keys: keys
                .iter()
                .map(|k| TrustedKey {
                    file: "k.pub".into(),
                    key: k.public().clone(),
                })
                .collect(),
            require,
        }
    }

    #[test]
    fn a_blob_signature_is_checked_against_the_content() {
        let (key, _) = SigningKey::generate().unwrap();
        let (other, _) = SigningKey::generate().unwrap();
        let sig = base64::engine::general_purpose::STANDARD.encode(key.sign(b"wasm").unwrap());
        let t = trust(&[&other, &key], true);
        let good = t.check_blob(b"wasm", Some(sig.as_bytes()));
        assert_eq!(good.state, State::Verified);
        assert_eq!(good.signer.as_deref(), Some(key.public().fingerprint()));
        assert_eq!(t.admit(&good), Ok(()));
        let changed = t.check_blob(b"wasm!", Some(format!("{sig}\n").as_bytes()));
        assert_eq!(changed.state, State::Untrusted);
        assert_eq!(
            t.admit(&changed).unwrap_err(),
            "signatures are required ([trust] require-signatures) and its signature does not verify with any trusted key (signed by another key, or the file changed after it was signed)"
        );
        assert_eq!(
            trust(&[&other], true)
                .check_blob(b"wasm", Some(sig.as_bytes()))
                .state,
            State::Untrusted
        );
        let none = t.check_blob(b"wasm", None);
        assert_eq!(none.state, State::Unsigned);
        assert_eq!(
            t.check_blob(b"wasm", Some(b"%%%")).reason.as_deref(),
            Some("its signature file is not base64 (as `cosign sign-blob` writes it)")
        );
        let open = trust(&[&key], false);
        assert_eq!(open.admit(&none), Ok(()));
        assert_eq!(
            trust(&[], false).check_blob(b"wasm", None).state,
            State::Unchecked
        );
    }

    #[test]
    fn an_image_signature_must_name_this_digest() {
        let (key, _) = SigningKey::generate().unwrap();
        let t = trust(&[&key], true);
        let sign = |digest: &str| {
            let payload = payload("r.example/w", digest);
            ImageSignature {
                signature: key.sign(&payload).unwrap(),
                payload,
            }
        };
        assert_eq!(
            t.check_image("sha256:aa", &[sign("sha256:aa")]).state,
            State::Verified
        );
        let moved = t.check_image("sha256:bb", &[sign("sha256:aa")]);
        assert_eq!(moved.state, State::Untrusted);
        assert_eq!(
            moved.reason.as_deref(),
            Some("its signature is for sha256:aa, not for this artifact (sha256:bb)")
        );
        let mut forged = sign("sha256:aa");
        forged.payload = payload("r.example/w", "sha256:bb");
        assert_eq!(
            t.check_image("sha256:bb", &[forged]).reason.as_deref(),
            Some("no signature of it verifies with a trusted key")
        );
        assert_eq!(t.check_image("sha256:aa", &[]).state, State::Unsigned);
    }

    #[test]
    fn required_signatures_need_a_key() {
        assert_eq!(
            Trust::load(&[], true, Path::new(".")).unwrap_err(),
            "require-signatures = true needs at least one key in [trust] keys: no plugin could run"
        );
        let missing = Trust::load(&["nope.pub".into()], false, Path::new("/x")).unwrap_err();
        assert!(
            missing.starts_with("trusted key /x/nope.pub: "),
            "{missing}"
        );
    }
}
