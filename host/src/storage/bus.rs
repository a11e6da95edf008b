//! Notices between the piers of a fleet: a topic and a small payload, published by one
//! pier and heard by every pier on the same store, itself included (a catalogue changed,
//! a mount was added). On one process (`memory`, `sled`) it is an in-process channel;
//! on Redis, pub/sub on the channels `PREFIX` + `bus:` + topic.
//!
//! Pub/sub keeps no history: a notice published while a pier is cut off from Redis
//! never reaches it. So every (re)connection of the listener is heard as a notice of
//! the topic [`RECONNECTED`], after which a pier catches up from the store (what is
//! there is the truth; notices only say when to look). A subscriber that falls more than
//! [`CAPACITY`] notices behind loses the oldest, and hears a lag (see
//! [`tokio::sync::broadcast`]): it catches up the same way.
//!
//! Redis is shared with whoever else reaches it: notices received are bounded
//! ([`MAX_TOPIC_BYTES`], [`MAX_PAYLOAD_BYTES`]); larger ones are dropped with a warning.

use std::time::Duration;

use tokio::sync::broadcast;

use super::StoreError;

/// Notices kept for a subscriber that has not read them yet.
pub const CAPACITY: usize = 256;
/// Longest topic.
pub const MAX_TOPIC_BYTES: usize = 256;
/// Largest payload (a session's message relayed to the replica holding its stream may
/// carry a sampling request's conversation).
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;
/// The topic of the notice every pier hears when its listener (re)connects.
pub const RECONNECTED: &str = "bus/reconnected";

/// Why a notice was not published.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Its topic or payload is over its bound.
    #[error("{0}")]
    TooLarge(String),
    /// Redis cannot be reached.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What it is about.
    pub topic: String,
    /// What it says.
    pub payload: Vec<u8>,
}

/// The notices of one pier: publish to the fleet, subscribe to what the fleet says.
pub struct Bus {
    heard: broadcast::Sender<Notice>,
    redis: Option<Publisher>,
    /// Stops the Redis listener when the bus goes.
    _listening: Option<tokio_util::sync::DropGuard>,
}

struct Publisher {
    connection: redis::aio::ConnectionManager,
    channels: String,
}

impl Bus {
    /// The bus of one process.
    pub fn local() -> Self {
        Self {
            heard: broadcast::channel(CAPACITY).0,
            redis: None,
            _listening: None,
        }
    }

    /// The bus of the piers sharing `backend`: Redis pub/sub for Redis, this process
    /// alone otherwise.
    pub fn open(backend: &super::Backend) -> Result<Self, StoreError> {
        match backend {
            super::Backend::Redis { url, prefix } => Self::redis(url, prefix),
            _ => Ok(Self::local()),
        }
    }

    /// Whether other processes hear this bus (it is on Redis).
    pub fn shared(&self) -> bool {
        self.redis.is_some()
    }

