//! The storage conformance suite: the same test functions run against every backend
//! (`memory`, `sled` in a temporary directory, `redis` on a `redis-server` of its own),
//! through the `KeyValue` trait and through a plugin's view of it (`PluginStore`).

#[path = "storage/backends.rs"]
mod backends;
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::RedisServer;
use pier::storage::{
    self, Backend, KeyValue, Page, PluginStore, Quota, ScopedError, StoreError, bus,
};

/// A fresh, empty store of one backend, with what keeps it alive.
struct Fixture {
    store: Arc<dyn KeyValue>,
    _dir: tempfile::TempDir,
    _redis: Option<RedisServer>,
}

impl Fixture {
    fn memory() -> Self {
        Self::open(&Backend::Memory, None)
    }

    fn sled() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::Sled {
            path: dir.path().join("store"),
            flush_every: None,
            cache_bytes: 16 << 20,
        };
        let store = storage::open(&backend).unwrap();
        Self {
            store,
            _dir: dir,
            _redis: None,
        }
    }

    fn redis() -> Self {
        let redis = RedisServer::start();
        let backend = Backend::Redis {
            url: redis.url(),
            prefix: "pier:".into(),
        };
        Self::open(&backend, Some(redis))
    }

    fn open(backend: &Backend, redis: Option<RedisServer>) -> Self {
        Self {
            store: storage::open(backend).unwrap(),
            _dir: tempfile::tempdir().unwrap(),
            _redis: redis,
        }
    }

    fn plugin(&self, name: &str, quota: Quota) -> PluginStore {
        PluginStore::new(self.store.clone(), name, quota)
    }
}

async fn value(store: &dyn KeyValue, key: &str) -> Option<String> {
    store
        .get(key)
        .await
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap())
}

async fn basics(f: Fixture) {
    let s = &*f.store;
    assert_eq!(s.get("a").await, Ok(None));
    s.set("a", b"1".to_vec(), None).await.unwrap();
    assert_eq!(value(s, "a").await.as_deref(), Some("1"));
    s.set("a", b"2".to_vec(), None).await.unwrap();
    assert_eq!(value(s, "a").await.as_deref(), Some("2"));
    assert_eq!(s.delete("a").await, Ok(true));
    assert_eq!(s.delete("a").await, Ok(false));
    assert_eq!(s.get("a").await, Ok(None));
    // Empty values and any bytes are values like others.
    s.set("empty", Vec::new(), None).await.unwrap();
    assert_eq!(s.get("empty").await, Ok(Some(Vec::new())));
    let bytes: Vec<u8> = (0..=255).collect();
    s.set("bytes", bytes.clone(), None).await.unwrap();
    assert_eq!(s.get("bytes").await, Ok(Some(bytes)));
}

async fn ttl_expiry(f: Fixture) {
    let s = &*f.store;
    let short = Some(Duration::from_millis(300));
    s.set("gone", b"x".to_vec(), short).await.unwrap();
    s.set("also-gone", b"y".to_vec(), short).await.unwrap();
    s.set("kept", b"z".to_vec(), None).await.unwrap();
    // A key set again without a TTL loses its expiry.
    s.set("renewed", b"1".to_vec(), short).await.unwrap();
    s.set("renewed", b"2".to_vec(), None).await.unwrap();
    // increment keeps the expiry of the key.
    s.set("counter", b"1".to_vec(), short).await.unwrap();
    assert_eq!(s.increment("counter", 1).await, Ok(2));
    assert_eq!(value(s, "gone").await.as_deref(), Some("x"));
    assert_eq!(s.held("").await, Ok(5));

    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        s.purge_expired().await,
        Ok(3),
        "gone, also-gone and counter"
    );
    assert_eq!(s.purge_expired().await, Ok(0));
    assert_eq!(s.get("gone").await, Ok(None));
    assert_eq!(s.get("counter").await, Ok(None));
    assert_eq!(value(s, "kept").await.as_deref(), Some("z"));
    assert_eq!(value(s, "renewed").await.as_deref(), Some("2"));
    assert_eq!(
        s.list("", None, 10).await.unwrap().keys,
        ["kept", "renewed"]
    );
    assert_eq!(s.held("").await, Ok(2));
    // Expired keys are absent for every operation, purged or not.
    s.set("lazy", b"1".to_vec(), Some(Duration::from_millis(100)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.get("lazy").await, Ok(None));
    assert_eq!(s.delete("lazy").await, Ok(false));
    assert_eq!(s.increment("lazy", 5).await, Ok(5));
    assert_eq!(s.list("l", None, 10).await.unwrap().keys, ["lazy"]);
}

