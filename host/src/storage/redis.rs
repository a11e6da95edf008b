//! The `redis` backend: a Redis server shared by any number of pier instances.
//!
//! Layout under the configured prefix `P` (default `pier:`): the value of key `K` is the
//! Redis string `P` + `k:` + `K` (with Redis' own expiry for TTLs); the sorted set
//! `P` + `index` holds every key with score 0, so that keys can be listed in order by
//! prefix, page by page (`ZRANGEBYLEX`), without scanning the whole database; the sorted
//! set `P` + `expiry` holds every expiring key scored by its expiry (ms), so that the
//! entries of expired keys are found without a scan; the hash `P` + `held` keeps the
//! count of keys of every space ([`super::space_of`]). Each write updates value, index,
//! expiry and count in one Lua script (atomic). A key stays in the index (and counted)
//! until it is deleted or its expired entry is reclaimed, by the purger or by a write
//! that finds its space full (one batch of [`super::RECLAIM_BATCH`]).
//!
//! A database written before the counts existed (an index but no `P` + `counted`) is
//! counted by the purger in steps of [`BUILD_BATCH`] index members, walking a cursor
//! (`P` + `counting`): meanwhile writes keep the counts of keys up to the cursor, and
//! the walk counts the rest as it reaches them.
//!
//! One multiplexed connection serves every call; when it breaks (a Redis restart), calls
//! fail with `unavailable` and the next ones reconnect.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script, ScriptInvocation};

use super::{KeyValue, Page, RECLAIM_BATCH, StoreError, StoreFuture};

/// Index members counted per step when building the counts of an older layout.
pub const BUILD_BATCH: usize = 1000;

/// Expired entries reclaimed per step of a purge.
const PURGE_BATCH: usize = 1000;

/// A Redis-backed store.
pub struct Redis {
    connection: ConnectionManager,
    data_prefix: String,
    /// `index`, `expiry`, `held`, `counted`, `counting`: the `KEYS` of every script.
    keys: [String; 5],
    scripts: Scripts,
}

struct Scripts {
    set: Script,
    delete: Script,
    increment: Script,
    compare_and_set: Script,
    list: Script,
    purge: Script,
    build: Script,
}

/// What every script starts with: its keys, and the functions that keep index, expiry
/// and counts together. `ARGV[1]` is the prefix of value keys.
const PRELUDE: &str = r"
local index, expiry, held, counted_all, cursor = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local data = ARGV[1]
local function space(k) return string.match(k, '^[^/]*/[^/]*/') or '' end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Whether writes keep k's count (the counts of an older layout's keys past the
-- cursor are not built yet: the walk counts them).
local function counted(k)
  if redis.call('EXISTS', counted_all) == 1 then return true end
  local c = redis.call('GET', cursor)
  if c then return k <= c end
  if redis.call('EXISTS', index) == 0 then
    redis.call('SET', counted_all, '1')
    return true
  end
  return false
end
-- Drops k from the index, the expiry set and its space's count.
local function forget(k)
  if redis.call('ZREM', index, k) == 1 and counted(k) then
    local s = space(k)
    if redis.call('HINCRBY', held, s, -1) <= 0 then redis.call('HDEL', held, s) end
  end
  redis.call('ZREM', expiry, k)
end
-- Forgets up to n keys whose expiry passed; how many, and how many were due.
local function reclaim(n)
  local due = redis.call('ZRANGEBYSCORE', expiry, '-inf', now_ms(), 'LIMIT', 0, n)
  local gone = 0
  for _, k in ipairs(due) do
    if redis.call('EXISTS', data .. k) == 0 then
      forget(k)
      gone = gone + 1
    elseif redis.call('PTTL', data .. k) == -1 then
      redis.call('ZREM', expiry, k)
    end
  end
  return gone, #due
end
-- Counts k in its space if it is new: nil, or the count when the space holds max
-- (-1: no limit) even after a batch of expired entries is reclaimed.
local function room(k, max)
  if redis.call('ZSCORE', index, k) or not counted(k) then return nil end
  local s = space(k)
  local n = tonumber(redis.call('HGET', held, s) or '0')
  if max >= 0 and n >= max then
    reclaim(RECLAIM_BATCH)
    n = tonumber(redis.call('HGET', held, s) or '0')
    if n >= max then return n end
  end
  redis.call('HINCRBY', held, s, 1)
  return nil
end
-- Records k in the index and its expiry (ttl ms from now; 0: none) in the expiry set.
local function track(k, ttl)
  redis.call('ZADD', index, 0, k)
  if ttl > 0 then
    redis.call('ZADD', expiry, now_ms() + ttl, k)
  else
    redis.call('ZREM', expiry, k)
  end
