//! What one plugin sees of the store: its own keys only, within its quota.
//!
//! Plugin `NAME` owns the keys under `plugin/NAME/`; every key it passes is put below
//! that prefix and every key it gets back has it removed. No key string leaves the
//! prefix: keys are never interpreted as paths (`../other/k` is just a key of this
//! plugin), and keys that are empty, longer than [`MAX_KEY_BYTES`] or contain control
//! characters are refused.

use std::sync::Arc;
use std::time::Duration;

use super::{KeyValue, Page, StoreError};

/// The longest key a plugin may use, in bytes.
pub const MAX_KEY_BYTES: usize = 512;

/// Keys per page of `list-keys`.
pub const PAGE_SIZE: usize = 100;

/// A plugin's storage quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// The most keys it may hold.
    pub max_keys: usize,
    /// The largest value it may store, in bytes.
    pub max_value_bytes: usize,
}

impl Default for Quota {
    fn default() -> Self {
        Self {
            max_keys: 10_000,
            max_value_bytes: 1 << 20,
        }
    }
}

/// Why a plugin's storage call failed: the cases of the `storage-error` of the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopedError {
    /// The key (or the value under it, for `increment`) is unusable.
    #[error("{0}")]
    InvalidKey(String),
    /// A quota would be exceeded.
    #[error("{0}")]
    QuotaExceeded(String),
    /// The backend failed.
    #[error("{0}")]
    Unavailable(String),
}

impl From<StoreError> for ScopedError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotAnInteger { .. } => ScopedError::InvalidKey(e.to_string()),
            StoreError::Unavailable { .. } => ScopedError::Unavailable(e.to_string()),
            StoreError::Full { .. } => ScopedError::QuotaExceeded(e.to_string()),
        }
    }
}

/// The prefix of plugin `name`'s keys.
fn plugin_prefix(name: &str) -> String {
    format!("plugin/{name}/")
}

/// Whether `key` is one a plugin may use; the reason when not.
pub fn check_key(key: &str) -> Result<(), ScopedError> {
    if key.is_empty() {
        return Err(ScopedError::InvalidKey("the key is empty".into()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(ScopedError::InvalidKey(format!(
            "the key is {} bytes long; keys may have at most {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    if let Some(c) = key.chars().find(|c| c.is_control()) {
        return Err(ScopedError::InvalidKey(format!(
            "the key contains the control character U+{:04X}",
            c as u32
        )));
    }
    Ok(())
}

/// One plugin's view of the store. Cheap to clone.
#[derive(Clone)]
pub struct PluginStore {
    store: Arc<dyn KeyValue>,
    plugin: Arc<str>,
    prefix: Arc<str>,
    quota: Quota,
}

impl std::fmt::Debug for PluginStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginStore")
            .field("backend", &self.store.backend())
            .field("plugin", &self.plugin)
            .field("quota", &self.quota)
            .finish()
    }
}

impl PluginStore {
    /// Plugin `plugin`'s view of `store`, within `quota`.
    pub fn new(store: Arc<dyn KeyValue>, plugin: &str, quota: Quota) -> Self {
        Self {
            store,
            plugin: plugin.into(),
            prefix: plugin_prefix(plugin).into(),
            quota,
        }
    }

    /// The plugin's quota.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    fn scoped(&self, key: &str) -> Result<String, ScopedError> {
        check_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }

    fn check_value(&self, len: usize) -> Result<(), ScopedError> {
        if len > self.quota.max_value_bytes {
            return Err(ScopedError::QuotaExceeded(format!(
                "a value of {len} bytes is over plugin `{}`'s limit of {} bytes per value",
                self.plugin, self.quota.max_value_bytes
            )));
        }
        Ok(())
    }

    /// The error of a write, naming the plugin when its key limit stopped it.
    fn refused(&self, e: StoreError) -> ScopedError {
        match e {
            StoreError::Full { held, .. } => ScopedError::QuotaExceeded(format!(
                "plugin `{}` holds {held} keys, its limit; delete some before adding more",
                self.plugin
            )),
            other => other.into(),
        }
    }

    /// The value under `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ScopedError> {
        Ok(self.store.get(&self.scoped(key)?).await?)
    }

    /// Stores `value` under `key`, expiring after `ttl_ms` when given.
    pub async fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<(), ScopedError> {
        let scoped = self.scoped(key)?;
        self.check_value(value.len())?;
        let ttl = ttl_ms.map(Duration::from_millis);
        self.store
            .set_within(&scoped, value, ttl, Some(self.quota.max_keys))
            .await
            .map_err(|e| self.refused(e))
    }

    /// Removes `key`; true when it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, ScopedError> {
        Ok(self.store.delete(&self.scoped(key)?).await?)
    }

    /// The plugin's keys starting with `prefix`, a page after `cursor`.
    pub async fn list_keys(&self, prefix: &str, cursor: Option<&str>) -> Result<Page, ScopedError> {
        let scoped_prefix = format!("{}{prefix}", self.prefix);
        let after = cursor.map(|c| format!("{}{c}", self.prefix));
        let page = self
            .store
            .list(&scoped_prefix, after.as_deref(), PAGE_SIZE)
            .await?;
        let strip = |k: String| k[self.prefix.len()..].to_string();
        Ok(Page {
            keys: page.keys.into_iter().map(strip).collect(),
            next_cursor: page.next_cursor.map(strip),
        })
    }

    /// Atomically adds `by` to the integer under `key`.
    pub async fn increment(&self, key: &str, by: i64) -> Result<i64, ScopedError> {
        let scoped = self.scoped(key)?;
        self.store
            .increment_within(&scoped, by, Some(self.quota.max_keys))
            .await
            .map_err(|e| match e {
                // Name the key as the plugin knows it.
                StoreError::NotAnInteger { reason, .. } => {
                    ScopedError::InvalidKey(format!("the value under `{key}` {reason}"))
                }
                other => self.refused(other),
            })
    }

    /// Sets `key` to `new` if its value is `expected` (`None` = absent).
    pub async fn compare_and_set(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Vec<u8>,
    ) -> Result<bool, ScopedError> {
        let scoped = self.scoped(key)?;
        self.check_value(new.len())?;
        self.store
            .compare_and_set_within(&scoped, expected, new, None, Some(self.quota.max_keys))
            .await
            .map_err(|e| self.refused(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_with_reasons() {
        assert_eq!(check_key("notes/a b ../c"), Ok(()));
        assert_eq!(check_key("").unwrap_err().to_string(), "the key is empty");
        assert_eq!(
            check_key("a\0b").unwrap_err().to_string(),
            "the key contains the control character U+0000"
        );
        assert_eq!(
            check_key(&"k".repeat(513)).unwrap_err().to_string(),
            "the key is 513 bytes long; keys may have at most 512"
        );
        assert_eq!(check_key(&"k".repeat(512)), Ok(()));
    }
}