    /// The bus of every pier on the Redis server at `url` whose keys start with
    /// `prefix`. Connects lazily, and again after Redis restarts; must be made inside
    /// a Tokio runtime (it starts the listener).
    pub fn redis(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError::Unavailable {
            backend: "redis",
            reason: format!("invalid URL {}: {e}", super::redact(url)),
        })?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(1);
        let connection =
            redis::aio::ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(
                |e| StoreError::Unavailable {
                    backend: "redis",
                    reason: e.to_string(),
                },
            )?;
        let channels = format!("{prefix}bus:");
        let heard = broadcast::channel(CAPACITY).0;
        let stop = tokio_util::sync::CancellationToken::new();
        tokio::spawn(listen(
            client,
            channels.clone(),
            heard.clone(),
            stop.clone(),
        ));
        Ok(Self {
            heard,
            redis: Some(Publisher {
                connection,
                channels,
            }),
            _listening: Some(stop.drop_guard()),
        })
    }

    /// Tells every pier (this one included) `payload` about `topic`. Fails when the
    /// topic or payload is over its bound, or Redis cannot be reached.
    pub async fn publish(&self, topic: &str, payload: &[u8]) -> Result<(), BusError> {
        if topic.len() > MAX_TOPIC_BYTES || payload.len() > MAX_PAYLOAD_BYTES {
            return Err(BusError::TooLarge(format!(
                "a notice is at most {MAX_TOPIC_BYTES} bytes of topic and {MAX_PAYLOAD_BYTES} of payload; `{}` has {} and {}",
                crate::text::clip(topic),
                topic.len(),
                payload.len()
            )));
        }
        match &self.redis {
            None => {
                // No subscriber is not a failure: nobody needed to hear it.
                let _ = self.heard.send(Notice {
                    topic: topic.to_string(),
                    payload: payload.to_vec(),
                });
                Ok(())
            }
            Some(publisher) => {
                let mut connection = publisher.connection.clone();
                redis::cmd("PUBLISH")
                    .arg(format!("{}{topic}", publisher.channels))
                    .arg(payload)
                    .query_async::<i64>(&mut connection)
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        BusError::Store(StoreError::Unavailable {
                            backend: "redis",
                            reason: e.to_string(),
                        })
                    })
            }
        }
    }

    /// What the fleet says from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.heard.subscribe()
    }
}

/// Listens to the bus's channels on Redis until `stop`, connecting again (after a short
/// wait that grows up to a second) whenever the connection ends.
async fn listen(
    client: redis::Client,
    channels: String,
    heard: broadcast::Sender<Notice>,
    stop: tokio_util::sync::CancellationToken,
) {
    use futures::StreamExt;
    let mut wait = Duration::from_millis(50);
    let mut warned = false;
    while !stop.is_cancelled() {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.psubscribe(format!("{channels}*")).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = tokio::select! {
            () = stop.cancelled() => return,
            subscribed = subscribed => subscribed,
        };
        match pubsub {
            Ok(pubsub) => {
                if warned {
                    tracing::info!("the fleet's notices are heard again (Redis answers)");
                }
                wait = Duration::from_millis(50);
                warned = false;
                let _ = heard.send(Notice {
                    topic: RECONNECTED.to_string(),
                    payload: Vec::new(),
                });
                let mut messages = pubsub.into_on_message();
                loop {
                    let message = tokio::select! {
                        () = stop.cancelled() => return,
                        message = messages.next() => message,
                    };
                    let Some(message) = message else { break };
                    let topic = message
                        .get_channel_name()
                        .strip_prefix(channels.as_str())
                        .unwrap_or_default();
                    let payload = message.get_payload_bytes();
                    if topic.is_empty()
                        || topic.len() > MAX_TOPIC_BYTES
                        || payload.len() > MAX_PAYLOAD_BYTES
                    {
                        tracing::warn!(
                            "ignoring a notice on Redis channel `{}` of {} bytes: over the bus's bounds",
                            crate::text::clip(message.get_channel_name()),
                            payload.len()
                        );
                        continue;
                    }
                    let _ = heard.send(Notice {
                        topic: topic.to_string(),
                        payload: payload.to_vec(),
                    });
                }
            }
            Err(e) => {
                if !warned {
                    tracing::warn!(
                        "the fleet's notices cannot be heard (Redis: {e}); trying again until it answers"
                    );
                    warned = true;
                }
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_bus_tells_its_subscribers_and_refuses_what_is_too_large() {
        let bus = Bus::local();
        let mut heard = bus.subscribe();
        bus.publish("catalogue", b"changed").await.unwrap();
        assert_eq!(
            heard.recv().await.unwrap(),
            Notice {
                topic: "catalogue".into(),
                payload: b"changed".to_vec()
            }
        );
        let long = "t".repeat(MAX_TOPIC_BYTES + 1);
        assert!(bus.publish(&long, b"").await.is_err());
        let large = vec![0; MAX_PAYLOAD_BYTES + 1];
        assert!(bus.publish("catalogue", &large).await.is_err());
        assert!(heard.try_recv().is_err(), "nothing refused was heard");
    }
}
