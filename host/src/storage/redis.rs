//! The `redis` backend: a Redis server shared by any number of pier instances.
//!
//! Layout under the configured prefix `P` (default `pier:`): the value of key `K` is the
//! Redis string `P` + `k:` + `K` (with Redis' own expiry for TTLs), and the sorted set
//! `P` + `index` holds every key with score 0, so that keys can be listed in order by
//! prefix, page by page, and counted (`ZRANGEBYLEX`, `ZLEXCOUNT`) without scanning the
//! whole database. Each write updates value and index in one Lua script (atomic);
//! index members whose value expired are dropped when met, and by
//! [`KeyValue::purge_expired`].
//!
//! One multiplexed connection serves every call; when it breaks (a Redis restart), calls
//! fail with `unavailable` and the next ones reconnect.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use super::{KeyValue, Page, StoreError, StoreFuture};

/// A Redis-backed store.
pub struct Redis {
    connection: ConnectionManager,
    data_prefix: String,
    index: String,
    scripts: Scripts,
}

struct Scripts {
    set: Script,
    delete: Script,
    increment: Script,
    compare_and_set: Script,
    list: Script,
    count: Script,
    purge: Script,
}

/// Drops the index members in `[min, max]` whose values are gone; `LIMIT` members at
/// most. Returns the last member looked at (or nothing when the range is exhausted) and
/// how many were dropped.
const PRUNE: &str = r"
local function prune(index, data, min, max, limit)
  local batch = redis.call('ZRANGEBYLEX', index, min, max, 'LIMIT', 0, limit)
  local dropped = 0
  for _, k in ipairs(batch) do
    if redis.call('EXISTS', data .. k) == 0 then
      redis.call('ZREM', index, k)
      dropped = dropped + 1
    end
  end
  return batch[#batch], dropped
end
";

impl Scripts {
    fn new() -> Self {
        Self {
            set: Script::new(
                r"
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('ZADD', KEYS[2], 0, ARGV[3])
return 1",
            ),
            delete: Script::new(
                r"
local n = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return n",
            ),
            increment: Script::new(
                r"
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
return v",
            ),
            compare_and_set: Script::new(
                r"
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
if tonumber(ARGV[4]) > 0 then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[3])
end
redis.call('ZADD', KEYS[2], 0, ARGV[5])
return 1",
            ),
            list: Script::new(
                r"
local want = tonumber(ARGV[3])
local out = {}
local min = ARGV[1]
while #out < want do
  local batch = redis.call('ZRANGEBYLEX', KEYS[1], min, ARGV[2], 'LIMIT', 0, want)
  if #batch == 0 then break end
  for _, k in ipairs(batch) do
    if redis.call('EXISTS', ARGV[4] .. k) == 1 then
      out[#out + 1] = k
      if #out == want then break end
    else
      redis.call('ZREM', KEYS[1], k)
    end
  end
  min = '(' .. batch[#batch]
end
return out",
            ),
            // At the limit, one batch of index members is checked for values gone
            // (expired): a bounded step, never a walk over every key of the prefix,
            // which would hold Redis for as long. The purger walks the rest.
            count: Script::new(&format!(
                r"{PRUNE}
local at_most = tonumber(ARGV[3])
local n = redis.call('ZLEXCOUNT', KEYS[1], ARGV[1], ARGV[2])
if n < at_most then return n end
prune(KEYS[1], ARGV[4], ARGV[1], ARGV[2], 500)
n = redis.call('ZLEXCOUNT', KEYS[1], ARGV[1], ARGV[2])
if n > at_most then return at_most end
return n"
            )),
            purge: Script::new(&format!(
                r"{PRUNE}
local last, dropped = prune(KEYS[1], ARGV[2], ARGV[1], '+', 1000)
return {{last or '', dropped}}"
            )),
        }
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
            index: format!("{prefix}index"),
            scripts: Scripts::new(),
        })
    }

    fn data_key(&self, key: &str) -> String {
        format!("{}{key}", self.data_prefix)
    }

    fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }
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

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.scripts
                .set
                .key(self.data_key(key))
                .key(&self.index)
                .arg(value)
                .arg(ttl_ms(ttl))
                .arg(key)
                .invoke_async::<i64>(&mut self.connection())
                .await
                .map(drop)
                .map_err(failed)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.scripts
                .delete
                .key(self.data_key(key))
                .key(&self.index)
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
                .scripts
                .list
                .key(&self.index)
                .arg(min)
                .arg(max)
                .arg(limit + 1)
                .arg(&self.data_prefix)
                .invoke_async(&mut self.connection())
                .await
                .map_err(failed)?;
            Ok(Page::of(keys, limit))
        })
    }

    fn increment<'a>(&'a self, key: &'a str, by: i64) -> StoreFuture<'a, i64> {
        Box::pin(async move {
            self.scripts
                .increment
                .key(self.data_key(key))
                .key(&self.index)
                .arg(by)
                .arg(key)
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
                })
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
            self.scripts
                .compare_and_set
                .key(self.data_key(key))
                .key(&self.index)
                .arg(if expected.is_some() { "1" } else { "0" })
                .arg(expected.unwrap_or_default())
                .arg(new)
                .arg(ttl_ms(ttl))
                .arg(key)
                .invoke_async::<i64>(&mut self.connection())
                .await
                .map(|n| n == 1)
                .map_err(failed)
        })
    }

    fn count<'a>(&'a self, prefix: &'a str, at_most: usize) -> StoreFuture<'a, usize> {
        Box::pin(async move {
            let (min, max) = range(prefix, None);
            self.scripts
                .count
                .key(&self.index)
                .arg(min)
                .arg(max)
                .arg(at_most)
                .arg(&self.data_prefix)
                .invoke_async(&mut self.connection())
                .await
                .map_err(failed)
        })
    }

    fn purge_expired(&self) -> StoreFuture<'_, usize> {
        Box::pin(async move {
            let mut min = b"-".to_vec();
            let mut purged = 0;
            loop {
                let (last, dropped): (Vec<u8>, usize) = self
                    .scripts
                    .purge
                    .key(&self.index)
                    .arg(&min)
                    .arg(&self.data_prefix)
                    .invoke_async(&mut self.connection())
                    .await
                    .map_err(failed)?;
                purged += dropped;
                if last.is_empty() {
                    return Ok(purged);
                }
                min = [b"(".as_slice(), &last].concat();
            }
        })
    }
}
