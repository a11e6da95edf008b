//! MCP 2025-11-25 sessions across a fleet: any replica serves any request of a
//! session, and what the server has to say to the session's client reaches the replica
//! holding the client's GET stream.
//!
//! A request of a session reaches whichever replica the balancer picks; that replica
//! restores the session from its record if it does not have it ([`super::sessions`])
//! and answers on the request's own stream (with the request's progress, and the
//! sampling or elicitation requests a call makes). What rmcp sends on the session's
//! standalone stream instead (log messages, `resources/updated`, server requests made
//! outside a request) is relayed when another replica holds that stream:
//!
//! - a replica that does not hold the session's GET stream says such a message on the
//!   bus (`session/out`); the replica that holds it writes it to the stream. List
//!   changes are the exception: every replica announces its own (each one's catalogue
//!   changes with the fleet's), so the holder's is enough and the others' are dropped;
//! - server requests carry ids tagged with their replica (a random number times 2³²
//!   plus rmcp's own id; tags are taken back before rmcp sees the answer). An answer
//!   that reaches another replica is said on the bus (`session/in`) and taken by the
//!   replica whose tag it carries;
//! - `notifications/cancelled` reaches every replica with the session in memory, so the
//!   one running the request stops it;
//! - a `DELETE` of the session closes it on every replica (`session/closed`): its id is
//!   unknown everywhere afterwards.
//!
//! Relayed messages on a GET stream have no event id: a client that reconnects its
//! stream with `Last-Event-ID` gets again what its replica kept, not what was relayed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::Stream;
use rmcp::RoleServer;
use rmcp::model::{
    ClientJsonRpcMessage, ClientNotification, NumberOrString, RequestId, ServerJsonRpcMessage,
    ServerNotification,
};
use rmcp::transport::Transport;
use rmcp::transport::streamable_http_server::session::{ServerSseMessage, SessionId};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::fleet::Fleet;
use crate::storage::bus::Notice;

/// A message for the client of a session, to go on its GET stream.
pub const SESSION_OUT: &str = "session/out";
/// A message of a session's client for the replica it concerns.
pub const SESSION_IN: &str = "session/in";
/// A session ended by its client.
pub const SESSION_CLOSED: &str = "session/closed";
/// Relayed messages a GET stream holds before its client takes them; beyond, the
/// newest are dropped (a client that does not read its stream).
const STREAM_BUFFER: usize = 64;
/// Longest session id relayed.
const MAX_SESSION_BYTES: usize = 256;
/// Ids below this are rmcp's own; a tag multiplies by it.
const TAG_UNIT: i64 = 1 << 32;

/// A message of one session, as the bus carries it.
#[derive(Serialize, Deserialize)]
struct OfSession<M> {
    session: String,
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    message: Option<M>,
}

fn none<M>() -> Option<M> {
    None
}

/// Where a message the server sends to a session's client goes.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// To this replica's worker (the request's stream, or the GET stream held here).
    Here,
    /// To the replica holding the session's GET stream.
    Relay,
    /// Nowhere: the replica holding the stream says it itself.
    Drop,
}

/// This replica's part in relaying sessions.
pub struct Relay {
    fleet: Arc<Fleet>,
    /// This replica's tag on the ids of its server requests, in `1..2²⁰` (ids stay
    /// below 2⁵³, exact in JavaScript).
    tag: i64,
    /// The GET streams held here: where relayed messages go.
    streams: Mutex<HashMap<SessionId, (u64, mpsc::Sender<ServerJsonRpcMessage>)>>,
}

impl Relay {
    /// The relay of `fleet`; `None` when no other replica shares the store.
    pub fn new(fleet: Arc<Fleet>) -> Option<Arc<Self>> {
        fleet.shared().then(|| {
            Arc::new(Self {
                fleet,
                tag: fastrand::i64(1..1 << 20),
                streams: Mutex::default(),
            })
        })
    }

