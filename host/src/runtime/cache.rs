//! The AOT cache: compiled components stored under the data dir, keyed by the
//! component's content hash and the engine's compatibility fingerprint.
//!
//! Compiling a Python or JS component takes seconds; loading its cached artifact takes
//! about a millisecond, so a second start never recompiles.
//!
//! The cache's index lives in the store (`pier/aot/{artifact}` → which file, how big,
//! when last used, expiring `data.aot-keep-days` after the last use): at start, a
//! server with a persistent store deletes artifacts that no index entry keeps and that
//! are older than that, so plugins replaced long ago do not pile up on disk.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::RuntimeError;
use super::compiler::{self, Failure};
use crate::progress::Phase;
use crate::storage::{KeyValue, StoreError};

/// Prefix of the index entries in the store.
const INDEX: &str = "pier/aot/";

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
    /// The operator's memory cap the engine was built with: a compiler process builds
    /// the same engine.
    max_memory_bytes: usize,
}

impl AotCache {
    /// A cache in `dir` (created when missing) for artifacts of `engine`, which
    /// [`super::engine::build`] made with `max_memory_bytes`.
    pub fn new(
        dir: impl Into<PathBuf>,
        engine: &Engine,
        max_memory_bytes: usize,
    ) -> Result<Self, RuntimeError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| RuntimeError::Cache {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
        // Named as the kernel names the artifacts it maps (`/proc/self/smaps`: absolute,
        // links resolved), so that a relative data dir (`.pier`, the default) still
        // finds its plugins' resident pages.
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        env!("CARGO_PKG_VERSION").hash(&mut hasher);
        Ok(Self {
            dir,
            fingerprint: format!("{:016x}", hasher.finish()),
            max_memory_bytes,
        })
    }

    /// The hex SHA-256 of `bytes`: a plugin's version hash.
    pub fn content_hash(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    fn artifact_name(&self, hash: &str) -> String {
        format!("{hash}-{}", self.fingerprint)
    }

    /// Where the artifact of `hash` is (or would be) kept.
    pub(super) fn artifact_path(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{}.cwasm", self.artifact_name(hash)))
    }

    /// Records in `store` that the artifact of `hash` (compiled from `file`) was used
    /// now; the entry expires `keep` later.
    pub async fn record_use(
        &self,
        store: &dyn KeyValue,
        hash: &str,
        file: &Path,
        keep: Duration,
    ) -> Result<(), StoreError> {
        let path = self.artifact_path(hash);
        let bytes = tokio::fs::metadata(&path).await.map_or(0, |m| m.len());
        let entry = serde_json::json!({
            "file": file.display().to_string(),
            "bytes": bytes,
            "used_ms": SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        });
        let key = format!("{INDEX}{}", self.artifact_name(hash));
        store
            .set(&key, entry.to_string().into_bytes(), Some(keep))
            .await
    }

    /// Deletes the artifacts older than `keep` that no entry of `store`'s index keeps;
    /// their number.
    pub async fn prune(&self, store: &dyn KeyValue, keep: Duration) -> Result<usize, StoreError> {
        let mut kept = std::collections::HashSet::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.list(INDEX, after.as_deref(), 1000).await?;
            kept.extend(page.keys.iter().map(|k| k[INDEX.len()..].to_string()));
            match page.next_cursor {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        // A directory walk with a syscall per file: off the async threads.
        let dir = self.dir.clone();
        let pruned = tokio::task::spawn_blocking(move || prune_dir(&dir, &kept, keep))
            .await
            .unwrap_or(0);
        Ok(pruned)
    }
}

/// Deletes the artifacts of `dir` older than `keep` whose names `kept` lacks.
fn prune_dir(dir: &Path, kept: &std::collections::HashSet<String>, keep: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut pruned = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".cwasm"))
        else {
            continue;
        };
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > keep);
        if old && !kept.contains(name) && std::fs::remove_file(&path).is_ok() {
            pruned += 1;
        }
    }
    pruned
}