async fn prefix_listing_with_pagination(f: Fixture) {
    let s = &*f.store;
    for i in 0..250 {
        s.set(&format!("p/{i:03}"), vec![1], None).await.unwrap();
    }
    for other in ["o/1", "p", "q/1", "p0"] {
        s.set(other, vec![1], None).await.unwrap();
    }
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let page = s.list("p/", after.as_deref(), 100).await.unwrap();
        pages.push(page.keys.len());
        all.extend(page.keys.iter().cloned());
        match page.next_cursor {
            Some(next) => {
                assert_eq!(Some(&next), page.keys.last(), "the cursor is the last key");
                after = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(pages, [100, 100, 50]);
    let expected: Vec<String> = (0..250).map(|i| format!("p/{i:03}")).collect();
    assert_eq!(all, expected);
    // A page that ends exactly at the last key has no next cursor.
    let exact = s.list("p/", Some("p/149"), 100).await.unwrap();
    assert_eq!(exact.keys.len(), 100);
    assert_eq!(exact.next_cursor, None);
    // A cursor before the prefix starts at the prefix; one past it gives nothing.
    assert_eq!(
        s.list("p/", Some("a"), 2).await.unwrap(),
        Page {
            keys: vec!["p/000".into(), "p/001".into()],
            next_cursor: Some("p/001".into()),
        }
    );
    assert_eq!(s.list("p/", Some("z"), 2).await.unwrap(), Page::default());
    assert_eq!(
        s.list("", None, 3).await.unwrap().keys,
        ["o/1", "p", "p/000"]
    );
    assert_eq!(s.list("nothing", None, 3).await.unwrap(), Page::default());
    // Keys sort bytewise, as UTF-8.
    s.set("u/é", vec![1], None).await.unwrap();
    s.set("u/z", vec![1], None).await.unwrap();
    s.set("u/A", vec![1], None).await.unwrap();
    assert_eq!(
        s.list("u/", None, 10).await.unwrap().keys,
        ["u/A", "u/z", "u/é"]
    );
    // Every key here has fewer than two `/`: all are counted in the space "".
    assert_eq!(s.held("").await, Ok(257));
    assert_eq!(s.held("p/").await, Ok(0));
}

/// Each space's count follows every write and delete; expired keys count until their
/// entries are reclaimed.
async fn held_counts_keys_by_space(f: Fixture) {
    let s = &*f.store;
    for key in ["plugin/a/1", "plugin/a/2", "plugin/b/1", "pier/x/1", "top"] {
        s.set(key, b"v".to_vec(), None).await.unwrap();
    }
    let held = |space: &'static str| async move { s.held(space).await.unwrap() };
    assert_eq!(
        [
            held("plugin/a/").await,
            held("plugin/b/").await,
            held("pier/x/").await
        ],
        [2, 1, 1]
    );
    assert_eq!(
        [
            held("").await,
            held("plugin/").await,
            held("plugin/c/").await
        ],
        [1, 0, 0]
    );
    // Writes to a key that exists do not count it again; new keys do, whichever write.
    s.set("plugin/a/1", b"w".to_vec(), Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(s.increment("plugin/a/n", 2).await, Ok(2));
    assert_eq!(s.increment("plugin/a/n", 2).await, Ok(4));
    assert_eq!(
        s.compare_and_set("plugin/a/c", None, b"1".to_vec(), None)
            .await,
        Ok(true)
    );
    assert_eq!(
        s.compare_and_set("plugin/a/d", Some(b"x"), b"1".to_vec(), None)
            .await,
        Ok(false)
    );
    assert_eq!(held("plugin/a/").await, 4);
    assert_eq!(s.delete("plugin/a/1").await, Ok(true));
    assert_eq!(s.delete("plugin/a/1").await, Ok(false));
    assert_eq!(s.delete("plugin/a/never").await, Ok(false));
    assert_eq!(held("plugin/a/").await, 3);
    // An expired key is invisible at once, and counted until reclaimed.
    s.set(
        "plugin/a/t",
        b"v".to_vec(),
        Some(Duration::from_millis(100)),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.get("plugin/a/t").await, Ok(None));
    assert_eq!(held("plugin/a/").await, 4);
    assert_eq!(s.purge_expired().await, Ok(1));
    assert_eq!(held("plugin/a/").await, 3);
    // At its limit a space refuses new keys, exactly, and changes nothing...
    let full = Err(StoreError::Full {
        space: "plugin/a/".into(),
        held: 3,
    });
    assert_eq!(
        s.set_within("plugin/a/x", b"v".to_vec(), None, Some(3))
            .await,
        full
    );
    assert_eq!(
        s.increment_within("plugin/a/x", 1, Some(3)).await.map(drop),
        full
    );
    assert_eq!(
        s.compare_and_set_within("plugin/a/x", None, b"v".to_vec(), None, Some(3))
            .await
            .map(drop),
        full
    );
    assert_eq!(s.get("plugin/a/x").await, Ok(None));
    assert_eq!(held("plugin/a/").await, 3);
    // ...but keys it has still change, and other spaces have room of their own.
    s.set_within("plugin/a/2", b"w".to_vec(), None, Some(3))
        .await
        .unwrap();
    assert_eq!(s.increment_within("plugin/a/n", 1, Some(3)).await, Ok(5));
    s.set_within("plugin/b/2", b"v".to_vec(), None, Some(3))
        .await
        .unwrap();
    // A write that finds its space full reclaims expired entries first.
    s.set(
        "plugin/a/2",
        b"v".to_vec(),
        Some(Duration::from_millis(100)),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.set_within("plugin/a/x", b"v".to_vec(), None, Some(3))
        .await
        .unwrap();
    assert_eq!(held("plugin/a/").await, 3);
    assert_eq!(
        s.list("plugin/a/", None, 10).await.unwrap().keys,
        ["plugin/a/c", "plugin/a/n", "plugin/a/x"]
    );
    assert_eq!(s.purge_expired().await, Ok(0), "reclaimed already");
}

/// Writers racing to create keys in one space: exactly the limit succeed.
async fn the_key_limit_is_exact_under_racing_writers(f: Fixture) {
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = f.store.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("plugin/race/{i}");
            match i % 3 {
                0 => store.set_within(&key, vec![1], None, Some(5)).await,
                1 => store.increment_within(&key, 1, Some(5)).await.map(drop),
                _ => store
                    .compare_and_set_within(&key, None, vec![1], None, Some(5))
                    .await
                    .map(drop),
            }
        }));
    }
    let mut written = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => written += 1,
            Err(e) => assert_eq!(
                e,
                StoreError::Full {
                    space: "plugin/race/".into(),
                    held: 5
                }
            ),
        }
    }
    assert_eq!(written, 5);
    assert_eq!(f.store.held("plugin/race/").await, Ok(5));
    assert_eq!(
        f.store
            .list("plugin/race/", None, 100)
            .await
            .unwrap()
            .keys
            .len(),
        5
    );
}

