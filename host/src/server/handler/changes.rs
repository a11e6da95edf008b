//! Catalogue changes to the clients that hear of them: `list_changed` notifications to
//! a session (MCP 2025-11-25) or to a `subscriptions/listen` stream (2026-07-28).

use crate::registry::Changes;
use crate::server::subscriptions::Target;

/// Sends `notifications/{tools,resources,prompts}/list_changed` to `target` for every
/// catalogue change, until `closed` (the session or the listen stream ends). A listen
/// stream hears only the kinds it accepted.
pub(super) async fn forward_changes(
    target: Target,
    mut changes: tokio::sync::broadcast::Receiver<Changes>,
    closed: tokio_util::sync::CancellationToken,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let changed = tokio::select! {
            () = closed.cancelled() => return,
            changed = changes.recv() => match changed {
                Ok(changed) => changed,
                // Fell behind: some changes were missed, so everything may have changed.
                Err(RecvError::Lagged(_)) => Changes::ALL,
                Err(RecvError::Closed) => return,
            },
        };
        let sent = tokio::time::timeout(
            crate::server::subscriptions::SEND_TIMEOUT,
            send_changes(&target, changed),
        );
        match sent.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!("no more list_changed notifications: {e}");
                return;
            }
            Err(_) => {
                tracing::warn!(
                    "a client did not take a list_changed notification within {} s (it does not read its stream): it hears of no more",
                    crate::server::subscriptions::SEND_TIMEOUT.as_secs()
                );
                return;
            }
        }
    }
}

/// One catalogue change as `list_changed` notifications to `target`.
async fn send_changes(target: &Target, changed: Changes) -> Result<(), String> {
    match target {
        Target::Session(peer) => {
            let sent = async {
                if changed.tools {
                    peer.notify_tool_list_changed().await?;
                }
                if changed.resources {
                    peer.notify_resource_list_changed().await?;
                }
                if changed.prompts {
                    peer.notify_prompt_list_changed().await?;
                }
                Ok::<(), rmcp::service::ServiceError>(())
            };
            sent.await.map_err(|e| e.to_string())
        }
        Target::Listen(sink) => {
            let accepted = sink.accepted().clone();
            let sent = async {
                if changed.tools && accepted.tools_list_changed == Some(true) {
                    sink.notify_tool_list_changed().await?;
                }
                if changed.resources && accepted.resources_list_changed == Some(true) {
                    sink.notify_resource_list_changed().await?;
                }
                if changed.prompts && accepted.prompts_list_changed == Some(true) {
                    sink.notify_prompt_list_changed().await?;
                }
                Ok::<(), rmcp::service::SubscriptionSendError>(())
            };
            sent.await.map_err(|e| e.to_string())
        }
    }
}
