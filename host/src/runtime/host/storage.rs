//! `pier:mcp/storage`: per-plugin key-value storage, a thin view of the call's
//! [`PluginStore`](crate::storage::PluginStore) (isolation and quotas live there).

use crate::runtime::bindings::storage::{Host, KeyPage, StorageError};
use crate::runtime::state::CallState;
use crate::storage::ScopedError;

fn guest(error: ScopedError) -> StorageError {
    match error {
        ScopedError::InvalidKey(m) => StorageError::InvalidKey(m),
        ScopedError::QuotaExceeded(m) => StorageError::QuotaExceeded(m),
        ScopedError::Unavailable(m) => StorageError::Unavailable(m),
    }
}

type Answer<T> = wasmtime::Result<Result<T, StorageError>>;

impl Host for CallState {
    async fn get(&mut self, key: String) -> Answer<Option<Vec<u8>>> {
        Ok(self.store.get(&key).await.map_err(guest))
    }

    async fn set(&mut self, key: String, value: Vec<u8>, ttl_ms: Option<u64>) -> Answer<()> {
        Ok(self.store.set(&key, value, ttl_ms).await.map_err(guest))
    }

    async fn delete(&mut self, key: String) -> Answer<bool> {
        Ok(self.store.delete(&key).await.map_err(guest))
    }

    async fn list_keys(&mut self, prefix: String, cursor: Option<String>) -> Answer<KeyPage> {
        Ok(self
            .store
            .list_keys(&prefix, cursor.as_deref())
            .await
            .map(|page| KeyPage {
                keys: page.keys,
                next_cursor: page.next_cursor,
            })
            .map_err(guest))
    }

    async fn increment(&mut self, key: String, by: i64) -> Answer<i64> {
        Ok(self.store.increment(&key, by).await.map_err(guest))
    }

    async fn compare_and_set(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Answer<bool> {
        Ok(self
            .store
            .compare_and_set(&key, expected.as_deref(), new)
            .await
            .map_err(guest))
    }
}