    fn streams(
        &self,
    ) -> MutexGuard<'_, HashMap<SessionId, (u64, mpsc::Sender<ServerJsonRpcMessage>)>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the GET stream of `session` is held here.
    fn holds(&self, session: &SessionId) -> bool {
        self.streams()
            .get(session)
            .is_some_and(|(_, tx)| !tx.is_closed())
    }

    /// `stream`, the GET stream of `session` held here, with what other replicas relay
    /// to it; relayed messages go to it until it ends.
    pub fn hold<S>(
        self: &Arc<Self>,
        session: &SessionId,
        stream: S,
    ) -> impl Stream<Item = ServerSseMessage> + Send + Sync + 'static + use<S>
    where
        S: Stream<Item = ServerSseMessage> + Send + Sync + 'static,
    {
        use futures::StreamExt;
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let generation = fastrand::u64(..);
        self.streams().insert(session.clone(), (generation, tx));
        let held = Held {
            relay: self.clone(),
            session: session.clone(),
            generation,
        };
        let relayed = futures::stream::unfold(rx, |mut rx| async move {
            let message = rx.recv().await?;
            Some((ServerSseMessage::from_message(message), rx))
        });
        futures::stream::select(stream, relayed).map(move |event| {
            let _released_when_the_stream_ends = &held;
            event
        })
    }

    /// Where `message`, sent by this replica's worker of `session`, goes.
    fn route(&self, session: &SessionId, message: &ServerJsonRpcMessage) -> Route {
        let common = match message {
            ServerJsonRpcMessage::Request(request) => {
                use rmcp::model::GetExtensions;
                request
                    .request
                    .extensions()
                    .get::<rmcp::service::OriginatingRequestId>()
                    .is_none()
            }
            ServerJsonRpcMessage::Notification(notification) => !matches!(
                notification.notification,
                ServerNotification::ProgressNotification(_)
                    | ServerNotification::CancelledNotification(_)
            ),
            _ => false,
        };
        if !common || self.holds(session) {
            return Route::Here;
        }
        match message {
            ServerJsonRpcMessage::Notification(n)
                if matches!(
                    n.notification,
                    ServerNotification::ToolListChangedNotification(_)
                        | ServerNotification::ResourceListChangedNotification(_)
                        | ServerNotification::PromptListChangedNotification(_)
                ) =>
            {
                Route::Drop
            }
            _ => Route::Relay,
        }
    }

    /// Tags the id of a server request with this replica.
    fn tag(&self, message: &mut ServerJsonRpcMessage) {
        if let ServerJsonRpcMessage::Request(request) = message
            && let NumberOrString::Number(n) = request.id
            && (0..TAG_UNIT).contains(&n)
        {
            request.id = NumberOrString::Number(self.tag * TAG_UNIT + n);
        }
    }

    /// Takes this replica's tag back from the id of an answer to a server request.
    fn untag(&self, message: &mut ClientJsonRpcMessage) {
        let id = match message {
            ClientJsonRpcMessage::Response(response) => Some(&mut response.id),
            ClientJsonRpcMessage::Error(error) => error.id.as_mut(),
            _ => None,
        };
        if let Some(id) = id
            && let NumberOrString::Number(n) = *id
            && n / TAG_UNIT == self.tag
        {
            *id = NumberOrString::Number(n % TAG_UNIT);
        }
    }

    /// The tag of the replica an answer from the client is for, when it is tagged.
    fn owner(message: &ClientJsonRpcMessage) -> Option<i64> {
        let id = match message {
            ClientJsonRpcMessage::Response(response) => Some(&response.id),
            ClientJsonRpcMessage::Error(error) => error.id.as_ref(),
            _ => None,
        }?;
        match id {
            RequestId::Number(n) if *n >= TAG_UNIT => Some(n / TAG_UNIT),
            _ => None,
        }
    }

