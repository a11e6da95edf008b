//! The requests in flight through one proxy, and whose client a message of the remote
//! server that names no request (a log message) belongs to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::model::ProgressToken;

use crate::runtime::CallContext;

/// The requests in flight through one proxy, by the progress token sent upstream.
pub(super) type InFlight = Arc<Mutex<Calls>>;

/// How long after a forwarded request ends its server's late notifications may still
/// be handled (the client handles each in a task of its own).
const LATE_NOTIFICATIONS: std::time::Duration = std::time::Duration::from_secs(1);

/// One forwarded request.
pub(super) struct Caller {
    pub(super) ctx: Arc<dyn CallContext>,
    /// Its client session ([`CallContext::session_key`]).
    session: String,
    /// No request of another session was in flight on the mount, or ended shortly
    /// before, at any time since this one started: what the server logs now is this
    /// session's.
    alone: bool,
}

#[derive(Default)]
pub(super) struct Calls {
    pub(super) by_token: HashMap<ProgressToken, Caller>,
    /// Per session, when its last request ended (sessions whose last request ended
    /// longer than [`LATE_NOTIFICATIONS`] ago are forgotten now and then): one entry
    /// per session, not per request.
    recent_ends: HashMap<String, std::time::Instant>,
}

impl Calls {
    pub(super) fn start(&mut self, token: ProgressToken, ctx: Arc<dyn CallContext>) {
        let session = ctx.session_key();
        let recent_stranger = self
            .recent_ends
            .iter()
            .any(|(whose, end)| *whose != session && end.elapsed() <= LATE_NOTIFICATIONS);
        let mut alone = !recent_stranger;
        for other in self.by_token.values_mut() {
            if other.session != session {
                other.alone = false;
                alone = false;
            }
        }
        self.by_token.insert(
            token,
            Caller {
                ctx,
                session,
                alone,
            },
        );
    }

    pub(super) fn end(&mut self, token: &ProgressToken) {
        if let Some(caller) = self.by_token.remove(token) {
            if self.recent_ends.len() >= 64 {
                self.recent_ends
                    .retain(|_, end| end.elapsed() <= LATE_NOTIFICATIONS);
            }
            self.recent_ends
                .insert(caller.session, std::time::Instant::now());
        }
    }

    /// The caller a log message of the server belongs to, when that can be known: the
    /// requests in flight are one session's, and no other session's overlapped them.
    pub(super) fn log_owner(&self) -> Option<Arc<dyn CallContext>> {
        let mut callers = self.by_token.values();
        let first = callers.next()?;
        let ours = |c: &Caller| c.alone && c.session == first.session;
        (ours(first) && callers.all(ours)).then(|| first.ctx.clone())
    }
}
