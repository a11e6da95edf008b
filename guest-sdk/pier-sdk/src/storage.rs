//! The plugin's own key-value storage, kept by the host between calls (and restarts,
//! with the default sled store or Redis).
//!
//! Each plugin sees only its own keys: no key string reaches another plugin's data.
//! Keys are non-empty strings of at most 512 bytes without control characters; values
//! are bytes, or any `serde` type as JSON with [`get_json`] / [`set_json`]. The host
//! enforces a quota per plugin (number of keys, size of a value), set by the operator.
//!
//! ```ignore
//! use pier_sdk::storage;
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Note { body: String }
//!
//! storage::set_json("note/todo", &Note { body: "buy milk".into() })?;
//! let note: Option<Note> = storage::get_json("note/todo")?;
//! let visits = storage::increment("visits", 1)?;
//! ```

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::__bindings::pier::mcp::storage as host;

/// Why a storage call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageError {
    /// The key is unusable (empty, too long, a control character), or the value under
    /// it is not what the operation needs (`increment` of a non-integer).
    InvalidKey(String),
    /// The plugin's quota (keys, value size) would be exceeded.
    QuotaExceeded(String),
    /// The store failed or cannot be reached; the call may succeed later.
    Unavailable(String),
    /// The host does not offer this operation.
    Unsupported(String),
    /// A stored value is not the JSON of the requested type, or a value cannot be
    /// serialised.
    Json(String),
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageError::InvalidKey(m)
            | StorageError::QuotaExceeded(m)
            | StorageError::Unavailable(m)
            | StorageError::Unsupported(m)
            | StorageError::Json(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for StorageError {}

impl From<host::StorageError> for StorageError {
    fn from(e: host::StorageError) -> Self {
        match e {
            host::StorageError::InvalidKey(m) => StorageError::InvalidKey(m),
            host::StorageError::QuotaExceeded(m) => StorageError::QuotaExceeded(m),
            host::StorageError::Unavailable(m) => StorageError::Unavailable(m),
            host::StorageError::Unsupported(m) => StorageError::Unsupported(m),
        }
    }
}

/// A storage failure inside a tool is a tool error the model sees (`?` converts it).
impl From<StorageError> for crate::Error {
    fn from(e: StorageError) -> Self {
        crate::Error::Failed(format!("storage: {e}"))
    }
}

/// What storage calls return.
pub type Result<T> = std::result::Result<T, StorageError>;

/// The value under `key`.
pub fn get(key: &str) -> Result<Option<Vec<u8>>> {
    Ok(host::get(key)?)
}

/// Stores `value` under `key`, with no expiry.
pub fn set(key: &str, value: &[u8]) -> Result<()> {
    Ok(host::set(key, value, None)?)
}

/// Stores `value` under `key`; it disappears after `ttl`.
pub fn set_with_ttl(key: &str, value: &[u8], ttl: Duration) -> Result<()> {
    Ok(host::set(key, value, Some(ttl.as_millis() as u64))?)
}

/// Removes `key`; true when it existed.
pub fn delete(key: &str) -> Result<bool> {
    Ok(host::delete(key)?)
}

/// One page of keys starting with `prefix`, after `cursor` (the previous page's
/// `next_cursor`): the keys in ascending order, and the cursor of the next page.
pub fn list_page(prefix: &str, cursor: Option<&str>) -> Result<(Vec<String>, Option<String>)> {
    let page = host::list_keys(prefix, cursor)?;
    Ok((page.keys, page.next_cursor))
}

/// Every key starting with `prefix`, in ascending order (all pages).
pub fn keys(prefix: &str) -> Result<Vec<String>> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let (keys, next) = list_page(prefix, cursor.as_deref())?;
        all.extend(keys);
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}

/// Atomically adds `by` to the integer under `key` (absent = 0); the new value.
pub fn increment(key: &str, by: i64) -> Result<i64> {
    Ok(host::increment(key, by)?)
}

/// Sets `key` to `new` only if its value is `expected` (`None` = absent); true when it
/// did. The building block of lock-free updates: read, compute, compare-and-set, retry.
pub fn compare_and_set(key: &str, expected: Option<&[u8]>, new: &[u8]) -> Result<bool> {
    Ok(host::compare_and_set(key, expected, new)?)
}

/// The value under `key`, decoded from JSON.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>> {
    get(key)?
        .map(|bytes| {
            serde_json::from_slice(&bytes).map_err(|e| {
                StorageError::Json(format!(
                    "the value under `{key}` is not a {}: {e}",
                    std::any::type_name::<T>()
                ))
            })
        })
        .transpose()
}

fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| StorageError::Json(format!("cannot store `{key}` as JSON: {e}")))
}

/// Stores `value` as JSON under `key`.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<()> {
    set(key, &encode(key, value)?)
}

/// Stores `value` as JSON under `key`; it disappears after `ttl`.
pub fn set_json_with_ttl<T: Serialize + ?Sized>(key: &str, value: &T, ttl: Duration) -> Result<()> {
    set_with_ttl(key, &encode(key, value)?, ttl)
}
