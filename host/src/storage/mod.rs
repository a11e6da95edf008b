//! Storage: one [`KeyValue`] trait, three backends (`memory`, `sled`, `redis`), and the
//! per-plugin view plugins get through the `storage` host interface ([`PluginStore`]).
//!
//! Keys are strings ordered bytewise; values are bytes. An integer (for
//! [`KeyValue::increment`]) is stored as its decimal text, as Redis does. Every backend
//! honours TTLs: an expired key is absent for every operation, and its space is reclaimed
//! by [`KeyValue::purge_expired`], which the server calls periodically, and by a write
//! that finds its space full.
//!
//! The key space is shared by pier and its plugins: plugin `NAME` owns everything under
//! `plugin/NAME/` (see [`PluginStore`]), pier's own state lives under `pier/`.
//!
//! **Key counts.** Every key is counted in its *space*, its text through the second `/`
//! ([`space_of`]: `plugin/notes/` for `plugin/notes/todo/1`). Each backend keeps the
//! count of every space as it writes, in the same atomic step as the write, so a quota
//! check is one read ([`KeyValue::held`]) and a write that would pass a space's limit
//! is refused exactly, however many writers race. A key stays counted from the write
//! that creates it until it is deleted or its expired entry is reclaimed; a write that
//! finds its space full first reclaims up to [`RECLAIM_BATCH`] expired entries (the
//! earliest expiries, of any space) and checks again.

pub mod bus;
pub mod memory;
pub mod plugin;
pub mod redis;
pub mod sled;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

pub use plugin::{PluginStore, Quota, ScopedError};

/// The future every [`KeyValue`] operation returns.
pub type StoreFuture<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// Why a storage operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The backend failed or cannot be reached; the operation may succeed later.
    #[error("{backend} storage is unavailable: {reason}")]
    Unavailable {
        /// `memory`, `sled` or `redis`.
        backend: &'static str,
        /// What failed.
        reason: String,
    },
    /// The write would create a key in a space that holds its limit of keys already.
    #[error("`{space}` holds {held} keys, its limit")]
    Full {
        /// The space ([`space_of`]).
        space: String,
        /// How many keys it holds.
        held: usize,
    },
    /// `increment` of a key whose value is not a decimal integer, or that would overflow.
    #[error("the value under `{key}` {reason}")]
    NotAnInteger {
        /// The key.
        key: String,
        /// "is not an integer" or "would overflow".
        reason: &'static str,
    },
}

/// One page of keys, in ascending order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The keys.
    pub keys: Vec<String>,
    /// The last key of this page when more follow: pass it as the next `cursor`.
    pub next_cursor: Option<String>,
}

impl Page {
    /// The page of `limit` keys from `keys`, fetched one beyond the limit to learn
    /// whether more follow.
    fn of(mut keys: Vec<String>, limit: usize) -> Self {
        let more = keys.len() > limit;
        keys.truncate(limit);
        let next_cursor = if more { keys.last().cloned() } else { None };
        Page { keys, next_cursor }
    }
}

/// The most expired entries a write that finds its space full reclaims before it
/// checks again (a bounded step: the purger reclaims the rest).
pub const RECLAIM_BATCH: usize = 500;

/// The space `key` is counted in: its text through the second `/`, or the empty space
/// for a key with fewer (`plugin/notes/` for `plugin/notes/a/b`, `""` for `a/b`).
pub fn space_of(key: &str) -> &str {
    // `/` is ASCII: the byte after it starts a character.
    &key[..space_len(key.as_bytes())]
}

/// The length of the space of the key `bytes` ([`space_of`]).
fn space_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'/')
        .nth(1)
        .map_or(0, |(i, _)| i + 1)
}

/// A key-value store: the contract every backend meets (one test suite runs against
/// all of them, `host/tests/storage.rs`).
///
/// The writes that may create a key take `max_keys`: the most keys the key's space
/// ([`space_of`]) may hold, or no limit. A write that would create a key in a full
/// space fails with [`StoreError::Full`] and changes nothing.
pub trait KeyValue: Send + Sync {
    /// `memory`, `sled` or `redis`.
    fn backend(&self) -> &'static str;

    /// The value under `key`.
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;