async fn increment_under_16_concurrent_tasks(f: Fixture) {
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = f.store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..50 {
                store.increment("hits", 1).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let s = &*f.store;
    assert_eq!(value(s, "hits").await.as_deref(), Some("800"));
    assert_eq!(s.increment("hits", -801).await, Ok(-1));
    assert_eq!(s.increment("fresh", 0).await, Ok(0));
    s.set("text", b"seven".to_vec(), None).await.unwrap();
    assert_eq!(
        s.increment("text", 1).await,
        Err(StoreError::NotAnInteger {
            key: "text".into(),
            reason: "is not an integer"
        })
    );
    s.set("big", i64::MAX.to_string().into_bytes(), None)
        .await
        .unwrap();
    assert_eq!(
        s.increment("big", 1).await.unwrap_err().to_string(),
        "the value under `big` would overflow"
    );
    assert_eq!(value(s, "big").await, Some(i64::MAX.to_string()));
}

async fn compare_and_set_conflicts(f: Fixture) {
    let s = &*f.store;
    assert_eq!(
        s.compare_and_set("k", None, b"a".to_vec(), None).await,
        Ok(true)
    );
    assert_eq!(
        s.compare_and_set("k", None, b"b".to_vec(), None).await,
        Ok(false)
    );
    assert_eq!(
        s.compare_and_set("k", Some(b"x"), b"b".to_vec(), None)
            .await,
        Ok(false)
    );
    assert_eq!(value(s, "k").await.as_deref(), Some("a"));
    assert_eq!(
        s.compare_and_set("k", Some(b"a"), b"b".to_vec(), None)
            .await,
        Ok(true)
    );
    assert_eq!(value(s, "k").await.as_deref(), Some("b"));
    assert_eq!(
        s.compare_and_set("absent", Some(b"b"), b"c".to_vec(), None)
            .await,
        Ok(false)
    );
    assert_eq!(s.get("absent").await, Ok(None));
    // 16 writers race to create one key: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = f.store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .compare_and_set("race", None, vec![i], None)
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);
    // Read-modify-write with compare-and-set loses no update.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = f.store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                loop {
                    let current = store.get("cas-counter").await.unwrap();
                    let n: u64 = current
                        .as_deref()
                        .map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap());
                    let next = (n + 1).to_string().into_bytes();
                    if store
                        .compare_and_set("cas-counter", current.as_deref(), next, None)
                        .await
                        .unwrap()
                    {
                        break;
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(value(s, "cas-counter").await.as_deref(), Some("160"));
}

