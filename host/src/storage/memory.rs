//! The `memory` backend: an ordered map in the server's memory, gone at exit. For tests,
//! and for state that may be lost (a single instance's caches).
//!
//! One mutex guards the entries, the count of each space and an index of expiries, so
//! every operation sees and changes the three together.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{
    KeyValue, Page, RECLAIM_BATCH, StoreError, StoreFuture, add, in_page, parse_integer, space_of,
};

#[derive(Debug, Clone)]
struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

#[derive(Debug, Default)]
struct Map {
    entries: BTreeMap<String, Entry>,
    /// The count of every space with keys.
    held: HashMap<String, usize>,
    /// `(expiry, key)` of every entry that expires.
    expiries: BTreeSet<(Instant, String)>,
}

impl Map {
    /// The value of `key` when it is live (an expired entry stays until reclaimed).
    fn live(&self, key: &str, now: Instant) -> Option<&Entry> {
        self.entries.get(key).filter(|e| e.live(now))
    }

    /// Counts `key` in its space if it is new; [`StoreError::Full`] when the space
    /// still holds `max_keys` after a batch of expired entries is reclaimed.
    fn room(&mut self, key: &str, max_keys: Option<usize>) -> Result<(), StoreError> {
        if self.entries.contains_key(key) {
            return Ok(());
        }
        let space = space_of(key);
        let held = |map: &Self| map.held.get(space).copied().unwrap_or(0);
        if let Some(max) = max_keys
            && held(self) >= max
        {
            self.reclaim(RECLAIM_BATCH);
            let now_held = held(self);
            if now_held >= max {
                return Err(StoreError::Full {
                    space: space.to_string(),
                    held: now_held,
                });
            }
        }
        *self.held.entry(space.to_string()).or_default() += 1;
        Ok(())
    }

    /// Stores `entry` under `key`, whose room was made.
    fn put(&mut self, key: &str, entry: Entry) {
        let at = entry.expires;
        if let Some(old) = self.entries.insert(key.to_string(), entry)
            && let Some(old_at) = old.expires
        {
            self.expiries.remove(&(old_at, key.to_string()));
        }
        if let Some(at) = at {
            self.expiries.insert((at, key.to_string()));
        }
    }

    /// Removes `key`'s entry, live or not.
    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        if let Some(at) = entry.expires {
            self.expiries.remove(&(at, key.to_string()));
        }
        let space = space_of(key);
        if let Some(n) = self.held.get_mut(space) {
            *n -= 1;
            if *n == 0 {
                self.held.remove(space);
            }
        }
        Some(entry)
    }

    /// Removes up to `limit` expired entries, earliest first; how many.
    fn reclaim(&mut self, limit: usize) -> usize {
        let now = Instant::now();
        let due: Vec<String> = self
            .expiries
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .map(|(_, key)| key.clone())
            .collect();
        for key in &due {
            self.remove(key);
        }
        due.len()
    }
}

/// An in-memory store.
#[derive(Debug, Default)]
pub struct Memory {
    map: Mutex<Map>,
}

fn deadline(ttl: Option<Duration>) -> Option<Instant> {
    ttl.map(|ttl| Instant::now() + ttl)
}

impl Memory {
    fn map(&self) -> MutexGuard<'_, Map> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl KeyValue for Memory {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        let value = self
            .map()
            .live(key, Instant::now())
            .map(|e| e.value.clone());
        Box::pin(async move { Ok(value) })
    }

    fn set_within<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Option<Duration>,
        max_keys: Option<usize>,
    ) -> StoreFuture<'a, ()> {
        let result = (|| {
            let mut map = self.map();
            map.room(key, max_keys)?;
            map.put(
                key,
                Entry {
                    value,
                    expires: deadline(ttl),
                },
            );
            Ok(())
        })();
        Box::pin(async move { result })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, bool> {
        let now = Instant::now();
        let existed = self.map().remove(key).is_some_and(|e| e.live(now));
        Box::pin(async move { Ok(existed) })
    }

    fn list<'a>(
        &'a self,
        prefix: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page> {
        let now = Instant::now();
        let map = self.map();
        let start = match after {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        let keys: Vec<String> = map
            .entries
            .range::<str, _>((start, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(k, e)| e.live(now) && in_page(k, prefix, after))
            .map(|(k, _)| k.clone())
            .take(limit + 1)
            .collect();
        drop(map);
        let page = Page::of(keys, limit);
        Box::pin(async move { Ok(page) })
    }

    fn increment_within<'a>(
        &'a self,
        key: &'a str,
        by: i64,
        max_keys: Option<usize>,
    ) -> StoreFuture<'a, i64> {
        let result = (|| {
            let mut map = self.map();
            let live = map.live(key, Instant::now());
            let sum = add(
                key,
                parse_integer(key, live.map(|e| e.value.as_slice()))?,
                by,
            )?;
            let expires = live.and_then(|e| e.expires);
            map.room(key, max_keys)?;
            map.put(
                key,
                Entry {
                    value: sum.to_string().into_bytes(),
                    expires,
                },
            );
            Ok(sum)
        })();
        Box::pin(async move { result })
    }

    fn compare_and_set_within<'a>(
        &'a self,
        key: &'a str,
        expected: Option<&'a [u8]>,
        new: Vec<u8>,
        ttl: Option<Duration>,
        max_keys: Option<usize>,
    ) -> StoreFuture<'a, bool> {
        let result = (|| {
            let mut map = self.map();
            let current = map.live(key, Instant::now()).map(|e| e.value.as_slice());
            if current != expected {
                return Ok(false);
            }
            map.room(key, max_keys)?;
            map.put(
                key,
                Entry {
                    value: new,
                    expires: deadline(ttl),
                },
            );
            Ok(true)
        })();
        Box::pin(async move { result })
    }

    fn held<'a>(&'a self, space: &'a str) -> StoreFuture<'a, usize> {
        let n = self.map().held.get(space).copied().unwrap_or(0);
        Box::pin(async move { Ok(n) })
    }

    fn purge_expired(&self) -> StoreFuture<'_, usize> {
        let purged = self.map().reclaim(usize::MAX);
        Box::pin(async move { Ok(purged) })
    }
}
