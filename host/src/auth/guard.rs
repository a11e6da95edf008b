//! The HTTP side of `[auth]`: the layer that admits requests to `/mcp` (and binds legacy
//! sessions to their subject), the one guarding endpoints `auth.open-endpoints` leaves
//! closed, and the protected resource metadata.

use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// The store that binds each HTTP session to the subject that created it, and the
    /// session's idle time (`server.session-idle-ms`); `None` without sessions.
    sessions: Option<(Arc<dyn KeyValue>, Duration)>,
    /// Bindings read or made here lately: a session's subject never changes, so a
    /// request of a known session does not ask the store again. The store is the
    /// record; this map only spares reads of it.
    bound: std::sync::Mutex<std::collections::HashMap<String, Binding>>,
}

/// A session's subject, as remembered in memory.
#[derive(Clone)]
struct Binding {
    subject: String,
    /// The session's last request here.
    seen: Instant,
    /// When the binding's lifetime in the store was last extended.
    refreshed: Instant,
}

/// The most session bindings [`Guard`] keeps in memory: beyond, those of sessions idle
/// longer than their idle time (closed) go, then the least recently used (their
/// binding is still in the store).
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

    fn bound(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Binding>> {
        self.bound.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers that session `id` belongs to `subject`, its binding in the store
    /// extended now.
    fn remember(&self, id: &str, subject: &str, idle: Duration) {
        let now = Instant::now();
        let mut bound = self.bound();
        if bound.len() >= MAX_BOUND && !bound.contains_key(id) {
            bound.retain(|_, b| b.seen.elapsed() < idle);
            if bound.len() >= MAX_BOUND
                && let Some(oldest) = bound
                    .iter()
                    .min_by_key(|(_, b)| b.seen)
                    .map(|(id, _)| id.clone())
            {
                bound.remove(&oldest);
            }
        }
        bound.insert(
            id.to_string(),
            Binding {
                subject: subject.to_string(),
                seen: now,
                refreshed: now,
            },
        );
    }

    /// Binds session `id` to `subject` in the store for as long as the session may
    /// live without another request (its idle time, and a quarter more: a binding is
    /// extended at most every quarter of it).
    async fn bind(
        &self,
        store: &Arc<dyn KeyValue>,
        id: &str,
        subject: &str,
        idle: Duration,
    ) -> Result<(), String> {
        let ttl = idle + idle / 4;
        store
            .set(&session_key(id), subject.as_bytes().to_vec(), Some(ttl))
            .await
            .map_err(|e| e.to_string())?;
        self.remember(id, subject, idle);
        Ok(())
    }

    /// The subject session `id` belongs to, if it is bound: from memory, else the
    /// store; either way the binding lives on with the session it is used by.
    async fn owner(
        &self,
        store: &Arc<dyn KeyValue>,
        id: &str,
        idle: Duration,
    ) -> Result<Option<String>, String> {
        let known = self.bound().get_mut(id).map(|binding| {
            binding.seen = Instant::now();
            binding.clone()
        });
        if let Some(binding) = known {
            if binding.refreshed.elapsed() >= idle / 4
                && let Err(e) = self.bind(store, id, &binding.subject, idle).await
            {
                // Known here, the request goes on; the next one tries again.
                tracing::warn!("cannot extend the binding of a session: {e}");
            }
            return Ok(Some(binding.subject));
        }
        let owner = store
            .get(&session_key(id))
            .await
            .map_err(|e| e.to_string())?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        if let Some(owner) = &owner {
            self.bind(store, id, owner, idle).await?;
        }
        Ok(owner)
    }

    /// Forgets session `id` (ended by its client).
    async fn unbind(&self, store: &Arc<dyn KeyValue>, id: &str) {
        self.bound().remove(id);
        if let Err(e) = store.delete(&session_key(id)).await {
            tracing::warn!("cannot remove the binding of an ended session: {e}");
        }
    }
}

/// Whether a request names its MCP revision as 2026-07-28 or later in its header: such
/// a request stands alone, and a session id it carries selects nothing.
fn is_sessionless(request: &Request) -> bool {
    request
        .headers()
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v >= rmcp::model::ProtocolVersion::V_2026_07_28.as_str())
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
        .map(str::to_string)
        .filter(|_| !is_sessionless(&request));
    if let (Some((store, idle)), Some(id)) = (&guard.sessions, &session) {
        match guard.owner(store, id, *idle).await {
            Ok(Some(owner)) if owner == identity.subject => {}
            // Another subject's session, or one bound to no subject (never created
            // here, ended, or its binding lost): refused alike, so a session id tells
            // nothing and a lost binding never lets anyone in.
            Ok(_) => return unknown_session(),
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
    let ending = request.method() == axum::http::Method::DELETE;
    request.extensions_mut().insert(identity);
    let response = next.run(request).await;
    let Some((store, idle)) = &guard.sessions else {
        return response;
    };
    match &session {
        Some(id) if ending && response.status().is_success() => guard.unbind(store, id).await,
        Some(_) => {}
        None => {
            if let Some(created) = response
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                && let Err(e) = guard.bind(store, created, &subject, *idle).await
            {
                // Unbound, the session would be refused to everyone (fail closed):
                // say so now rather than hand out an id that cannot be used.
                tracing::warn!("cannot bind a new session to its subject: {e}");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the session store is unavailable",
                )
                    .into_response();
            }
        }
    }
    response
}

/// The answer to a refused request, logged (the reason, never the token).
pub(crate) fn refused(verifier: &Verifier, why: &Refusal) -> Response {
    verifier.count_refusal(why);
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::body::Body;
    use axum::routing::any;
    use tower::ServiceExt;

    use super::*;
    use crate::auth::{AuthConfig, Mode, TokenSpec, hash_token, parse_hash};

    fn token(secret: &str, subject: &str) -> TokenSpec {
        TokenSpec {
            hash: parse_hash(&hash_token(secret)).unwrap(),
            subject: subject.into(),
            scopes: vec![],
        }
    }

    /// A guard of sessions idle for `idle` at most, `ci-token` for `ci` and
    /// `ops-token` for `ops`, and its store.
    fn guard(idle: Duration) -> (Arc<Guard>, Arc<dyn KeyValue>) {
        let auth = AuthConfig {
            mode: Mode::Tokens,
            tokens: vec![token("ci-token", "ci"), token("ops-token", "ops")],
            resource: "https://mcp.example.com/mcp".into(),
            ..AuthConfig::default()
        };
        let verifier = Verifier::new(auth, crate::runtime::grants::Trust::web()).unwrap();
        let store: Arc<dyn KeyValue> = Arc::new(crate::storage::memory::Memory::default());
        let guard = Guard::new(Arc::new(verifier), Some((store.clone(), idle)));
        (Arc::new(guard), store)
    }

    /// `/mcp` behind `guard`: a POST without a session starts session `sN`.
    fn app(guard: &Arc<Guard>) -> Router {
        let sessions = Arc::new(AtomicUsize::new(0));
        let mcp = any(move |request: Request| {
            let sessions = sessions.clone();
            async move {
                if request.headers().contains_key("mcp-session-id") {
                    return "in session".into_response();
                }
                let n = sessions.fetch_add(1, Ordering::Relaxed);
                ([("mcp-session-id", format!("s{n}"))], "started").into_response()
            }
        });
        Router::new().route(
            "/mcp",
            mcp.layer(axum::middleware::from_fn_with_state(
                guard.clone(),
                authenticate,
            )),
        )
    }

    async fn send(
        app: &Router,
        method: &str,
        token: &str,
        session: Option<&str>,
        version: &str,
    ) -> (StatusCode, Option<String>) {
        let mut request = Request::builder()
            .method(method)
            .uri("/mcp")
            .header("authorization", format!("Bearer {token}"))
            .header("mcp-protocol-version", version);
        if let Some(id) = session {
            request = request.header("mcp-session-id", id);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let id = response
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_string());
        (response.status(), id)
    }

    const LEGACY: &str = "2025-11-25";

    #[tokio::test]
    async fn a_session_without_a_binding_is_refused_to_everyone() {
        let (guard, store) = guard(Duration::from_secs(60));
        let app = app(&guard);
        let (status, id) = send(&app, "POST", "ci-token", None, LEGACY).await;
        assert_eq!(status, StatusCode::OK);
        let id = id.unwrap();
        let ok = send(&app, "POST", "ci-token", Some(&id), LEGACY).await;
        assert_eq!(ok.0, StatusCode::OK);
        let stranger = send(&app, "POST", "ops-token", Some(&id), LEGACY).await;
        assert_eq!(stranger.0, StatusCode::NOT_FOUND);
        // The binding lost (out of memory, gone from the store): nobody gets in.
        guard.bound().clear();
        store.delete(&session_key(&id)).await.unwrap();
        for token in ["ci-token", "ops-token"] {
            let refused = send(&app, "POST", token, Some(&id), LEGACY).await;
            assert_eq!(refused.0, StatusCode::NOT_FOUND, "{token}");
        }
        // An id never handed out, likewise; a 2026-07-28 request's id selects nothing
        // and is left to the endpoint.
        let made_up = send(&app, "POST", "ci-token", Some("s99"), LEGACY).await;
        assert_eq!(made_up.0, StatusCode::NOT_FOUND);
        let modern = send(&app, "POST", "ops-token", Some("s99"), "2026-07-28").await;
        assert_eq!(modern.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_binding_lives_as_long_as_its_session_is_used() {
        let idle = Duration::from_millis(400);
        let (guard, store) = guard(idle);
        let app = app(&guard);
        let id = send(&app, "POST", "ci-token", None, LEGACY)
            .await
            .1
            .unwrap();
        // Used for three idle times, never idle for one.
        let until = Instant::now() + idle * 3;
        while Instant::now() < until {
            let used = send(&app, "POST", "ci-token", Some(&id), LEGACY).await;
            assert_eq!(used.0, StatusCode::OK);
            tokio::time::sleep(idle / 5).await;
        }
        assert_eq!(
            store.get(&session_key(&id)).await.unwrap(),
            Some(b"ci".to_vec()),
            "the binding is still in the store"
        );
        // Out of memory, it is read back from the store, still the creator's only.
        guard.bound().clear();
        let stranger = send(&app, "POST", "ops-token", Some(&id), LEGACY).await;
        assert_eq!(stranger.0, StatusCode::NOT_FOUND);
        let owner = send(&app, "POST", "ci-token", Some(&id), LEGACY).await;
        assert_eq!(owner.0, StatusCode::OK);
        // Ended by its client: forgotten here and in the store.
        let ended = send(&app, "DELETE", "ci-token", Some(&id), LEGACY).await;
        assert_eq!(ended.0, StatusCode::OK);
        assert_eq!(store.get(&session_key(&id)).await.unwrap(), None);
        let after = send(&app, "POST", "ci-token", Some(&id), LEGACY).await;
        assert_eq!(after.0, StatusCode::NOT_FOUND);
    }

    #[test]
    fn many_sessions_evict_the_idle_then_the_oldest_never_all() {
        let idle = Duration::from_secs(60);
        let (guard, _) = guard(idle);
        for n in 0..MAX_BOUND {
            guard.remember(&format!("s{n}"), "ci", idle);
        }
        // Sessions idle longer than their idle time are closed: they go first.
        let long_ago = Instant::now() - idle * 2;
        for n in 0..10 {
            guard.bound().get_mut(&format!("s{n}")).unwrap().seen = long_ago;
        }
        guard.remember("new", "ops", idle);
        let bound = guard.bound();
        assert_eq!(bound.len(), MAX_BOUND - 9);
        assert!(!bound.contains_key("s0") && !bound.contains_key("s9"));
        assert_eq!(bound["new"].subject, "ops");
        drop(bound);
        // Full of live sessions: the least recently used one goes, only it.
        for n in 0..9 {
            guard.remember(&format!("more{n}"), "ci", idle);
        }
        assert_eq!(guard.bound().len(), MAX_BOUND);
        guard.remember("last", "ci", idle);
        let bound = guard.bound();
        assert_eq!(bound.len(), MAX_BOUND);
        assert!(!bound.contains_key("s10"), "the oldest");
        assert!(bound.contains_key("s11") && bound.contains_key("last"));
    }
}