    /// Whether the client's `message` of a session goes to other replicas: an answer
    /// tagged with another replica (and then not here), a cancellation (and here too).
    /// The first of the pair says whether this replica takes it.
    pub fn inbound(&self, message: &ClientJsonRpcMessage) -> (bool, bool) {
        if let Some(owner) = Self::owner(message) {
            return (owner == self.tag, owner != self.tag);
        }
        let cancels = matches!(
            message,
            ClientJsonRpcMessage::Notification(n)
                if matches!(n.notification, ClientNotification::CancelledNotification(_))
        );
        (true, cancels)
    }

    /// Whether `message` is of the kinds a replica passes to another (answers and
    /// cancellations): anything else heard on the bus is ignored.
    pub fn relayable(message: &ClientJsonRpcMessage) -> bool {
        match message {
            ClientJsonRpcMessage::Response(_) | ClientJsonRpcMessage::Error(_) => true,
            ClientJsonRpcMessage::Notification(n) => {
                matches!(n.notification, ClientNotification::CancelledNotification(_))
            }
            _ => false,
        }
    }

    /// Says `message` of `session` on `topic`.
    pub async fn say<M: Serialize>(&self, topic: &str, session: &SessionId, message: Option<M>) {
        let said = OfSession {
            session: session.to_string(),
            message,
        };
        self.fleet.tell(topic, said).await;
    }

    /// What a `session/…` notice of another replica says: the session and its message.
    pub fn heard<M: serde::de::DeserializeOwned>(
        &self,
        notice: &Notice,
    ) -> Option<(SessionId, Option<M>)> {
        let said: OfSession<M> = self.fleet.heard(notice)?;
        (said.session.len() <= MAX_SESSION_BYTES)
            .then(|| (SessionId::from(said.session), said.message))
    }

    /// Writes `message`, relayed by another replica, to the GET stream of `session`
    /// if it is held here.
    pub fn deliver(&self, session: &SessionId, message: ServerJsonRpcMessage) {
        let tx = self.streams().get(session).map(|(_, tx)| tx.clone());
        if let Some(tx) = tx
            && tx.try_send(message).is_err()
        {
            tracing::debug!(
                "a message relayed to a session's stream was dropped: its client does not read it"
            );
        }
    }

    /// What the other replicas say, from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Notice> {
        self.fleet.subscribe()
    }

    /// `inner`, the transport of a worker of `session`, relaying through `relay` (when
    /// there is one).
    pub fn wrap<T>(relay: &Option<Arc<Self>>, session: &SessionId, inner: T) -> Relayed<T> {
        Relayed {
            inner,
            session: session.clone(),
            relay: relay.clone(),
        }
    }
}

/// A GET stream held here, until it ends.
struct Held {
    relay: Arc<Relay>,
    session: SessionId,
    generation: u64,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut streams = self.relay.streams();
        if streams
            .get(&self.session)
            .is_some_and(|(g, _)| *g == self.generation)
        {
            streams.remove(&self.session);
        }
    }
}

/// A session worker's transport, relaying what another replica must send.
pub struct Relayed<T> {
    inner: T,
    session: SessionId,
    relay: Option<Arc<Relay>>,
}

