//! HTTP session records in the store, so that another pier sharing the store (Redis),
//! or this one after a restart, recognises a session it did not start: the client's
//! `initialize` parameters are kept under `pier/session/{id}` and rmcp replays the
//! handshake from them when a request names a session this process does not know.
//!
//! A record expires `server.session-idle-ms` after the session started, or after it
//! was last put away ([`super::hibernation`], which writes it again for the rest of
//! the session's idle time), so a session that idled out is never revived; a closed
//! session's record is deleted.

use std::sync::Arc;
use std::time::Duration;

use rmcp::transport::streamable_http_server::session::store::{
    SessionState, SessionStore, SessionStoreError,
};

use crate::storage::KeyValue;

/// What the record of a session keeps, from the message that began it: the client's
/// `initialize` parameters (`None` for any other message).
pub fn state_of(message: &rmcp::model::ClientJsonRpcMessage) -> Option<SessionState> {
    use rmcp::model::{ClientJsonRpcMessage, ClientRequest};
    match message {
        ClientJsonRpcMessage::Request(request) => match &request.request {
            ClientRequest::InitializeRequest(init) => Some(SessionState::new(init.params.clone())),
            _ => None,
        },
        _ => None,
    }
}

/// Where session records live.
const PREFIX: &str = "pier/session/";

/// rmcp's session store, on pier's [`KeyValue`] store.
pub struct SessionRecords {
    store: Arc<dyn KeyValue>,
    ttl: Duration,
}

impl SessionRecords {
    /// Records in `store`, each kept for `ttl`.
    pub fn new(store: Arc<dyn KeyValue>, ttl: Duration) -> Self {
        Self { store, ttl }
    }

    fn key(id: &str) -> String {
        format!("{PREFIX}{id}")
    }

    /// Writes session `id`'s record, kept for `ttl` from now (a session put away keeps
    /// its record for the rest of its idle time).
    pub async fn keep(
        &self,
        id: &str,
        state: &SessionState,
        ttl: Duration,
    ) -> Result<(), SessionStoreError> {
        let bytes = serde_json::to_vec(state)?;
        self.store.set(&Self::key(id), bytes, Some(ttl)).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl SessionStore for SessionRecords {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let Some(bytes) = self.store.get(&Self::key(session_id)).await? else {
            return Ok(None);
        };
        Ok(Some(serde_json::from_slice(&bytes)?))
    }

    async fn store(&self, session_id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        self.keep(session_id, state, self.ttl).await
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        self.store.delete(&Self::key(session_id)).await?;
        Ok(())
    }
}