    /// Stores `value` under `key`, expiring after `ttl` (never, when `None`: a previous
    /// expiry is cleared).
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()> {
        self.set_within(key, value, ttl, None)
    }

    /// [`KeyValue::set`], creating the key only when its space holds fewer than
    /// `max_keys`.
    fn set_within<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Option<Duration>,
        max_keys: Option<usize>,
    ) -> StoreFuture<'a, ()>;

    /// Removes `key`; true when it was there.
    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, bool>;

    /// Up to `limit` keys starting with `prefix` and greater than `after`, ascending.
    fn list<'a>(
        &'a self,
        prefix: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page>;

    /// Atomically adds `by` to the integer under `key` (absent = 0) and returns the sum.
    /// The key keeps its expiry.
    fn increment<'a>(&'a self, key: &'a str, by: i64) -> StoreFuture<'a, i64> {
        self.increment_within(key, by, None)
    }

    /// [`KeyValue::increment`], creating the key only when its space holds fewer than
    /// `max_keys`.
    fn increment_within<'a>(
        &'a self,
        key: &'a str,
        by: i64,
        max_keys: Option<usize>,
    ) -> StoreFuture<'a, i64>;

    /// Atomically sets `key` to `new` (expiring after `ttl`) if its value is `expected`
    /// (`None` = absent); true when it did.
    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<&'a [u8]>,
        new: Vec<u8>,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, bool> {
        self.compare_and_set_within(key, expected, new, ttl, None)
    }

    /// [`KeyValue::compare_and_set`], creating the key only when its space holds fewer
    /// than `max_keys`.
    fn compare_and_set_within<'a>(
        &'a self,
        key: &'a str,
        expected: Option<&'a [u8]>,
        new: Vec<u8>,
        ttl: Option<Duration>,
        max_keys: Option<usize>,
    ) -> StoreFuture<'a, bool>;

    /// How many keys `space` holds: a maintained count, read in one step. Expired keys
    /// count until their entries are reclaimed.
    fn held<'a>(&'a self, space: &'a str) -> StoreFuture<'a, usize>;

    /// Reclaims the entries of expired keys; the number reclaimed.
    fn purge_expired(&self) -> StoreFuture<'_, usize>;
}

/// Which backend, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// In the server's memory: gone at exit.
    Memory,
    /// A sled database in this directory.
    Sled {
        /// The database directory.
        path: PathBuf,
        /// `None`: every write is flushed to disk before it is acknowledged. `Some(d)`:
        /// writes are flushed in the background every `d`; a crash loses at most `d`.
        flush_every: Option<Duration>,
        /// The most memory sled's page cache holds, in bytes; beyond, pages are read
        /// back from disk.
        cache_bytes: u64,
    },
    /// A Redis server.
    Redis {
        /// `redis://[user:password@]host:port[/db]`.
        url: String,
        /// Prefix of every Redis key pier writes.
        prefix: String,
    },
}

impl Backend {
    /// A one-line description for logs: the kind and where.
    pub fn describe(&self) -> String {
        match self {
            Backend::Memory => "memory".into(),
            Backend::Sled { path, .. } => format!("sled at {}", path.display()),
            Backend::Redis { url, .. } => format!("redis at {}", redact(url)),
        }
    }
}

/// `url` without its password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{user}:***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Opens the store `backend` describes (a Redis connection is made at the first call).
pub fn open(backend: &Backend) -> Result<Arc<dyn KeyValue>, StoreError> {
    Ok(match backend {
        Backend::Memory => Arc::new(memory::Memory::default()),
        Backend::Sled {
            path,
            flush_every,
            cache_bytes,
        } => Arc::new(
            sled::Sled::open(path, *flush_every, *cache_bytes).map_err(|reason| {
                StoreError::Unavailable {
                    backend: "sled",
                    reason,
                }
            })?,
        ),
        Backend::Redis { url, prefix } => Arc::new(redis::Redis::connect(url, prefix)?),
    })
}

/// How often [`Health`] asks the store.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

/// Whether the store answers, asked every [`PROBE_EVERY`] ([`Health::spawn`]): what
/// `/ready` shows and `pier_store_up` counts.
pub struct Health {
    store: Arc<dyn KeyValue>,
    metrics: Arc<crate::telemetry::Metrics>,
    /// Why the last probe failed; `None` when it succeeded (or none ran yet).
    down: std::sync::Mutex<Option<String>>,
}

