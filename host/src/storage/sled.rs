//! The `sled` backend, pier's default: an embedded database under the data dir.
//!
//! Four trees: `data` holds each value behind an 8-byte header, its expiry in
//! milliseconds since the Unix epoch (0 = never); `expiry` lists every expiring entry
//! once, ordered by expiry, so that expired entries are found without a scan; `held`
//! keeps the count of every space ([`super::space_of`]); `meta` records that the counts
//! were built (a database written before they existed is counted once when opened).
//! Every write changes its entry, its expiry entry and its space's count in one sled
//! transaction. An expired entry is invisible at once and stays, counted, until the
//! purger or a write that finds its space full reclaims it.
//!
//! Durability: by default every write is flushed to disk before it is acknowledged (a
//! write a plugin saw succeed survives `kill -9`); `storage.flush-ms` trades that for
//! background flushes, losing at most that window on a crash.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sled::transaction::{
    ConflictableTransactionResult, TransactionError, TransactionalTree, abort,
};
use sled::{IVec, Transactional, Tree};

use super::{
    KeyValue, Page, RECLAIM_BATCH, StoreError, StoreFuture, add, in_page, parse_integer, space_len,
};

const HEADER: usize = 8;

/// The `meta` key saying the counts of `held` were built.
const COUNTED: &[u8] = b"held-counted";

/// Expired entries reclaimed per step of a purge.
const PURGE_BATCH: usize = 1000;

/// A sled database.
pub struct Sled {
    db: sled::Db,
    trees: Trees,
    flush_each_write: bool,
}

/// The trees every write changes together (cheap to clone: each is a handle).
#[derive(Clone)]
struct Trees {
    data: Tree,
    expiry: Tree,
    held: Tree,
}

/// What a write does to the entry it found.
enum Change<T> {
    /// Leaves it, answering `T`.
    Keep(T),
    /// Stores `value` expiring at `at`, answering `answer`.
    Put { value: Vec<u8>, at: u64, answer: T },
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn encode(value: &[u8], expires_ms: u64) -> Vec<u8> {
    let mut raw = Vec::with_capacity(HEADER + value.len());
    raw.extend_from_slice(&expires_ms.to_be_bytes());
    raw.extend_from_slice(value);
    raw
}

/// The big-endian `u64` at the start of `bytes` (0 when they are shorter).
fn leading_u64(bytes: &[u8]) -> u64 {
    bytes
        .first_chunk::<HEADER>()
        .map_or(0, |h| u64::from_be_bytes(*h))
}

fn expires_of(raw: &[u8]) -> u64 {
    leading_u64(raw)
}

fn value_of(raw: &[u8]) -> &[u8] {
    raw.get(HEADER..).unwrap_or_default()
}

fn live(raw: &[u8], now: u64) -> bool {
    let at = expires_of(raw);
    at == 0 || at > now
}

fn expires_at(ttl: Option<Duration>) -> u64 {
    ttl.map_or(0, |ttl| {
        now_ms().saturating_add(ttl.as_millis() as u64).max(1)
    })
}

fn expiry_key(at: u64, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(HEADER + key.len());
    k.extend_from_slice(&at.to_be_bytes());
    k.extend_from_slice(key);
    k
}

fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable {
        backend: "sled",
        reason: e.to_string(),
    }
}

fn space(key: &[u8]) -> &[u8] {
    &key[..space_len(key)]
}

/// The count stored in `held` for one space.
fn count_of(raw: Option<IVec>) -> u64 {
    raw.map_or(0, |raw| leading_u64(&raw))
}

/// Counts a new key in `space`, unless the space holds `max_keys` already.
fn count_new(
    held: &TransactionalTree,
    space: &[u8],
    max_keys: Option<usize>,
) -> ConflictableTransactionResult<(), StoreError> {
    let n = count_of(held.get(space)?);
    if let Some(max) = max_keys
        && n >= max as u64
    {
        return abort(StoreError::Full {
            space: String::from_utf8_lossy(space).into_owned(),
            held: n as usize,
        });
    }
    held.insert(space, &(n + 1).to_be_bytes())?;
    Ok(())
}

/// Counts one key fewer in `space`.
fn uncount(
    held: &TransactionalTree,
    space: &[u8],
) -> ConflictableTransactionResult<(), StoreError> {
    match count_of(held.get(space)?) {
        0 | 1 => held.remove(space).map(drop)?,
        n => held.insert(space, &(n - 1).to_be_bytes()).map(drop)?,
    }
    Ok(())
}

