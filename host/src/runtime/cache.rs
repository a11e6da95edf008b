//! The AOT cache: compiled components stored under the data dir, keyed by the
//! component's content hash and the engine's compatibility fingerprint.
//!
//! Compiling a Python or JS component takes seconds; loading its cached artifact takes
//! about a millisecond, so a second start never recompiles.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::RuntimeError;

/// Whether a component came from the cache or was compiled now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from a `.cwasm` written earlier.
    Hit,
    /// Compiled now (and written to the cache).
    Miss,
}

/// A directory of `.cwasm` files that only pier writes.
#[derive(Debug, Clone)]
pub struct AotCache {
    dir: PathBuf,
    fingerprint: String,
}

impl AotCache {
    /// A cache in `dir` (created when missing) for artifacts of `engine`.
    pub fn new(dir: impl Into<PathBuf>, engine: &Engine) -> Result<Self, RuntimeError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| RuntimeError::Cache {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        env!("CARGO_PKG_VERSION").hash(&mut hasher);
        Ok(Self {
            dir,
            fingerprint: format!("{:016x}", hasher.finish()),
        })
    }

    /// The hex SHA-256 of `bytes`: a plugin's version hash.
    pub fn content_hash(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    fn artifact_path(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}-{}.cwasm", self.fingerprint))
    }

    /// The compiled component for `bytes` (whose hash is `hash`), from the cache when
    /// present, otherwise compiled and stored.
    ///
    /// `file` only names the plugin in errors. A cache that cannot be written is
    /// logged and skipped: serving matters more than caching.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        file: &Path,
        hash: &str,
        bytes: &[u8],
    ) -> Result<(Component, CacheOutcome), RuntimeError> {
        let path = self.artifact_path(hash);
        if path.exists() {
            // SAFETY: the file is named after the content hash and the engine fingerprint
            // and only pier writes into this directory (via a rename, so never partially).
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring unusable AOT artifact: {e:#}")
                }
            }
        }
        let component = Component::new(engine, bytes).map_err(|e| RuntimeError::Compile {
            file: file.to_path_buf(),
            reason: format!("{e:#}"),
        })?;
        if let Err(e) = self.store(&path, &component) {
            tracing::warn!(path = %path.display(), "could not write AOT artifact: {e}");
        }
        Ok((component, CacheOutcome::Miss))
    }

    fn store(&self, path: &Path, component: &Component) -> std::io::Result<()> {
        let bytes = component
            .serialize()
            .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)
    }
}
