//! The HTTP side of `[auth]`: the layer that admits requests to `/mcp` (and binds legacy
//! sessions to their subject), the one guarding endpoints `auth.open-endpoints` leaves
//! closed, and the protected resource metadata.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};

use super::{Refusal, Verifier};
use crate::storage::KeyValue;

/// What guards `/mcp`: the verifier, and where a legacy session's subject is kept.
pub struct Guard {
    /// Verifies tokens.
    verifier: Arc<Verifier>,
    /// The store that binds each HTTP session to the subject that created it, and how
    /// long a binding lives (the session's idle time); `None` without sessions.
    sessions: Option<(Arc<dyn KeyValue>, Duration)>,
    /// Bindings read or made here lately: a session's subject never changes, so a
    /// request of a known session does not ask the store again.
    bound: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// The most session bindings [`Guard`] keeps in memory.
const MAX_BOUND: usize = 10_000;

impl Guard {
    /// Guards `/mcp` with `verifier`; `sessions` keeps the subject of each session.
    pub fn new(verifier: Arc<Verifier>, sessions: Option<(Arc<dyn KeyValue>, Duration)>) -> Self {
        Self {
            verifier,
            sessions,
            bound: Default::default(),
        }
    }

    fn bound(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, String>> {
        self.bound.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers that session `id` belongs to `subject`.
    fn bind(&self, id: &str, subject: &str) {
        let mut bound = self.bound();
        if bound.len() >= MAX_BOUND {
            bound.clear();
        }
        bound.insert(id.to_string(), subject.to_string());
    }

    /// The subject session `id` belongs to, if it is bound: from memory, else the store.
    async fn owner(&self, store: &Arc<dyn KeyValue>, id: &str) -> Result<Option<String>, String> {
        if let Some(subject) = self.bound().get(id) {
            return Ok(Some(subject.clone()));
        }
        let owner = store
            .get(&session_key(id))
            .await
            .map_err(|e| e.to_string())?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        if let Some(owner) = &owner {
            self.bind(id, owner);
        }
        Ok(owner)
    }
}

/// Where the subject of session `id` is kept.
fn session_key(id: &str) -> String {
    format!("pier/session-subject/{id}")
}

/// The answer to a request naming a session of another subject: the one an unknown
/// session gets, so a session id of someone else tells nothing.
fn unknown_session() -> Response {
    (StatusCode::NOT_FOUND, "Not Found: Session not found").into_response()
}

/// Authenticates a request to `/mcp`: the verified [`Identity`] goes into its
/// extensions, or the answer is 401 (403 when the token lacks `auth.required-scopes`).
/// A request in a session another subject created is answered as for an unknown
/// session (404); a session a request creates is bound to its subject.
pub async fn authenticate(
    State(guard): State<Arc<Guard>>,
    mut request: Request,
    next: Next,
) -> Response {
    let identity = match guard.verifier.admit(request.headers()).await {
        Ok(identity) => identity,
        Err(why) => return refused(&guard.verifier, &why),
    };
    let session = request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let (Some((store, _)), Some(id)) = (&guard.sessions, &session) {
        match guard.owner(store, id).await {
            Ok(Some(owner)) if owner != identity.subject => return unknown_session(),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("cannot read the subject of a session: {e}");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the session store is unavailable",
                )
                    .into_response();
            }
        }
    }
    let subject = identity.subject.clone();
    request.extensions_mut().insert(identity);
    let response = next.run(request).await;
    if let (Some((store, ttl)), None) = (&guard.sessions, &session)
        && let Some(created) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
    {
        guard.bind(created, &subject);
        if let Err(e) = store
            .set(&session_key(created), subject.into_bytes(), Some(*ttl))
            .await
        {
            tracing::warn!("cannot bind a new session to its subject: {e}");
        }
    }
    response
}

/// The answer to a refused request, logged (the reason, never the token).
pub(crate) fn refused(verifier: &Verifier, why: &Refusal) -> Response {
    match why {
        Refusal::Missing => {}
        Refusal::Invalid(reason) => tracing::info!(target: "pier::auth", "token refused: {reason}"),
        Refusal::Scope(needed) => tracing::info!(
            target: "pier::auth",
            "token lacks the scope(s) {}",
            needed.join(" ")
        ),
    }
    verifier.challenge(why)
}

/// Guards an endpoint that `auth.open-endpoints` does not open: any verified token.
pub async fn require_token(
    State(verifier): State<Arc<Verifier>>,
    request: Request,
    next: Next,
) -> Response {
    match verifier.verify(request.headers()).await {
        Ok(_) => next.run(request).await,
        Err(why) => refused(&verifier, &why),
    }
}

/// `GET /.well-known/oauth-protected-resource[/mcp]`.
pub async fn metadata(State(verifier): State<Arc<Verifier>>) -> Response {
    Json(verifier.auth().metadata()).into_response()
}
