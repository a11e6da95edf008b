//! Pulled artifacts kept under the data dir by manifest digest: `oci/<hex>/NAME.wasm`,
//! its sidecar, a `complete` marker (written last, in a directory renamed into place
//! whole), and the signatures found for it in each repository.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{MAX_SIGNATURES, parse, plain_name, repository};
use crate::trust::ImageSignature;

/// Most bytes of the signatures kept beside an artifact.
const MAX_KEPT_SIGNATURES: u64 = 2 * 1024 * 1024;

/// The hex of a `sha256:` digest, when it is one (a path component, never more).
fn hex_of(digest: &str) -> Option<&str> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The kept component of `digest`, when a pull kept it whole.
pub(super) fn cached(cache: &Path, digest: &str) -> Option<PathBuf> {
    let dir = cache.join(hex_of(digest)?);
    let text = std::fs::read_to_string(dir.join("complete")).ok()?;
    let file = dir.join(format!("{}.wasm", text.trim()));
    (plain_name(text.trim()) && file.is_file()).then_some(file)
}

/// Keeps `component` and `sidecar` as `CACHE/<hex>/NAME.wasm` and `NAME.toml`: written
/// into a fresh directory, renamed into place whole.
pub(super) fn keep(
    cache: &Path,
    digest: &str,
    name: &str,
    component: &[u8],
    sidecar: Option<&[u8]>,
) -> Result<PathBuf, String> {
    let hex = hex_of(digest)
        .ok_or_else(|| format!("its digest `{}` is not sha256", crate::text::clip(digest)))?;
    let fail = |e: std::io::Error| format!("cannot keep it under {}: {e}", cache.display());
    std::fs::create_dir_all(cache).map_err(fail)?;
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
    let staging = cache.join(format!(".{hex}.{}", hex::encode(nonce)));
    std::fs::create_dir_all(&staging).map_err(fail)?;
    let written = (|| {
        std::fs::write(staging.join(format!("{name}.wasm")), component)?;
        if let Some(sidecar) = sidecar {
            std::fs::write(staging.join(format!("{name}.toml")), sidecar)?;
        }
        std::fs::write(staging.join("complete"), name)
    })();
    let dir = cache.join(hex);
    let placed = written.and_then(|()| {
        if dir.exists() {
            // Another pull kept the same digest meanwhile: keep its copy.
            std::fs::remove_dir_all(&staging)
        } else {
            std::fs::rename(&staging, &dir)
        }
    });
    if let Err(e) = placed {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(fail(e));
    }
    cached(cache, digest).ok_or_else(|| format!("cannot keep it under {}", cache.display()))
}

/// Where the signatures of `digest` found in `reference`'s repository are kept: one
/// artifact may be in several repositories, each with signatures of its own.
fn signatures_file(cache: &Path, reference: &str, digest: &str) -> Option<PathBuf> {
    let hex = hex_of(digest)?;
    let repository = repository(&parse(reference).ok()?);
    let tag = hex::encode(&Sha256::digest(repository.as_bytes())[..8]);
    Some(cache.join(hex).join(format!("signatures-{tag}.json")))
}

/// Keeps `signatures` of the artifact `digest` in `reference`'s repository beside it in
/// `cache` (best effort: a signature not kept is read from the registry next time).
pub fn keep_signatures(cache: &Path, reference: &str, digest: &str, signatures: &[ImageSignature]) {
    use base64::engine::general_purpose::STANDARD;
    let Some(file) = signatures_file(cache, reference, digest) else {
        return;
    };
    if !file.parent().is_some_and(Path::is_dir) {
        return;
    }
    let kept: Vec<serde_json::Value> = signatures
        .iter()
        .map(|s| {
            serde_json::json!({
                "payload": STANDARD.encode(&s.payload),
                "signature": STANDARD.encode(&s.signature),
            })
        })
        .collect();
    let mut staging = file.clone().into_os_string();
    staging.push(".new");
    let staging = PathBuf::from(staging);
    let written = std::fs::write(&staging, serde_json::Value::from(kept).to_string())
        .and_then(|()| std::fs::rename(&staging, &file));
    if let Err(e) = written {
        tracing::debug!("the signatures of {digest} were not kept: {e}");
    }
}

/// The signatures of `digest` in `reference`'s repository kept beside it, when there
/// are.
pub fn kept_signatures(cache: &Path, reference: &str, digest: &str) -> Option<Vec<ImageSignature>> {
    use base64::engine::general_purpose::STANDARD;
    let file = signatures_file(cache, reference, digest)?;
    let text = crate::trust::read_bounded(&file, MAX_KEPT_SIGNATURES).ok()?;
    let kept: Vec<serde_json::Value> = serde_json::from_slice(&text).ok()?;
    Some(
        kept.iter()
            .take(MAX_SIGNATURES)
            .filter_map(|s| {
                Some(ImageSignature {
                    payload: STANDARD.decode(s.get("payload")?.as_str()?).ok()?,
                    signature: STANDARD.decode(s.get("signature")?.as_str()?).ok()?,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_artifact_is_found_by_digest_and_only_when_complete() {
        let dir = std::env::temp_dir().join(format!("pier-oci-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let digest = super::super::digest_of(b"manifest");
        assert_eq!(cached(&dir, &digest), None);
        let file = keep(&dir, &digest, "w", b"\0asm", Some(b"[limits]")).unwrap();
        assert_eq!(file, dir.join(&digest[7..]).join("w.wasm"));
        assert_eq!(
            std::fs::read(dir.join(&digest[7..]).join("w.toml")).unwrap(),
            b"[limits]"
        );
        assert_eq!(cached(&dir, &digest), Some(file.clone()));
        // A second keep of the same digest keeps the first copy.
        assert_eq!(keep(&dir, &digest, "w", b"\0asm", None).unwrap(), file);
        assert!(keep(&dir, "md5:x", "w", b"", None).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
