//! The `sled` backend, pier's default: an embedded database under the data dir.
//!
//! Each value is stored behind an 8-byte header, its expiry in milliseconds since the
//! Unix epoch (0 = never). Expiring keys are also listed in a second tree ordered by
//! expiry, so that [`KeyValue::purge_expired`] finds them without a full scan; an expired
//! key met by any operation is removed on the spot.
//!
//! Durability: by default every write is flushed to disk before it is acknowledged (a
//! write a plugin saw succeed survives `kill -9`); `storage.flush-ms` trades that for
//! background flushes, losing at most that window on a crash.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sled::{CompareAndSwapError, IVec, Tree};

use super::{KeyValue, Page, StoreError, StoreFuture, add, in_page, parse_integer};

const HEADER: usize = 8;

/// A sled database.
pub struct Sled {
    db: sled::Db,
    data: Tree,
    expiry: Tree,
    flush_each_write: bool,
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

fn expires_of(raw: &[u8]) -> u64 {
    raw.get(..HEADER)
        .map_or(0, |h| u64::from_be_bytes(h.try_into().expect("8 bytes")))
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

impl Sled {
    /// Opens (creating) the database in `path`; see [`super::Backend::Sled`] for
    /// `flush_every`.
    pub fn open(path: &Path, flush_every: Option<Duration>) -> Result<Self, String> {
        let db = sled::Config::new()
            .path(path)
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
        let data = db.open_tree("data").map_err(|e| e.to_string())?;
        let expiry = db.open_tree("expiry").map_err(|e| e.to_string())?;
        Ok(Self {
            db,
            data,
            expiry,
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

    /// Records that `key` expires at `at` (nothing when it never does).
    fn index(&self, key: &str, at: u64) -> Result<(), StoreError> {
        if at != 0 {
            self.expiry
                .insert(expiry_key(at, key.as_bytes()), &[])
                .map_err(failed)?;
        }
        Ok(())
    }

    /// The raw entry of `key` if it is live; an expired one is removed.
    fn current(&self, key: &str) -> Result<Option<IVec>, StoreError> {
        let Some(raw) = self.data.get(key).map_err(failed)? else {
            return Ok(None);
        };
        if live(&raw, now_ms()) {
            return Ok(Some(raw));
        }
        // Only this exact expired entry: a concurrent writer may have replaced it.
        let _ = self
            .data
            .compare_and_swap(key, Some(&raw), None as Option<&[u8]>)
            .map_err(failed)?;
        Ok(None)
    }

    /// Replaces the raw entry `current` of `key` by `new`, atomically; false when
    /// another writer changed it first.
    fn swap(&self, key: &str, current: Option<&IVec>, new: Vec<u8>) -> Result<bool, StoreError> {
        match self
            .data
            .compare_and_swap(key, current.map(|c| c.as_ref()), Some(new))
            .map_err(failed)?
        {
            Ok(()) => Ok(true),
            Err(CompareAndSwapError { .. }) => Ok(false),
        }
    }
}

impl KeyValue for Sled {
    fn backend(&self) -> &'static str {
        "sled"
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move { Ok(self.current(key)?.map(|raw| raw[HEADER..].to_vec())) })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let at = expires_at(ttl);
            self.index(key, at)?;
            self.data.insert(key, encode(&value, at)).map_err(failed)?;
            self.flushed(()).await
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let existed = self
                .data
                .remove(key)
                .map_err(failed)?
                .is_some_and(|raw| live(&raw, now_ms()));
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
            for item in self.data.range((start, std::ops::Bound::Unbounded)) {
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

    fn increment<'a>(&'a self, key: &'a str, by: i64) -> StoreFuture<'a, i64> {
        Box::pin(async move {
            loop {
                let current = self.current(key)?;
                let value = current.as_ref().map(|raw| &raw[HEADER..]);
                let sum = add(key, parse_integer(key, value)?, by)?;
                let at = current.as_ref().map_or(0, |raw| expires_of(raw));
                if self.swap(
                    key,
                    current.as_ref(),
                    encode(sum.to_string().as_bytes(), at),
                )? {
                    return self.flushed(sum).await;
                }
            }
        })
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<&'a [u8]>,
        new: Vec<u8>,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let at = expires_at(ttl);
            let new = encode(&new, at);
            loop {
                let current = self.current(key)?;
                if current.as_ref().map(|raw| &raw[HEADER..]) != expected {
                    return Ok(false);
                }
                self.index(key, at)?;
                if self.swap(key, current.as_ref(), new.clone())? {
                    return self.flushed(true).await;
                }
            }
        })
    }

    fn count<'a>(&'a self, prefix: &'a str, at_most: usize) -> StoreFuture<'a, usize> {
        // A scan of up to `at_most` entries: on the blocking pool, not an async thread.
        let data = self.data.clone();
        let prefix = prefix.to_string();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let now = now_ms();
                let mut n = 0;
                for item in data.scan_prefix(prefix) {
                    let (_, raw) = item.map_err(failed)?;
                    if live(&raw, now) {
                        n += 1;
                        if n >= at_most {
                            break;
                        }
                    }
                }
                Ok(n)
            })
            .await
            .map_err(failed)?
        })
    }

    fn purge_expired(&self) -> StoreFuture<'_, usize> {
        Box::pin(async move {
            let now = now_ms();
            let mut purged = 0;
            let end = (now + 1).to_be_bytes();
            for item in self.expiry.range(..end.as_slice()) {
                let (entry, _) = item.map_err(failed)?;
                let (at, key) = entry.split_at(HEADER);
                let at = u64::from_be_bytes(at.try_into().expect("8 bytes"));
                if let Some(raw) = self.data.get(key).map_err(failed)?
                    && expires_of(&raw) == at
                    && self
                        .data
                        .compare_and_swap(key, Some(&raw), None as Option<&[u8]>)
                        .map_err(failed)?
                        .is_ok()
                {
                    purged += 1;
                }
                // A key set again since has a new expiry (and index entry) or none.
                self.expiry.remove(&entry).map_err(failed)?;
            }
            self.flushed(purged).await
        })
    }
}