fn outcome<T>(result: Result<T, TransactionError<StoreError>>) -> Result<T, StoreError> {
    result.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => failed(e),
    })
}

impl Trees {
    /// Applies `change` to `key`'s live value and expiry (`None` and 0 when absent or
    /// expired) in one transaction: the entry, its expiry entry and, for a new key, its
    /// space's count, which must stay within `max_keys`.
    fn write<T>(
        &self,
        key: &str,
        max_keys: Option<usize>,
        change: impl Fn(Option<&[u8]>, u64) -> Result<Change<T>, StoreError>,
    ) -> Result<T, StoreError> {
        let key = key.as_bytes();
        outcome(
            (&self.data, &self.expiry, &self.held).transaction(|(data, expiry, held)| {
                let raw = data.get(key)?;
                let found = raw.as_ref().filter(|raw| live(raw, now_ms()));
                let (value, at, answer) = match change(
                    found.map(|raw| value_of(raw)),
                    found.map_or(0, |raw| expires_of(raw)),
                ) {
                    Ok(Change::Keep(answer)) => return Ok(answer),
                    Ok(Change::Put { value, at, answer }) => (value, at, answer),
                    Err(e) => return abort(e),
                };
                match &raw {
                    None => count_new(held, space(key), max_keys)?,
                    Some(old) => {
                        let old_at = expires_of(old);
                        if old_at != 0 && old_at != at {
                            expiry.remove(expiry_key(old_at, key))?;
                        }
                    }
                }
                if at != 0 {
                    expiry.insert(expiry_key(at, key), &[])?;
                }
                data.insert(key, encode(&value, at))?;
                Ok(answer)
            }),
        )
    }

    /// Removes `key`'s entry, its expiry entry and its count; whether it was live.
    fn remove(&self, key: &str) -> Result<bool, StoreError> {
        let key = key.as_bytes();
        outcome(
            (&self.data, &self.expiry, &self.held).transaction(|(data, expiry, held)| {
                let Some(raw) = data.remove(key)? else {
                    return Ok(false);
                };
                let at = expires_of(&raw);
                if at != 0 {
                    expiry.remove(expiry_key(at, key))?;
                }
                uncount(held, space(key))?;
                Ok(live(&raw, now_ms()))
            }),
        )
    }

    /// Removes up to `limit` expired entries, earliest expiry first. Returns how many
    /// were removed and whether more expiry entries may be due.
    fn reclaim(&self, limit: usize) -> Result<(usize, bool), StoreError> {
        let end = now_ms().saturating_add(1).to_be_bytes();
        let due = self
            .expiry
            .range(..end.as_slice())
            .take(limit)
            .map(|item| item.map(|(entry, _)| entry))
            .collect::<Result<Vec<IVec>, _>>()
            .map_err(failed)?;
        let mut reclaimed = 0;
        for entry in &due {
            let at = leading_u64(entry);
            let key = entry.get(HEADER..).unwrap_or_default();
            let removed = outcome((&self.data, &self.expiry, &self.held).transaction(
                |(data, expiry, held)| {
                    expiry.remove(entry)?;
                    // An entry set again since has another expiry (and expiry entry).
                    match data.get(key)? {
                        Some(raw) if expires_of(&raw) == at => {
                            data.remove(key)?;
                            uncount(held, space(key))?;
                            Ok(true)
                        }
                        _ => Ok(false),
                    }
                },
            ))?;
            reclaimed += usize::from(removed);
        }
        Ok((reclaimed, due.len() == limit))
    }

    /// Builds the counts (and the expiry entries) from the data, once: for a database
    /// written before counts existed.
    fn count_all(&self, meta: &Tree) -> Result<(), String> {
        if meta.get(COUNTED).map_err(|e| e.to_string())?.is_some() {
            return Ok(());
        }
        self.held.clear().map_err(|e| e.to_string())?;
        self.expiry.clear().map_err(|e| e.to_string())?;
        let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
        for item in self.data.iter() {
            let (key, raw) = item.map_err(|e| e.to_string())?;
            *counts.entry(space(&key).to_vec()).or_default() += 1;
            let at = expires_of(&raw);
            if at != 0 {
                self.expiry
                    .insert(expiry_key(at, &key), &[])
                    .map_err(|e| e.to_string())?;
            }
        }
        for (space, n) in counts {
            self.held
                .insert(space, &n.to_be_bytes())
                .map_err(|e| e.to_string())?;
        }
        meta.insert(COUNTED, &[]).map_err(|e| e.to_string())?;
        Ok(())
    }
}