impl<T> Transport<RoleServer> for Relayed<T>
where
    T: Transport<RoleServer>,
{
    type Error = T::Error;

    fn send(
        &mut self,
        mut item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        use futures::FutureExt;
        let Some(relay) = self.relay.clone() else {
            return self.inner.send(item).left_future();
        };
        relay.tag(&mut item);
        match relay.route(&self.session, &item) {
            Route::Here => self.inner.send(item).left_future(),
            Route::Drop => std::future::ready(Ok(())).boxed().right_future(),
            Route::Relay => {
                let session = self.session.clone();
                async move {
                    relay.say(SESSION_OUT, &session, Some(item)).await;
                    Ok(())
                }
                .boxed()
                .right_future()
            }
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<ClientJsonRpcMessage>> + Send {
        let relay = self.relay.clone();
        let received = self.inner.receive();
        async move {
            let mut message = received.await?;
            if let Some(relay) = relay {
                relay.untag(&mut message);
            }
            Some(message)
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn relay(tag: i64) -> Relay {
        Relay {
            fleet: Arc::new(Fleet::new(crate::storage::bus::Bus::local())),
            tag,
            streams: Mutex::default(),
        }
    }

    fn client(message: Value) -> ClientJsonRpcMessage {
        serde_json::from_value(message).unwrap()
    }

    fn id_of(message: &ClientJsonRpcMessage) -> Value {
        serde_json::to_value(message).unwrap()["id"].clone()
    }

    #[test]
    fn a_server_request_names_its_replica_and_the_answer_finds_it() {
        let (here, there) = (relay(5), relay(7));
        let mut asked: ServerJsonRpcMessage =
            serde_json::from_value(json!({"jsonrpc": "2.0", "id": 3, "method": "ping"})).unwrap();
        here.tag(&mut asked);
        let id = serde_json::to_value(&asked).unwrap()["id"].clone();
        assert_eq!(id, json!(5 * (1i64 << 32) + 3));
        let answer = json!({"jsonrpc": "2.0", "id": id, "result": {}});
        // Reaching the other replica, it goes on and is not taken there.
        assert_eq!(there.inbound(&client(answer.clone())), (false, true));
        // At home it is taken, its tag taken back before rmcp sees it.
        assert_eq!(here.inbound(&client(answer.clone())), (true, false));
        let mut taken = client(answer);
        here.untag(&mut taken);
        assert_eq!(id_of(&taken), json!(3));
        // Another replica's untag leaves a foreign tag alone.
        let mut foreign = client(json!({"jsonrpc": "2.0", "id": id, "result": {}}));
        there.untag(&mut foreign);
        assert_eq!(id_of(&foreign), id);
    }

    #[test]
    fn what_goes_to_other_replicas_is_answers_and_cancellations_only() {
        let here = relay(5);
        let untagged = client(json!({"jsonrpc": "2.0", "id": 3, "result": {}}));
        assert_eq!(here.inbound(&untagged), (true, false));
        let cancel = client(
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                                   "params": {"requestId": 9}}),
        );
        assert_eq!(here.inbound(&cancel), (true, true));
        assert!(Relay::relayable(&cancel));
        assert!(Relay::relayable(&untagged));
        let request = client(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}));
        assert!(
            !Relay::relayable(&request),
            "a request heard on the bus is ignored"
        );
        let progress = client(json!({"jsonrpc": "2.0", "method": "notifications/progress",
                                     "params": {"progressToken": 1, "progress": 1}}));
        assert!(!Relay::relayable(&progress));
        // A string id (never rmcp's) is left alone.
        let mut asked: ServerJsonRpcMessage =
            serde_json::from_value(json!({"jsonrpc": "2.0", "id": "s", "method": "ping"})).unwrap();
        here.tag(&mut asked);
        assert_eq!(serde_json::to_value(&asked).unwrap()["id"], "s");
    }

    #[test]
    fn list_changes_are_left_to_the_replica_holding_the_stream() {
        let here = relay(5);
        let session = SessionId::from("s1".to_string());
        let changed: ServerJsonRpcMessage = serde_json::from_value(
            json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}),
        )
        .unwrap();
        let log: ServerJsonRpcMessage = serde_json::from_value(json!({"jsonrpc": "2.0",
            "method": "notifications/message", "params": {"level": "info", "data": "x"}}))
        .unwrap();
        let answer: ServerJsonRpcMessage =
            serde_json::from_value(json!({"jsonrpc": "2.0", "id": 1, "result": {}})).unwrap();
        assert_eq!(here.route(&session, &changed), Route::Drop);
        assert_eq!(here.route(&session, &log), Route::Relay);
        assert_eq!(here.route(&session, &answer), Route::Here);
        // Held here: everything stays here.
        let (tx, _rx) = mpsc::channel(1);
        here.streams().insert(session.clone(), (1, tx));
        assert_eq!(here.route(&session, &changed), Route::Here);
        assert_eq!(here.route(&session, &log), Route::Here);
    }
}
