//! `pier:mcp/storage`: per-plugin key-value storage.
//!
//! Declared in the contract; until the storage backends land every function returns
//! `unsupported` with the function's name, so a plugin sees a clear error, not a trap.

use crate::runtime::bindings::storage::{Host, KeyPage, StorageError};
use crate::runtime::state::CallState;

fn unsupported(what: &str) -> StorageError {
    StorageError::Unsupported(format!(
        "storage.{what} is not supported yet by this pier host"
    ))
}

impl Host for CallState {
    async fn get(
        &mut self,
        _key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, StorageError>> {
        Ok(Err(unsupported("get")))
    }

    async fn set(
        &mut self,
        _key: String,
        _value: Vec<u8>,
        _ttl_ms: Option<u64>,
    ) -> wasmtime::Result<Result<(), StorageError>> {
        Ok(Err(unsupported("set")))
    }

    async fn delete(&mut self, _key: String) -> wasmtime::Result<Result<bool, StorageError>> {
        Ok(Err(unsupported("delete")))
    }

    async fn list_keys(
        &mut self,
        _prefix: String,
        _cursor: Option<String>,
    ) -> wasmtime::Result<Result<KeyPage, StorageError>> {
        Ok(Err(unsupported("list-keys")))
    }

    async fn increment(
        &mut self,
        _key: String,
        _by: i64,
    ) -> wasmtime::Result<Result<i64, StorageError>> {
        Ok(Err(unsupported("increment")))
    }

    async fn compare_and_set(
        &mut self,
        _key: String,
        _expected: Option<Vec<u8>>,
        _new: Vec<u8>,
    ) -> wasmtime::Result<Result<bool, StorageError>> {
        Ok(Err(unsupported("compare-and-set")))
    }
}
