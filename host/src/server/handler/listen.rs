//! `subscriptions/listen` (MCP 2026-07-28): what a stream is granted, and the stream
//! served until the client cancels it or the server stops.

use rmcp::ErrorData as McpError;
use rmcp::model::SubscriptionFilter;
use rmcp::service::SubscriptionContext;

use super::PierServer;
use super::changes::forward_changes;
use super::pipeline::subscribing;
use crate::middleware::Request;
use crate::server::quota::{Quota, client_of};
use crate::server::subscriptions::{Subscriber, Target};

/// Most resource URIs one `subscriptions/listen` request may name, repeats included:
/// a longer list accepts none (rmcp intersects the lists pairwise).
const MAX_LISTEN_URIS: usize = 1024;

/// Most `subscriptions/listen` streams one client keeps open at once (its verified
/// subject, else its address): each holds a task, a channel and its subscriptions.
pub const MAX_LISTENS_PER_CLIENT: usize = 32;

/// The open listen streams of each client ([`MAX_LISTENS_PER_CLIENT`] each).
pub fn listens() -> Quota {
    Quota::new(MAX_LISTENS_PER_CLIENT, usize::MAX)
}

impl PierServer {
    /// `subscriptions/listen` (MCP 2026-07-28) accepts the list changes asked for and
    /// the first `server.max-subscriptions` resource URIs a mount serves and the caller
    /// may read by `[[auth.rule]]` (none when the request names more than
    /// [`MAX_LISTEN_URIS`], repeats included), each within `server.max-uri-bytes` and
    /// matched once; the acknowledgement names what was accepted.
    pub(super) fn accept_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = requested.clone();
        if let Some(uris) = accepted.resource_subscriptions.take() {
            let mut seen = std::collections::HashSet::new();
            let limit = self.shared.max_subscriptions.min(MAX_LISTEN_URIS);
            let kept: Vec<String> = if uris.len() > MAX_LISTEN_URIS {
                tracing::debug!(
                    "subscriptions/listen named {} resource URIs, more than {MAX_LISTEN_URIS}: none accepted",
                    uris.len()
                );
                Vec::new()
            } else {
                let catalogue = self.shared.registry.snapshot();
                let (subject, scopes) = self.caller.as_deref().map_or((None, &[][..]), |c| {
                    (Some(c.subject.as_str()), &c.scopes[..])
                });
                // What the caller may read, authorization first: the acknowledgement
                // never names a resource the caller may not see.
                let readable = |uri: &String| {
                    catalogue.resolve_resource(uri).is_some_and(|resolved| {
                        self.shared
                            .gate
                            .as_ref()
                            .is_none_or(|gate| gate.may_read(subject, scopes, uri, &resolved))
                    })
                };
                uris.into_iter()
                    .filter(|uri| uri.len() <= self.shared.max_uri_bytes)
                    .filter(|uri| seen.insert(uri.clone()))
                    .filter(readable)
                    .take(limit)
                    .collect()
            };
            accepted.resource_subscriptions = (!kept.is_empty()).then_some(kept);
        }
        Some(accepted)
    }

    /// Serves one `subscriptions/listen` stream until the client cancels it or the
    /// server stops: each accepted resource URI passes the middleware as a
    /// `resources/subscribe` would (a refused one is dropped from the stream), and the
    /// catalogue's changes go out as the list changes the stream accepted.
    pub(super) async fn serve_listen(
        &self,
        subscription: SubscriptionContext,
    ) -> Result<(), McpError> {
        let context = subscription.request_context().clone();
        let _open = self.shared.listens.take(client_of(&context)).map_err(|_| {
            McpError::new(
                rmcp::model::ErrorCode(-32000),
                format!(
                    "this client already has {MAX_LISTENS_PER_CLIENT} subscriptions/listen streams open: close one first"
                ),
                None,
            )
        })?;
        let closed = context.ct.child_token();
        let _stop = closed.clone().drop_guard();
        let sink = subscription.sink().clone();
        let key = format!("listen-{:016x}", fastrand::u64(..));
        let mut uris = subscription
            .accepted()
            .resource_subscriptions
            .clone()
            .unwrap_or_default();
        // rmcp keeps the repeats of the request in the accepted filter.
        uris.sort_unstable();
        uris.dedup();
        for uri in uris {
            let (key, closed, sink) = (key.clone(), closed.clone(), sink.clone());
            let end = subscribing(self.shared.clone(), move || Subscriber {
                key: key.clone(),
                closed: closed.clone(),
                target: Target::Listen(sink.clone()),
            });
            if let Err(e) = self
                .subscription(Request::Subscribe(uri.clone()), &context, &end)
                .await
            {
                tracing::debug!(
                    "subscriptions/listen: {} not subscribed: {}",
                    crate::text::clip(&uri),
                    e.message
                );
            }
        }
        let changes = self.shared.registry.subscribe();
        tokio::select! {
            () = forward_changes(Target::Listen(sink), changes, closed.clone()) => {}
            () = subscription.cancelled() => {}
            () = self.shared.draining.cancelled() => {}
        }
        Ok(())
    }
}
