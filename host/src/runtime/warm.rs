//! Warm instances kept between calls, for plugins that reuse them: each one belongs to
//! one trust scope (a session, or the whole plugin when the operator allows it) and is
//! handed only to calls of that scope; it serves at most `max-calls` calls, is dropped
//! after `idle` without one, and at most `capacity` wait per plugin (the least recently
//! used goes first). A warm instance is taken out while a call runs on it, so two calls
//! never enter one instance; a call that fails in any way (trap, timeout, cancellation,
//! out of memory) simply never puts its instance back.
//!
//! Generic over what an instance is, so the bookkeeping is tested without wasmtime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long and how much warm instances may live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReusePolicy {
    /// Calls one instance serves before it is dropped.
    pub max_calls: u32,
    /// Time an instance may wait for its next call.
    pub idle: Duration,
    /// Instances that may wait at once, all scopes together.
    pub capacity: usize,
}

impl Default for ReusePolicy {
    fn default() -> Self {
        Self {
            max_calls: 1000,
            idle: Duration::from_secs(30),
            capacity: 4,
        }
    }
}

/// An instance between calls: what it is, whose it is, how much it served.
pub struct Warm<T> {
    /// The instance.
    pub instance: T,
    /// `None`: an instance no pool keeps (its call reuses nothing).
    scope: Option<Arc<str>>,
    calls: u32,
    since: Instant,
}

impl<T> Warm<T> {
    /// A new instance for `scope`, about to serve its first call.
    pub fn new(instance: T, scope: Option<Arc<str>>) -> Self {
        Self {
            instance,
            scope,
            calls: 0,
            since: Instant::now(),
        }
    }

    /// Calls it served.
    pub fn calls(&self) -> u32 {
        self.calls
    }
}

/// The warm instances of one plugin.
pub struct WarmPool<T> {
    policy: ReusePolicy,
    waiting: Mutex<Waiting<T>>,
}

struct Waiting<T> {
    by_scope: HashMap<Arc<str>, Vec<Warm<T>>>,
    count: usize,
}

