//! `pier:mcp/storage`: per-plugin key-value storage, a thin view of the call's
//! [`PluginStore`](crate::storage::PluginStore) (isolation and quotas live there).

use crate::runtime::bindings::storage::{Host, KeyPage, StorageError};
use crate::runtime::state::CallState;
use crate::storage::ScopedError;
use tracing::{Instrument, Span};

impl CallState {
    /// `answer` as the guest sees it; an unavailable store is also noted on the request
    /// (a retrying middleware may try again).
    fn answer<T>(&self, span: &Span, answer: Result<T, ScopedError>) -> Answer<T> {
        if let Err(ScopedError::Unavailable(_)) = &answer {
            self.ctx.mark_transient();
        }
        if let Err(e) = &answer {
            let kind = match e {
                ScopedError::InvalidKey(_) => "invalid_key",
                ScopedError::QuotaExceeded(_) => "quota_exceeded",
                ScopedError::Unavailable(_) => "unavailable",
            };
            crate::telemetry::trace::fail(span, kind, &e.to_string());
        }
        Ok(answer.map_err(guest))
    }
}

fn guest(error: ScopedError) -> StorageError {
    match error {
        ScopedError::InvalidKey(m) => StorageError::InvalidKey(m),
        ScopedError::QuotaExceeded(m) => StorageError::QuotaExceeded(m),
        ScopedError::Unavailable(m) => StorageError::Unavailable(m),
    }
}

type Answer<T> = wasmtime::Result<Result<T, StorageError>>;

impl CallState {
    /// The plugin's store. Only plugins are linked with `pier:mcp/storage`; a call
    /// reaching here without one is a host bug, ended as a trap.
    fn plugin_store(&self) -> wasmtime::Result<&crate::storage::PluginStore> {
        self.store
            .as_ref()
            .ok_or_else(|| wasmtime::Error::msg("this component has no storage"))
    }
}

impl Host for CallState {
    async fn get(&mut self, key: String) -> Answer<Option<Vec<u8>>> {
        let span = crate::telemetry::trace::storage("get");
        let answer = self
            .plugin_store()?
            .get(&key)
            .instrument(span.clone())
            .await;
        self.answer(&span, answer)
    }

    async fn set(&mut self, key: String, value: Vec<u8>, ttl_ms: Option<u64>) -> Answer<()> {
        let span = crate::telemetry::trace::storage("set");
        let answer = self
            .plugin_store()?
            .set(&key, value, ttl_ms)
            .instrument(span.clone())
            .await;
        self.answer(&span, answer)
    }

    async fn delete(&mut self, key: String) -> Answer<bool> {
        let span = crate::telemetry::trace::storage("delete");
        let answer = self
            .plugin_store()?
            .delete(&key)
            .instrument(span.clone())
            .await;
        self.answer(&span, answer)
    }

    async fn list_keys(&mut self, prefix: String, cursor: Option<String>) -> Answer<KeyPage> {
        let span = crate::telemetry::trace::storage("list-keys");
        let answer = self
            .plugin_store()?
            .list_keys(&prefix, cursor.as_deref())
            .instrument(span.clone())
            .await;
        self.answer(
            &span,
            answer.map(|page| KeyPage {
                keys: page.keys,
                next_cursor: page.next_cursor,
            }),
        )
    }

    async fn increment(&mut self, key: String, by: i64) -> Answer<i64> {
        let span = crate::telemetry::trace::storage("increment");
        let answer = self
            .plugin_store()?
            .increment(&key, by)
            .instrument(span.clone())
            .await;
        self.answer(&span, answer)
    }

    async fn compare_and_set(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Answer<bool> {
        let span = crate::telemetry::trace::storage("compare-and-set");
        let answer = self
            .plugin_store()?
            .compare_and_set(&key, expected.as_deref(), new)
            .instrument(span.clone())
            .await;
        self.answer(&span, answer)
    }
}