impl Sled {
    /// Opens (creating) the database in `path`; see [`super::Backend::Sled`] for
    /// `flush_every` and `cache_bytes`.
    pub fn open(
        path: &Path,
        flush_every: Option<Duration>,
        cache_bytes: u64,
    ) -> Result<Self, String> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .flush_every_ms(flush_every.map(|d| d.as_millis().max(1) as u64))
            .open()
            .map_err(|e| {
                if e.to_string().contains("could not acquire lock") {
                    format!(
                        "{} is in use by another process (a running pier?)",
                        path.display()
                    )
                } else {
                    format!("cannot open {}: {e}", path.display())
                }
            })?;
        let tree = |name: &str| db.open_tree(name).map_err(|e| e.to_string());
        let trees = Trees {
            data: tree("data")?,
            expiry: tree("expiry")?,
            held: tree("held")?,
        };
        trees.count_all(&tree("meta")?)?;
        db.flush().map_err(|e| e.to_string())?;
        Ok(Self {
            db,
            trees,
            flush_each_write: flush_every.is_none(),
        })
    }

    /// Makes the writes so far durable, when every write must be.
    ///
    /// sled 0.34's `flush_async` can deadlock when several flushes run at once (its
    /// issue #1308), so the blocking `flush` runs on tokio's blocking pool instead.
    async fn flushed<T>(&self, value: T) -> Result<T, StoreError> {
        if self.flush_each_write {
            let db = self.db.clone();
            tokio::task::spawn_blocking(move || db.flush())
                .await
                .map_err(failed)?
                .map_err(failed)?;
        }
        Ok(value)
    }

    /// [`Trees::write`], trying again once after reclaiming a batch of expired entries
    /// (on the blocking pool) when the space is full; then flushed.
    async fn write<T>(
        &self,
        key: &str,
        max_keys: Option<usize>,
        change: impl Fn(Option<&[u8]>, u64) -> Result<Change<T>, StoreError>,
    ) -> Result<T, StoreError> {
        let answer = match self.trees.write(key, max_keys, &change) {
            Err(StoreError::Full { .. }) => {
                let trees = self.trees.clone();
                tokio::task::spawn_blocking(move || trees.reclaim(RECLAIM_BATCH))
                    .await
                    .map_err(failed)??;
                self.trees.write(key, max_keys, &change)?
            }
            other => other?,
        };
        self.flushed(answer).await
    }
}