impl<T> WarmPool<T> {
    /// An empty pool under `policy`.
    pub fn new(policy: ReusePolicy) -> Self {
        Self {
            policy,
            waiting: Mutex::new(Waiting {
                by_scope: HashMap::new(),
                count: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting<T>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently used instance of `scope` that has not idled past the policy,
    /// if any; expired ones met on the way are dropped (outside the lock).
    pub fn take(&self, scope: &str, now: Instant) -> Option<Warm<T>> {
        let mut expired = Vec::new();
        let taken = {
            let mut waiting = self.lock();
            let mut taken = None;
            if let Some(list) = waiting.by_scope.get_mut(scope) {
                while let Some(warm) = list.pop() {
                    if now.saturating_duration_since(warm.since) > self.policy.idle {
                        expired.push(warm);
                    } else {
                        taken = Some(warm);
                        break;
                    }
                }
                if list.is_empty() {
                    waiting.by_scope.remove(scope);
                }
            }
            waiting.count -= expired.len() + usize::from(taken.is_some());
            taken
        };
        drop(expired);
        taken
    }

    /// Puts `warm` back after a call it served well. It is dropped instead when it has
    /// served `max-calls`; when the pool is full, the least recently used instance of
    /// any scope makes room. Whether `warm` was kept.
    pub fn put(&self, mut warm: Warm<T>, now: Instant) -> bool {
        warm.calls = warm.calls.saturating_add(1);
        if warm.calls >= self.policy.max_calls || self.policy.capacity == 0 {
            return false;
        }
        let Some(scope) = warm.scope.clone() else {
            return false;
        };
        warm.since = now;
        let evicted = {
            let mut waiting = self.lock();
            let evicted = if waiting.count >= self.policy.capacity {
                waiting.remove_oldest()
            } else {
                None
            };
            waiting.by_scope.entry(scope).or_default().push(warm);
            waiting.count += 1;
            evicted
        };
        drop(evicted);
        true
    }

    /// Drops every instance idle past the policy; how many.
    pub fn sweep(&self, now: Instant) -> usize {
        let idle = self.policy.idle;
        let mut expired = Vec::new();
        {
            let mut waiting = self.lock();
            waiting.by_scope.retain(|_, list| {
                let (old, fresh): (Vec<_>, Vec<_>) = std::mem::take(list)
                    .into_iter()
                    .partition(|w| now.saturating_duration_since(w.since) > idle);
                expired.extend(old);
                *list = fresh;
                !list.is_empty()
            });
            waiting.count -= expired.len();
        }
        expired.len()
    }

    /// Drops every instance of `scope` (its session ended); how many.
    pub fn forget(&self, scope: &str) -> usize {
        let forgotten = {
            let mut waiting = self.lock();
            let forgotten = waiting.by_scope.remove(scope).unwrap_or_default();
            waiting.count -= forgotten.len();
            forgotten
        };
        forgotten.len()
    }

    /// Instances waiting now.
    pub fn len(&self) -> usize {
        self.lock().count
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Waiting<T> {
    /// Removes the instance that waited longest, of any scope.
    fn remove_oldest(&mut self) -> Option<Warm<T>> {
        let scope = self
            .by_scope
            .iter()
            .filter_map(|(scope, list)| list.first().map(|w| (w.since, scope.clone())))
            .min_by_key(|(since, _)| *since)
            .map(|(_, scope)| scope)?;
        let list = self.by_scope.get_mut(&scope)?;
        // Each list is in the order its instances came back: the first waited longest.
        let oldest = list.remove(0);
        if list.is_empty() {
            self.by_scope.remove(&scope);
        }
        self.count -= 1;
        Some(oldest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(max_calls: u32, capacity: usize) -> WarmPool<&'static str> {
        WarmPool::new(ReusePolicy {
            max_calls,
            idle: Duration::from_secs(30),
            capacity,
        })
    }

    #[test]
    fn an_instance_serves_only_its_own_scope() {
        let pool = pool(1000, 4);
        let now = Instant::now();
        assert!(pool.put(Warm::new("a's", Some("session-a".into())), now));
        assert!(
            pool.take("session-b", now).is_none(),
            "never another scope's"
        );
        let again = pool.take("session-a", now).expect("its own scope's");
        assert_eq!((again.instance, again.calls()), ("a's", 1));
        assert!(
            pool.take("session-a", now).is_none(),
            "taken: not handed out twice"
        );
        assert!(pool.is_empty());
    }

    #[test]
    fn an_instance_is_dropped_after_max_calls() {
        let pool = pool(3, 4);
        let now = Instant::now();
        let mut warm = Warm::new("x", Some("s".into()));
        for served in 1..3 {
            assert!(pool.put(warm, now));
            warm = pool.take("s", now).unwrap();
            assert_eq!(warm.calls(), served);
        }
        assert!(!pool.put(warm, now), "its third call was its last");
        assert!(pool.is_empty());
    }

    #[test]
    fn idle_instances_expire_on_take_and_on_sweep() {
        let pool = pool(1000, 4);
        let now = Instant::now();
        assert!(pool.put(Warm::new("old", Some("s".into())), now));
        assert!(pool.put(Warm::new("other", Some("t".into())), now));
        let later = now + Duration::from_secs(31);
        assert!(pool.take("s", later).is_none(), "idle past 30 s");
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.sweep(now + Duration::from_secs(10)), 0);
        assert_eq!(pool.sweep(later), 1);
        assert!(pool.is_empty());
    }

    #[test]
    fn a_full_pool_drops_the_least_recently_used_of_any_scope() {
        let pool = pool(1000, 2);
        let now = Instant::now();
        assert!(pool.put(Warm::new("first", Some("a".into())), now));
        assert!(pool.put(
            Warm::new("second", Some("b".into())),
            now + Duration::from_secs(1)
        ));
        assert!(pool.put(
            Warm::new("third", Some("a".into())),
            now + Duration::from_secs(2)
        ));
        assert_eq!(pool.len(), 2);
        let at = now + Duration::from_secs(3);
        assert_eq!(pool.take("a", at).map(|w| w.instance), Some("third"));
        assert!(pool.take("a", at).is_none(), "`first` made room");
        assert_eq!(pool.take("b", at).map(|w| w.instance), Some("second"));
    }

    #[test]
    fn a_scope_that_ended_is_forgotten() {
        let pool = pool(1000, 4);
        let now = Instant::now();
        assert!(pool.put(Warm::new("a1", Some("a".into())), now));
        assert!(pool.put(Warm::new("a2", Some("a".into())), now));
        assert!(pool.put(Warm::new("b", Some("b".into())), now));
        assert_eq!(pool.forget("a"), 2);
        assert_eq!(pool.forget("a"), 0);
        assert_eq!(pool.len(), 1);
        assert!(pool.take("b", now).is_some());
    }

    #[test]
    fn a_pool_of_no_capacity_keeps_nothing() {
        let pool = pool(1000, 0);
        assert!(!pool.put(Warm::new("x", Some("s".into())), Instant::now()));
        assert!(pool.is_empty());
    }
}