async fn values_at_the_quota_limit_and_one_byte_over(f: Fixture) {
    let plugin = f.plugin("big", Quota::default());
    let limit = Quota::default().max_value_bytes;
    assert_eq!(limit, 1 << 20);
    let at_limit: Vec<u8> = (0..limit).map(|i| (i % 251) as u8).collect();
    plugin.set("blob", at_limit.clone(), None).await.unwrap();
    assert_eq!(plugin.get("blob").await, Ok(Some(at_limit.clone())));
    assert_eq!(
        plugin.set("blob", vec![0; limit + 1], None).await,
        Err(ScopedError::QuotaExceeded(
            "a value of 1048577 bytes is over plugin `big`'s limit of 1048576 bytes per value"
                .into()
        ))
    );
    assert_eq!(
        plugin
            .compare_and_set("blob", Some(&at_limit), vec![0; limit + 1])
            .await,
        Err(ScopedError::QuotaExceeded(
            "a value of 1048577 bytes is over plugin `big`'s limit of 1048576 bytes per value"
                .into()
        ))
    );
    assert_eq!(plugin.get("blob").await, Ok(Some(at_limit)), "unchanged");
}

async fn key_count_quota(f: Fixture) {
    let quota = Quota {
        max_keys: 3,
        max_value_bytes: 64,
    };
    let plugin = f.plugin("small", quota);
    for key in ["a", "b", "c"] {
        plugin.set(key, b"v".to_vec(), None).await.unwrap();
    }
    let full = Err(ScopedError::QuotaExceeded(
        "plugin `small` holds 3 keys, its limit; delete some before adding more".into(),
    ));
    assert_eq!(plugin.set("d", b"v".to_vec(), None).await, full);
    assert_eq!(plugin.increment("d", 1).await.map(drop), full);
    assert_eq!(
        plugin
            .compare_and_set("d", None, b"v".to_vec())
            .await
            .map(drop),
        full
    );
    // Existing keys can still change; another plugin has a quota of its own.
    plugin.set("a", b"w".to_vec(), None).await.unwrap();
    f.plugin("other", quota)
        .set("d", b"v".to_vec(), None)
        .await
        .unwrap();
    assert_eq!(plugin.delete("a").await, Ok(true));
    plugin.set("d", b"v".to_vec(), None).await.unwrap();
    assert_eq!(
        plugin.list_keys("", None).await.unwrap().keys,
        ["b", "c", "d"]
    );
    // Expired keys do not count.
    plugin.delete("b").await.unwrap();
    plugin.set("e", b"v".to_vec(), Some(100)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    plugin.set("f", b"v".to_vec(), None).await.unwrap();
    assert_eq!(
        plugin.list_keys("", None).await.unwrap().keys,
        ["c", "d", "f"]
    );
}

async fn plugins_are_isolated(f: Fixture) {
    let a = f.plugin("a", Quota::default());
    let b = f.plugin("b", Quota::default());
    let ab = f.plugin("ab", Quota::default());
    a.set("k", b"secret".to_vec(), None).await.unwrap();
    assert_eq!(b.get("k").await, Ok(None));
    assert_eq!(ab.get("k").await, Ok(None));
    assert_eq!(b.list_keys("", None).await.unwrap(), Page::default());
    assert_eq!(ab.list_keys("", None).await.unwrap(), Page::default());
    // Path tricks stay inside b's keys.
    for key in ["../a/k", "/../a/k", "..\\a\\k", "plugin/a/k", "%2e%2e/a/k"] {
        assert_eq!(b.get(key).await, Ok(None), "{key}");
        b.set(key, b"evil".to_vec(), None).await.unwrap();
    }
    assert_eq!(a.get("k").await, Ok(Some(b"secret".to_vec())));
    assert_eq!(a.list_keys("", None).await.unwrap().keys, ["k"]);
    assert_eq!(
        b.list_keys("", None).await.unwrap().keys,
        ["%2e%2e/a/k", "../a/k", "..\\a\\k", "/../a/k", "plugin/a/k"]
    );
    // A cursor cannot leave the plugin's keys either.
    assert_eq!(
        b.list_keys("", Some("../../a/")).await.unwrap().keys,
        ["../a/k", "..\\a\\k", "/../a/k", "plugin/a/k"]
    );
    assert_eq!(b.list_keys("", Some("~")).await.unwrap(), Page::default());
    // Unusable keys are refused with the reason, and nothing is written.
    let long = "k".repeat(513);
    for (key, reason) in [
        ("a\0k", "the key contains the control character U+0000"),
        ("", "the key is empty"),
        (
            "line\nbreak",
            "the key contains the control character U+000A",
        ),
        (
            &long,
            "the key is 513 bytes long; keys may have at most 512",
        ),
    ] {
        let refused = Err(ScopedError::InvalidKey(reason.into()));
        assert_eq!(b.set(key, b"x".to_vec(), None).await, refused);
        assert_eq!(b.get(key).await.map(drop), refused);
        assert_eq!(b.delete(key).await.map(drop), refused);
        assert_eq!(b.increment(key, 1).await.map(drop), refused);
    }
    assert_eq!(b.list_keys("", None).await.unwrap().keys.len(), 5);
    // The raw key space shows where each plugin's keys live.
    assert_eq!(
        f.store.list("plugin/a/", None, 10).await.unwrap().keys,
        ["plugin/a/k"]
    );
}

async fn increment_errors_reach_plugins_as_invalid_key(f: Fixture) {
    let plugin = f.plugin("p", Quota::default());
    plugin.set("name", b"ada".to_vec(), None).await.unwrap();
    assert_eq!(
        plugin.increment("name", 1).await,
        Err(ScopedError::InvalidKey(
            "the value under `name` is not an integer".into()
        ))
    );
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test(super::Fixture::memory()).await })*
        }
        mod sled {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test(super::Fixture::sled()).await })*
        }
        mod redis {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test(super::Fixture::redis()).await })*
        }
    };
}

conformance!(
    basics,
    ttl_expiry,
    prefix_listing_with_pagination,
    held_counts_keys_by_space,
    the_key_limit_is_exact_under_racing_writers,
    increment_under_16_concurrent_tasks,
    compare_and_set_conflicts,
    values_at_the_quota_limit_and_one_byte_over,
    key_count_quota,
    plugins_are_isolated,
    increment_errors_reach_plugins_as_invalid_key,
);
