//! The `memory` backend: an ordered map in the server's memory, gone at exit. For tests,
//! and for state that may be lost (a single instance's caches).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{KeyValue, Page, StoreFuture, add, in_page, parse_integer};

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

/// An in-memory store.
#[derive(Debug, Default)]
pub struct Memory {
    map: Mutex<BTreeMap<String, Entry>>,
}

fn deadline(ttl: Option<Duration>) -> Option<Instant> {
    ttl.map(|ttl| Instant::now() + ttl)
}

impl Memory {
    fn map(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live value of `key`, dropping it when it expired.
    fn live<'m>(map: &'m mut BTreeMap<String, Entry>, key: &str) -> Option<&'m mut Entry> {
        let now = Instant::now();
        if map.get(key).is_some_and(|e| !e.live(now)) {
            map.remove(key);
        }
        map.get_mut(key)
    }
}

impl KeyValue for Memory {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        let value = Self::live(&mut self.map(), key).map(|e| e.value.clone());
        Box::pin(async move { Ok(value) })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()> {
        self.map().insert(
            key.to_string(),
            Entry {
                value,
                expires: deadline(ttl),
            },
        );
        Box::pin(async { Ok(()) })
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

    fn increment<'a>(&'a self, key: &'a str, by: i64) -> StoreFuture<'a, i64> {
        let result = (|| {
            let mut map = self.map();
            let entry = Self::live(&mut map, key);
            let current = parse_integer(key, entry.as_ref().map(|e| e.value.as_slice()))?;
            let sum = add(key, current, by)?;
            let value = sum.to_string().into_bytes();
            match entry {
                Some(entry) => entry.value = value,
                None => {
                    map.insert(
                        key.to_string(),
                        Entry {
                            value,
                            expires: None,
                        },
                    );
                }
            }
            Ok(sum)
        })();
        Box::pin(async move { result })
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<&'a [u8]>,
        new: Vec<u8>,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, bool> {
        let mut map = self.map();
        let current = Self::live(&mut map, key).map(|e| e.value.as_slice());
        let swapped = current == expected;
        if swapped {
            map.insert(
                key.to_string(),
                Entry {
                    value: new,
                    expires: deadline(ttl),
                },
            );
        }
        Box::pin(async move { Ok(swapped) })
    }

    fn count<'a>(&'a self, prefix: &'a str, at_most: usize) -> StoreFuture<'a, usize> {
        let now = Instant::now();
        let n = self
            .map()
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, e)| e.live(now))
            .take(at_most)
            .count();
        Box::pin(async move { Ok(n) })
    }

    fn purge_expired(&self) -> StoreFuture<'_, usize> {
        let now = Instant::now();
        let mut map = self.map();
        let before = map.len();
        map.retain(|_, e| e.live(now));
        let purged = before - map.len();
        Box::pin(async move { Ok(purged) })
    }
}