end
local function put(k, value, ttl)
  if ttl > 0 then
    redis.call('SET', data .. k, value, 'PX', ttl)
  else
    redis.call('SET', data .. k, value)
  end
  track(k, ttl)
end
";

impl Scripts {
    fn new() -> Self {
        let script = |body: &str| {
            Script::new(&format!(
                "{}{body}",
                PRELUDE.replace("RECLAIM_BATCH", &RECLAIM_BATCH.to_string())
            ))
        };
        Self {
            // ARGV: 2 key, 3 value, 4 ttl ms (0: none), 5 max keys (-1: none).
            set: script(
                r"
local full = room(ARGV[2], tonumber(ARGV[5]))
if full then return {'full', full} end
put(ARGV[2], ARGV[3], tonumber(ARGV[4]))
return {'ok', 0}",
            ),
            // ARGV: 2 key.
            delete: script(
                r"
local n = redis.call('DEL', data .. ARGV[2])
forget(ARGV[2])
return n",
            ),
            // ARGV: 2 key, 3 by, 4 max keys. INCRBY of an existing key may fail (not an
            // integer, overflow): it runs before any other change, as scripts are not
            // rolled back.
            increment: script(
                r"
local k = ARGV[2]
if redis.call('EXISTS', data .. k) == 0 then
  local full = room(k, tonumber(ARGV[4]))
  if full then return {'full', full} end
  track(k, 0)
end
return {'ok', redis.call('INCRBY', data .. k, ARGV[3])}",
            ),
            // ARGV: 2 key, 3 whether a value is expected ('1'/'0'), 4 expected, 5 new,
            // 6 ttl ms, 7 max keys.
            compare_and_set: script(
                r"
local current = redis.call('GET', data .. ARGV[2])
if ARGV[3] == '1' then
  if current ~= ARGV[4] then return {'ok', 0} end
elseif current then
  return {'ok', 0}
end
local full = room(ARGV[2], tonumber(ARGV[7]))
if full then return {'full', full} end
put(ARGV[2], ARGV[5], tonumber(ARGV[6]))
return {'ok', 1}",
            ),
            // ARGV: 2 min, 3 max (lexicographic), 4 how many.
            list: script(
                r"
local want = tonumber(ARGV[4])
local out = {}
local min = ARGV[2]
while #out < want do
  local batch = redis.call('ZRANGEBYLEX', index, min, ARGV[3], 'LIMIT', 0, want)
  if #batch == 0 then break end
  for _, k in ipairs(batch) do
    if redis.call('EXISTS', data .. k) == 1 then
      out[#out + 1] = k
      if #out == want then break end
    else
      forget(k)
    end
  end
  min = '(' .. batch[#batch]
end
return out",
            ),
            // ARGV: 2 batch size.
            purge: script(
                r"
local gone, due = reclaim(tonumber(ARGV[2]))
return {gone, due}",
            ),
            // ARGV: 2 batch size. One step of counting an older layout's keys: 1 when
            // every key is counted.
            build: script(
                r"
if redis.call('EXISTS', counted_all) == 1 then return 1 end
local n = tonumber(ARGV[2])
local c = redis.call('GET', cursor)
if not c then redis.call('DEL', held) end
local min = '-'
if c then min = '(' .. c end
local batch = redis.call('ZRANGEBYLEX', index, min, '+', 'LIMIT', 0, n)
for _, k in ipairs(batch) do
  local ttl = redis.call('PTTL', data .. k)
  if ttl == -2 then
    redis.call('ZREM', index, k)
  else
    redis.call('HINCRBY', held, space(k), 1)
    if ttl > 0 then redis.call('ZADD', expiry, now_ms() + ttl, k) end
  end
end
if #batch < n then
  redis.call('SET', counted_all, '1')
  redis.call('DEL', cursor)
  return 1
end
redis.call('SET', cursor, batch[#batch])
return 0",
            ),
        }
    }
}

/// What a write script answers: `ok` and its answer, or `full` and the space's count.
fn written(answer: (String, i64), key: &str) -> Result<i64, StoreError> {
    match answer {
        (status, held) if status == "full" => Err(StoreError::Full {
            space: super::space_of(key).to_string(),
            held: usize::try_from(held).unwrap_or(0),
        }),
        (_, n) => Ok(n),
    }
}

fn failed(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable {
        backend: "redis",
        reason: e.to_string(),
    }
}

fn ttl_ms(ttl: Option<Duration>) -> u64 {
    ttl.map_or(0, |t| (t.as_millis() as u64).max(1))
}

/// The lexicographic range of the keys starting with `prefix`, after `after`.
fn range(prefix: &str, after: Option<&str>) -> (Vec<u8>, Vec<u8>) {
    let min = match after {
        Some(after) if after >= prefix => [b"(", after.as_bytes()].concat(),
        _ => [b"[", prefix.as_bytes()].concat(),
    };
    // 0xFF never occurs in UTF-8, so it sorts after every key with this prefix.
    let max = [b"(", prefix.as_bytes(), b"\xff"].concat();
    (min, max)
}

impl Redis {
    /// A store on the Redis server at `url`, every key under `prefix`. The connection
    /// is made at the first call (and made again after it breaks).
    pub fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError::Unavailable {
            backend: "redis",
            reason: format!("invalid URL {}: {e}", super::redact(url)),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client, config).map_err(failed)?;
        Ok(Self {
            connection,
            data_prefix: format!("{prefix}k:"),
            keys: ["index", "expiry", "held", "counted", "counting"]
                .map(|k| format!("{prefix}{k}")),
            scripts: Scripts::new(),
        })
    }

    fn data_key(&self, key: &str) -> String {
        format!("{}{key}", self.data_prefix)
    }

    fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// `script` with the keys and the first argument every script takes.
    fn invoke<'s>(&self, script: &'s Script) -> ScriptInvocation<'s> {
        let mut invocation = script.prepare_invoke();
        for key in &self.keys {
            invocation.key(key);
        }
        invocation.arg(&self.data_prefix);
        invocation
    }

    /// Counts the keys of an older layout, step by step, if that is not done.
    async fn build_counts(&self) -> Result<(), StoreError> {
        loop {
            let done: i64 = self
                .invoke(&self.scripts.build)
                .arg(BUILD_BATCH)
                .invoke_async(&mut self.connection())
                .await
                .map_err(failed)?;
            if done == 1 {
                return Ok(());
            }
        }
    }
}

/// `max_keys` as the scripts take it: -1 for no limit.
fn limit_arg(max_keys: Option<usize>) -> i64 {
    max_keys.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

impl KeyValue for Redis {
    fn backend(&self) -> &'static str {
        "redis"
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            self.connection()
                .get(self.data_key(key))
                .await
                .map_err(failed)
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
            let answer = self
                .invoke(&self.scripts.set)
                .arg(key)
                .arg(value)
                .arg(ttl_ms(ttl))
                .arg(limit_arg(max_keys))
                .invoke_async(&mut self.connection())
                .await
                .map_err(failed)?;
            written(answer, key).map(drop)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.invoke(&self.scripts.delete)
                .arg(key)
                .invoke_async::<i64>(&mut self.connection())
                .await
                .map(|n| n > 0)
                .map_err(failed)
        })
    }

    fn list<'a>(
        &'a self,
        prefix: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page> {
        Box::pin(async move {
            let (min, max) = range(prefix, after);
            let keys: Vec<String> = self
                .invoke(&self.scripts.list)
                .arg(min)
                .arg(max)
                .arg(limit + 1)
                .invoke_async(&mut self.connection())
                .await
                .map_err(failed)?;
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
            let answer = self
                .invoke(&self.scripts.increment)
                .arg(key)
                .arg(by)
                .arg(limit_arg(max_keys))
                .invoke_async(&mut self.connection())
                .await
                .map_err(|e| {
                    let text = e.to_string();
                    let reason = if text.contains("overflow") {
                        "would overflow"
                    } else if text.contains("not an integer") {
                        "is not an integer"
                    } else {
                        return failed(e);
                    };
                    StoreError::NotAnInteger {
                        key: key.to_string(),
                        reason,
                    }
                })?;
            written(answer, key)
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
            let answer = self
                .invoke(&self.scripts.compare_and_set)
                .arg(key)
                .arg(if expected.is_some() { "1" } else { "0" })
                .arg(expected.unwrap_or_default())
                .arg(new)
                .arg(ttl_ms(ttl))
                .arg(limit_arg(max_keys))
                .invoke_async(&mut self.connection())
                .await
                .map_err(failed)?;
            written(answer, key).map(|n| n == 1)
        })
    }

    fn held<'a>(&'a self, space: &'a str) -> StoreFuture<'a, usize> {
        Box::pin(async move {
            let n: Option<i64> = self
                .connection()
                .hget(&self.keys[2], space)
                .await
                .map_err(failed)?;
            Ok(n.map_or(0, |n| usize::try_from(n).unwrap_or(0)))
        })
    }

    fn purge_expired(&self) -> StoreFuture<'_, usize> {
        Box::pin(async move {
            self.build_counts().await?;
            let mut purged = 0;
            loop {
                let (gone, due): (usize, usize) = self
                    .invoke(&self.scripts.purge)
                    .arg(PURGE_BATCH)
                    .invoke_async(&mut self.connection())
                    .await
                    .map_err(failed)?;
                purged += gone;
                if due < PURGE_BATCH || gone == 0 {
                    return Ok(purged);
                }
            }
        })
    }
}
