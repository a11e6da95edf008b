//! What one backend promises beyond the shared contract: sled's data across a reopen,
//! Redis through an outage, shared and separate prefixes, its key layout.

use super::common::RedisServer;
use super::*;

#[tokio::test]
async fn sled_keeps_data_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sled {
        path: dir.path().join("store"),
        flush_every: None,
        cache_bytes: 16 << 20,
    };
    {
        let store = storage::open(&backend).unwrap();
        store.set("k", b"v".to_vec(), None).await.unwrap();
        store
            .set("short", b"v".to_vec(), Some(Duration::from_millis(100)))
            .await
            .unwrap();
        // A second opener is refused while the first holds the database.
        let err = storage::open(&backend).err().unwrap().to_string();
        assert_eq!(
            err,
            format!(
                "sled storage is unavailable: {} is in use by another process (a running pier?)",
                dir.path().join("store").display()
            )
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let store = storage::open(&backend).unwrap();
    assert_eq!(store.get("k").await, Ok(Some(b"v".to_vec())));
    assert_eq!(store.purge_expired().await, Ok(1), "expired while closed");
    assert_eq!(store.get("short").await, Ok(None));
}

#[tokio::test]
async fn redis_calls_fail_cleanly_while_it_is_down_and_work_after_it_restarts() {
    let mut redis = RedisServer::start();
    let store = storage::open(&Backend::Redis {
        url: redis.url(),
        prefix: "pier:".into(),
    })
    .unwrap();
    store.set("k", b"v".to_vec(), None).await.unwrap();
    redis.stop();
    for _ in 0..3 {
        let err = store.get("k").await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Unavailable {
                    backend: "redis",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("redis storage is unavailable: "),
            "{err}"
        );
    }
    redis.restart();
    // The first call after the restart may still meet the broken connection.
    let mut answered = None;
    for _ in 0..50 {
        match store.set("k", b"again".to_vec(), None).await {
            Ok(()) => {
                answered = Some(store.get("k").await.unwrap());
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(answered, Some(Some(b"again".to_vec())));
}

#[tokio::test]
async fn redis_instances_sharing_a_prefix_share_data_and_others_do_not() {
    let redis = RedisServer::start();
    let open = |prefix: &str| {
        storage::open(&Backend::Redis {
            url: redis.url(),
            prefix: prefix.into(),
        })
        .unwrap()
    };
    let (one, two, other) = (open("pier:"), open("pier:"), open("staging:"));
    one.set("k", b"v".to_vec(), None).await.unwrap();
    assert_eq!(two.get("k").await, Ok(Some(b"v".to_vec())));
    assert_eq!(two.list("", None, 10).await.unwrap().keys, ["k"]);
    assert_eq!(other.get("k").await, Ok(None));
    assert_eq!(other.list("", None, 10).await.unwrap(), Page::default());
}

/// A raw connection to the test's Redis, to look at (or write) pier's layout directly.
async fn raw(server: &RedisServer) -> ::redis::aio::MultiplexedConnection {
    ::redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn redis_keeps_one_expiry_entry_per_key_however_often_it_is_written() {
    let f = Fixture::redis();
    let mut con = raw(f._redis.as_ref().unwrap()).await;
    let s = &*f.store;
    for i in 0..200u64 {
        s.set("plugin/p/k", vec![1], Some(Duration::from_secs(3600 + i)))
            .await
            .unwrap();
    }
    let zcard = |con: &mut ::redis::aio::MultiplexedConnection, key: &'static str| {
        let mut con = con.clone();
        async move {
            ::redis::cmd("ZCARD")
                .arg(key)
                .query_async::<usize>(&mut con)
                .await
                .unwrap()
        }
    };
    assert_eq!(zcard(&mut con, "pier:expiry").await, 1);
    // An expired counter incremented again is a new key without expiry.
    s.set("plugin/p/n", b"1".to_vec(), Some(Duration::from_millis(50)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.increment("plugin/p/n", 1).await, Ok(1));
    assert_eq!(zcard(&mut con, "pier:expiry").await, 1);
    s.set("plugin/p/k", vec![1], None).await.unwrap();
    assert_eq!(zcard(&mut con, "pier:expiry").await, 0);
    assert_eq!(s.held("plugin/p/").await, Ok(2));
    assert_eq!(zcard(&mut con, "pier:index").await, 2);
}

#[tokio::test]
async fn redis_data_of_the_layout_without_counts_is_counted_by_the_purger() {
    let f = Fixture::redis();
    let mut con = raw(f._redis.as_ref().unwrap()).await;
    // The layout before counts: values and the index only. 2 500 keys take three
    // steps of the walk; one index member's value is gone, one key expires.
    let mut pipe = ::redis::pipe();
    for i in 0..2500 {
        let key = format!("plugin/a/{i:04}");
        pipe.cmd("SET")
            .arg(format!("pier:k:{key}"))
            .arg("v")
            .ignore();
        pipe.cmd("ZADD").arg("pier:index").arg(0).arg(&key).ignore();
    }
    pipe.cmd("ZADD")
        .arg("pier:index")
        .arg(0)
        .arg("plugin/a/gone")
        .ignore();
    pipe.cmd("SET")
        .arg("pier:k:plugin/b/t")
        .arg("v")
        .arg("PX")
        .arg(3_600_000)
        .ignore();
    pipe.cmd("ZADD")
        .arg("pier:index")
        .arg(0)
        .arg("plugin/b/t")
        .ignore();
    pipe.query_async::<()>(&mut con).await.unwrap();
    let s = &*f.store;
    // Before the walk, writes leave the counts to it: a new key, a deleted one.
    s.set("plugin/a/new", b"v".to_vec(), None).await.unwrap();
    assert_eq!(s.delete("plugin/a/0000").await, Ok(true));
    assert_eq!(s.held("plugin/a/").await, Ok(0), "not counted yet");
    assert_eq!(s.purge_expired().await, Ok(0));
    assert_eq!(s.held("plugin/a/").await, Ok(2500));
    assert_eq!(s.held("plugin/b/").await, Ok(1));
    let expiring: Vec<String> = ::redis::cmd("ZRANGE")
        .arg("pier:expiry")
        .arg(0)
        .arg(-1)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(expiring, ["plugin/b/t"]);
    assert_eq!(
        s.list("plugin/a/g", None, 10).await.unwrap(),
        Page::default(),
        "the member whose value was gone is dropped"
    );
    // From then on, every write keeps the counts.
    s.set("plugin/a/newer", b"v".to_vec(), None).await.unwrap();
    s.delete("plugin/a/0001").await.unwrap();
    s.delete("plugin/a/0002").await.unwrap();
    assert_eq!(s.held("plugin/a/").await, Ok(2499));
    let quota = Quota {
        max_keys: 2499,
        max_value_bytes: 64,
    };
    assert_eq!(
        f.plugin("a", quota)
            .set("one-more", b"v".to_vec(), None)
            .await,
        Err(ScopedError::QuotaExceeded(
            "plugin `a` holds 2499 keys, its limit; delete some before adding more".into()
        ))
    );
}

/// The next notice `heard` gets within 10 s, skipping those of `skip`.
async fn next_notice(
    heard: &mut tokio::sync::broadcast::Receiver<bus::Notice>,
    skip: &str,
) -> bus::Notice {
    loop {
        let notice = tokio::time::timeout(Duration::from_secs(10), heard.recv())
            .await
            .expect("a notice within 10 s")
            .unwrap();
        if notice.topic != skip {
            return notice;
        }
    }
}

#[tokio::test]
async fn the_bus_tells_every_pier_on_one_redis_prefix_and_hears_again_after_a_restart() {
    let mut redis = RedisServer::start();
    let (one, two, other) = (
        bus::Bus::redis(&redis.url(), "pier:").unwrap(),
        bus::Bus::redis(&redis.url(), "pier:").unwrap(),
        bus::Bus::redis(&redis.url(), "staging:").unwrap(),
    );
    let (mut heard_one, mut heard_two, mut heard_other) =
        (one.subscribe(), two.subscribe(), other.subscribe());
    // Each hears its listener connect before anything else.
    for heard in [&mut heard_one, &mut heard_two, &mut heard_other] {
        assert_eq!(next_notice(heard, "").await.topic, bus::RECONNECTED);
    }
    one.publish("catalogue", b"changed").await.unwrap();
    let said = bus::Notice {
        topic: "catalogue".into(),
        payload: b"changed".to_vec(),
    };
    assert_eq!(next_notice(&mut heard_one, "").await, said, "itself too");
    assert_eq!(next_notice(&mut heard_two, "").await, said);
    // Someone else on the Redis: over the bounds is dropped, the rest heard.
    let mut con = raw(&redis).await;
    let _: i64 = ::redis::cmd("PUBLISH")
        .arg("pier:bus:catalogue")
        .arg(vec![b'x'; bus::MAX_PAYLOAD_BYTES + 1])
        .query_async(&mut con)
        .await
        .unwrap();
    let _: i64 = ::redis::cmd("PUBLISH")
        .arg("pier:bus:mounts")
        .arg("added")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(next_notice(&mut heard_two, "").await.topic, "mounts");
    // Another prefix heard nothing but its own connection.
    assert!(heard_other.try_recv().is_err());
    // Redis down: publishing fails, saying so; back: each hears its listener again,
    // then what is published.
    redis.stop();
    let refused = one.publish("catalogue", b"lost").await.unwrap_err();
    assert!(
        refused
            .to_string()
            .starts_with("redis storage is unavailable: "),
        "{refused}"
    );
    redis.restart();
    assert_eq!(
        next_notice(&mut heard_two, "catalogue").await.topic,
        bus::RECONNECTED
    );
    let mut published = false;
    for _ in 0..50 {
        if one.publish("catalogue", b"again").await.is_ok() {
            published = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(published, "publishing works again after the restart");
    assert_eq!(
        next_notice(&mut heard_two, bus::RECONNECTED).await.payload,
        b"again"
    );
}