impl Health {
    /// Probes `store`, counting in `metrics`; until [`Health::spawn`], nothing is known.
    pub fn new(store: Arc<dyn KeyValue>, metrics: Arc<crate::telemetry::Metrics>) -> Self {
        Self {
            store,
            metrics,
            down: Default::default(),
        }
    }

    /// Asks the store once: a read of one key, within [`PROBE_EVERY`].
    pub async fn probe(&self) {
        let asked = tokio::time::timeout(PROBE_EVERY, self.store.get("pier/probe")).await;
        let down = match asked {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!(
                "{} storage did not answer within {} s",
                self.store.backend(),
                PROBE_EVERY.as_secs()
            )),
        };
        self.metrics.store_up(down.is_none());
        let mut held = self.down.lock().unwrap_or_else(|e| e.into_inner());
        match (&*held, &down) {
            (None, Some(why)) => tracing::warn!(
                "the store does not answer: {why}; requests that need it fail until it does"
            ),
            (Some(_), None) => tracing::info!("the store answers again"),
            _ => {}
        }
        *held = down;
    }

    /// Why the store did not answer its last probe; `None` when it did.
    pub fn down(&self) -> Option<String> {
        self.down.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Probes every [`PROBE_EVERY`] until `health` is dropped elsewhere.
    pub fn spawn(health: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        crate::spawn_every(
            health,
            PROBE_EVERY,
            |health| async move { health.probe().await },
        )
    }
}

/// The sled database directory under the data dir.
pub fn sled_path(data_dir: &Path) -> PathBuf {
    data_dir.join("store")
}

/// Calls [`KeyValue::purge_expired`] every `every` until the store is dropped elsewhere
/// (the task holds only a weak reference). The first time is at once: a store opened on
/// data of an older layout finishes counting its keys then.
pub fn spawn_purger(store: &Arc<dyn KeyValue>, every: Duration) -> tokio::task::JoinHandle<()> {
    crate::spawn_every(store, every, |store| async move {
        match store.purge_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(backend = store.backend(), "purged {n} expired keys"),
            Err(e) => tracing::warn!("purging expired keys: {e}"),
        }
    })
}

/// Whether `key` belongs to a page of `prefix` that starts after `after`.
fn in_page(key: &str, prefix: &str, after: Option<&str>) -> bool {
    key.starts_with(prefix) && after.is_none_or(|a| key > a)
}

/// Parses a stored integer.
fn parse_integer(key: &str, value: Option<&[u8]>) -> Result<i64, StoreError> {
    let Some(bytes) = value else { return Ok(0) };
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| StoreError::NotAnInteger {
            key: key.to_string(),
            reason: "is not an integer",
        })
}

/// `current + by`, or the overflow error.
fn add(key: &str, current: i64, by: i64) -> Result<i64, StoreError> {
    current
        .checked_add(by)
        .ok_or_else(|| StoreError::NotAnInteger {
            key: key.to_string(),
            reason: "would overflow",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password_in_logs() {
        assert_eq!(
            redact("redis://user:secret@127.0.0.1:6379/0"),
            "redis://user:***@127.0.0.1:6379/0"
        );
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }

    #[test]
    fn a_key_is_counted_in_its_text_through_the_second_slash() {
        for (key, space) in [
            ("plugin/notes/todo/1", "plugin/notes/"),
            ("plugin/notes/", "plugin/notes/"),
            ("pier/sessions/x", "pier/sessions/"),
            ("a//b", "a//"),
            ("p/001", ""),
            ("plain", ""),
            ("", ""),
            ("é/ü/ß", "é/ü/"),
        ] {
            assert_eq!(space_of(key), space, "{key}");
        }
    }

    #[test]
    fn integers_are_decimal_text() {
        assert_eq!(parse_integer("k", None), Ok(0));
        assert_eq!(parse_integer("k", Some(b"-42")), Ok(-42));
        assert_eq!(
            parse_integer("k", Some(b"4x")).unwrap_err().to_string(),
            "the value under `k` is not an integer"
        );
        assert_eq!(
            add("k", i64::MAX, 1).unwrap_err().to_string(),
            "the value under `k` would overflow"
        );
    }
}
