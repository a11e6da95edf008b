//! The trust scope of a request: who may share a warm instance with it
//! ([`crate::runtime::CallContext::trust_scope`], `reuse-scope = "session"`).
//!
//! - A request of a session (a stdio connection, an in-process pipe, a 2025-11-25 HTTP
//!   session) belongs to that session: the session object's own random id.
//! - A request without a session (MCP 2026-07-28 over HTTP, or any request to
//!   `pier serve --stateless`) belongs to its principal: the subject `[auth]` verified,
//!   or, with auth off, the one anonymous principal every such caller already is (the
//!   same tools, the same plugin storage).
//!
//! Never a value the client chooses: an `Mcp-Session-Id` sent to a stateless pier, or
//! sent beside a 2026-07-28 request, selects nothing here.

use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::service::RequestContext;

use super::context::is_modern;
use super::session::Session;

/// The scope every sessionless request shares while auth is off.
pub const ANONYMOUS: &str = "anonymous";

/// The trust scope of a request without a session whose verified subject is `subject`
/// (`None`: auth is off).
pub fn principal(subject: Option<&str>) -> Arc<str> {
    match subject {
        Some(subject) => format!("subject:{subject}").into(),
        None => ANONYMOUS.into(),
    }
}

/// Whether `request` belongs to a session that outlives it: it did not come over HTTP
/// (stdio, in-process pipes), or came to a stateful pier in a legacy (2025-11-25 or
/// older) session. Every MCP 2026-07-28 request over HTTP is served by a handler made
/// for it alone, as is every request to a stateless pier.
pub fn has_session(request: &RequestContext<RoleServer>, session: &Session) -> bool {
    let over_http = request
        .extensions
        .get::<axum::http::request::Parts>()
        .is_some();
    !over_http || !(session.is_per_request() || is_modern(request))
}