impl AotCache {
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
        let refused = |reason: String| RuntimeError::Compile {
            file: file.to_path_buf(),
            reason,
        };
        // Seconds for a large (Python, JavaScript) component: told while it lasts.
        let phase = Phase::start(format!("compiling {} to native code", file.display()));
        // Unique per writer: two loads of one new component may compile it at once.
        let tmp = path.with_extension(format!("tmp{}-{:x}", std::process::id(), fastrand::u64(..)));
        // Compiled in a child process, or (without one, or when it fails for a reason
        // other than the component) here, in a short-lived engine.
        let kept = match compiler::in_child_process(self.max_memory_bytes, bytes, &tmp) {
            Some(Err(Failure::Refused(reason))) => {
                phase.failed();
                let _ = std::fs::remove_file(&tmp);
                return Err(refused(reason));
            }
            Some(Ok(())) => std::fs::rename(&tmp, &path).map_err(|e| e.to_string()),
            Some(Err(Failure::Unavailable(why))) => Err(why),
            None => Err(String::new()),
        };
        if let Err(why) = kept {
            let _ = std::fs::remove_file(&tmp);
            if !why.is_empty() {
                tracing::warn!(path = %path.display(), "{why}; compiling in this process");
            }
            let compiled = match compiler::in_short_lived_engine(engine, bytes) {
                Ok(compiled) => compiled,
                Err(e) => {
                    phase.failed();
                    return Err(refused(format!("{e:#}")));
                }
            };
            phase.done();
            if let Err(e) =
                std::fs::write(&tmp, &compiled).and_then(|()| std::fs::rename(&tmp, &path))
            {
                let _ = std::fs::remove_file(&tmp);
                // Serving matters more than caching: kept in memory.
                tracing::warn!(path = %path.display(), "could not write AOT artifact: {e}");
                // SAFETY: `compiled` was made by `precompile_component` just now, with
                // this engine's configuration.
                let component = unsafe { Component::deserialize(engine, &compiled) };
                return Ok((
                    component.map_err(|e| refused(format!("{e:#}")))?,
                    CacheOutcome::Miss,
                ));
            }
        } else {
            phase.done();
        }
        // Served from the file's mapping, like a cache hit: the code's pages are the
        // page cache's, not the process's own memory.
        // SAFETY: the artifact was written a moment ago (by pier, or by the compiler
        // process pier started with this engine's configuration), via a rename.
        let component = unsafe { Component::deserialize_file(engine, &path) };
        Ok((
            component.map_err(|e| refused(format!("{e:#}")))?,
            CacheOutcome::Miss,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::Memory;

    fn age(path: &Path, by: Duration) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - by).unwrap();
    }

    #[test]
    fn artifacts_are_named_as_the_kernel_names_what_it_maps() {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        // The same directory, relative to the working directory and through `..`.
        let cwd = std::env::current_dir().unwrap();
        let up: PathBuf = cwd.components().skip(1).map(|_| "..").collect();
        let relative = up.join(real.strip_prefix("/").unwrap()).join("aot");
        assert!(relative.is_relative());
        let cache = AotCache::new(&relative, &Engine::default(), 64 << 20).unwrap();
        let path = cache.artifact_path("abc");
        assert_eq!(path.parent(), Some(real.join("aot").as_path()));
    }

    #[tokio::test]
    async fn artifacts_no_index_entry_keeps_are_pruned_once_old() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = AotCache::new(dir.path(), &engine, 64 << 20).unwrap();
        let store = Memory::default();
        let day = Duration::from_secs(86_400);
        for hash in ["used", "unused", "fresh"] {
            std::fs::write(cache.artifact_path(hash), b"compiled").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"not an artifact").unwrap();
        age(&cache.artifact_path("used"), 2 * day);
        age(&cache.artifact_path("unused"), 2 * day);
        age(&dir.path().join("notes.txt"), 2 * day);
        cache
            .record_use(&store, "used", Path::new("p/used.wasm"), day)
            .await
            .unwrap();
        let entry = store
            .get(&format!("{INDEX}{}", cache.artifact_name("used")))
            .await
            .unwrap()
            .unwrap();
        let entry: serde_json::Value = serde_json::from_slice(&entry).unwrap();
        assert_eq!(entry["file"], "p/used.wasm");
        assert_eq!(entry["bytes"], 8);

        assert_eq!(cache.prune(&store, day).await, Ok(1));
        assert!(cache.artifact_path("used").exists(), "kept by its entry");
        assert!(!cache.artifact_path("unused").exists(), "old and unused");
        assert!(cache.artifact_path("fresh").exists(), "too young to judge");
        assert!(dir.path().join("notes.txt").exists(), "not an artifact");
        assert_eq!(cache.prune(&store, day).await, Ok(0));
    }
}