impl KeyValue for Sled {
    fn backend(&self) -> &'static str {
        "sled"
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let raw = self.trees.data.get(key).map_err(failed)?;
            Ok(raw
                .filter(|raw| live(raw, now_ms()))
                .map(|raw| value_of(&raw).to_vec()))
        })
    }

    fn set_within<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Option<Duration>,
        max_keys: Option<usize>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let at = expires_at(ttl);
            self.write(key, max_keys, |_, _| {
                Ok(Change::Put {
                    value: value.clone(),
                    at,
                    answer: (),
                })
            })
            .await
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let existed = self.trees.remove(key)?;
            self.flushed(existed).await
        })
    }

    fn list<'a>(
        &'a self,
        prefix: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page> {
        Box::pin(async move {
            let now = now_ms();
            let start = match after {
                Some(after) if after >= prefix => {
                    std::ops::Bound::Excluded(after.as_bytes().to_vec())
                }
                _ => std::ops::Bound::Included(prefix.as_bytes().to_vec()),
            };
            let mut keys = Vec::new();
            for item in self.trees.data.range((start, std::ops::Bound::Unbounded)) {
                let (k, raw) = item.map_err(failed)?;
                let Ok(k) = std::str::from_utf8(&k) else {
                    continue;
                };
                if !k.starts_with(prefix) {
                    break;
                }
                if live(&raw, now) && in_page(k, prefix, after) {
                    keys.push(k.to_string());
                    if keys.len() > limit {
                        break;
                    }
                }
            }
            Ok(Page::of(keys, limit))
        })
    }

    fn increment_within<'a>(
        &'a self,
        key: &'a str,
        by: i64,
        max_keys: Option<usize>,
    ) -> StoreFuture<'a, i64> {
        Box::pin(async move {
            self.write(key, max_keys, |value, at| {
                let sum = add(key, parse_integer(key, value)?, by)?;
                Ok(Change::Put {
                    value: sum.to_string().into_bytes(),
                    at,
                    answer: sum,
                })
            })
            .await
        })
    }

    fn compare_and_set_within<'a>(
        &'a self,
        key: &'a str,
        expected: Option<&'a [u8]>,
        new: Vec<u8>,
        ttl: Option<Duration>,
        max_keys: Option<usize>,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let at = expires_at(ttl);
            self.write(key, max_keys, |value, _| {
                Ok(if value == expected {
                    Change::Put {
                        value: new.clone(),
                        at,
                        answer: true,
                    }
                } else {
                    Change::Keep(false)
                })
            })
            .await
        })
    }

    fn held<'a>(&'a self, space: &'a str) -> StoreFuture<'a, usize> {
        Box::pin(async move {
            let raw = self.trees.held.get(space).map_err(failed)?;
            Ok(count_of(raw) as usize)
        })
    }

    fn purge_expired(&self) -> StoreFuture<'_, usize> {
        let trees = self.trees.clone();
        Box::pin(async move {
            let purged = tokio::task::spawn_blocking(move || {
                let mut purged = 0;
                loop {
                    let (reclaimed, more) = trees.reclaim(PURGE_BATCH)?;
                    purged += reclaimed;
                    if !more {
                        return Ok::<_, StoreError>(purged);
                    }
                }
            })
            .await
            .map_err(failed)??;
            self.flushed(purged).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> Sled {
        Sled::open(&dir.join("store"), None, 8 << 20).unwrap()
    }

    #[tokio::test]
    async fn an_entry_has_one_expiry_entry_however_often_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        for i in 0..200u64 {
            let ttl = Some(Duration::from_secs(3600 + i));
            store.set("plugin/p/k", vec![1], ttl).await.unwrap();
        }
        store.increment("plugin/p/n", 1).await.unwrap();
        assert_eq!(store.trees.expiry.len(), 1);
        store.set("plugin/p/k", vec![1], None).await.unwrap();
        assert_eq!(store.trees.expiry.len(), 0, "no expiry: no expiry entry");
        store
            .set("plugin/p/k", vec![1], Some(Duration::from_secs(60)))
            .await
            .unwrap();
        assert_eq!(store.delete("plugin/p/k").await, Ok(true));
        assert_eq!(store.trees.expiry.len(), 0);
        assert_eq!(store.held("plugin/p/").await, Ok(1));
    }

    #[tokio::test]
    async fn a_database_without_counts_is_counted_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let later = now_ms() + 3_600_000;
        {
            // The layout before counts: `data` and `expiry` only, with a stale
            // expiry entry of a key written again since.
            let db = sled::open(dir.path().join("store")).unwrap();
            let data = db.open_tree("data").unwrap();
            let expiry = db.open_tree("expiry").unwrap();
            for key in ["plugin/a/1", "plugin/a/2", "plugin/b/1", "top"] {
                data.insert(key, encode(b"v", 0)).unwrap();
            }
            data.insert("plugin/a/t", encode(b"v", later)).unwrap();
            expiry
                .insert(expiry_key(later, b"plugin/a/t"), &[])
                .unwrap();
            expiry.insert(expiry_key(5, b"plugin/a/1"), &[]).unwrap();
            db.flush().unwrap();
        }
        let store = open(dir.path());
        assert_eq!(store.held("plugin/a/").await, Ok(3));
        assert_eq!(store.held("plugin/b/").await, Ok(1));
        assert_eq!(store.held("").await, Ok(1));
        assert_eq!(store.trees.expiry.len(), 1, "the stale entry is gone");
        // The counts are kept from then on, and built once only.
        store.delete("plugin/a/1").await.unwrap();
        drop(store);
        let store = open(dir.path());
        assert_eq!(store.held("plugin/a/").await, Ok(2));
        assert_eq!(store.get("plugin/a/t").await, Ok(Some(b"v".to_vec())));
    }
}
