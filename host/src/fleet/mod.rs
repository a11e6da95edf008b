//! A pier among others on one Redis (a fleet): what one replica changes and the others
//! must know, it says on the store's notice bus ([`crate::storage::bus`]).
//!
//! | topic | said when | a replica that hears it |
//! |---|---|---|
//! | `resources/updated` | a plugin notified that a resource changed | tells its own subscribers of the URI (sessions and `subscriptions/listen` streams) |
//! | `session/level` | a 2025-11-25 session set its log level (`logging/setLevel`) | sends that session's log messages from that level on ([`Levels`]) |
//! | `unsubscribed` | a 2025-11-25 session unsubscribed from a resource | drops that session's subscription, should it hold it (the subscribe may have reached it) |
//! | `switched` | a plugin switched one of its components on or off | switches it too, in the same version of that mount |
//! | `mounts` | the admin API added or removed a mount | brings that namespace in line with its record in the store ([`mounts`]) |
//! | `session/…` | a 2025-11-25 session's message must reach the replica holding its stream | see [`crate::transport::relay`] |
//!
//! A replica ignores what it said itself (it acted already). Notices are cues, never the
//! truth: what must survive a lost notice (mounts) is in the store, and every replica
//! catches up from there when its listener reconnects to Redis, when it fell behind,
//! and every [`RESYNC_EVERY`]. On `memory` and `sled` there is one process: nothing is
//! said.

#![allow(deprecated)] // MCP logging is deprecated by a newer protocol revision; still served.

pub mod mounts;

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::storage::bus::{Bus, BusError, Notice};

/// The topic of a resource's update.
pub const RESOURCE_UPDATED: &str = "resources/updated";
/// The topic of a 2025-11-25 session's log level.
pub const SESSION_LEVEL: &str = "session/level";
/// The topic of a 2025-11-25 session's unsubscription.
pub const UNSUBSCRIBED: &str = "unsubscribed";
/// The topic of a component switched on or off.
pub const SWITCHED: &str = "switched";
/// The topic of an admin mount added or removed.
pub const MOUNTS: &str = "mounts";
/// How often a replica reads every mount record again, should a notice have been lost.
pub const RESYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// This replica on the bus.
pub struct Fleet {
    bus: Bus,
    id: String,
}

/// A notice as the bus carries it: who said it, and what.
#[derive(Serialize, serde::Deserialize)]
struct Said<T> {
    from: String,
    #[serde(flatten)]
    what: T,
}

/// `resources/updated`: the namespaced URI.
#[derive(Serialize, serde::Deserialize)]
pub struct ResourceUpdated {
    /// The URI as clients know it.
    pub uri: String,
}

/// `unsubscribed`: a session (its `Mcp-Session-Id`) no longer hears of a URI.
#[derive(Serialize, serde::Deserialize)]
pub struct Unsubscribed {
    /// The session's id.
    pub session: String,
    /// The namespaced URI.
    pub uri: String,
}

/// `session/level`: a session (its `Mcp-Session-Id`) set its log level.
#[derive(Serialize, serde::Deserialize)]
pub struct SessionLevel {
    /// The session's id.
    pub session: String,
    /// The least severe level it hears.
    pub level: rmcp::model::LoggingLevel,
}

/// Most sessions whose log level a replica remembers.
const MAX_LEVELS: usize = 65_536;

/// The log levels 2025-11-25 sessions set, by session id, on any replica: a request of
/// the session on this replica logs from that level on. An entry unused for a
/// session's idle time is forgotten (its session is gone); at most [`MAX_LEVELS`].
pub struct Levels {
    idle: std::time::Duration,
    by_session: std::sync::Mutex<
        std::collections::HashMap<String, (rmcp::model::LoggingLevel, std::time::Instant)>,
    >,
}

impl Levels {
    /// Levels of sessions idling out after `idle`.
    pub fn new(idle: std::time::Duration) -> Self {
        Self {
            idle,
            by_session: Default::default(),
        }
    }

    /// Session `session` logs from `level` on.
    pub fn set(&self, session: String, level: rmcp::model::LoggingLevel) {
        let mut levels = self.by_session.lock().unwrap_or_else(|e| e.into_inner());
        if levels.len() >= MAX_LEVELS && !levels.contains_key(&session) {
            levels.retain(|_, (_, used)| used.elapsed() < self.idle);
            if levels.len() >= MAX_LEVELS {
                tracing::debug!("the log level of a session was not kept: {MAX_LEVELS} are");
                return;
            }
        }
        levels.insert(session, (level, std::time::Instant::now()));
    }

    /// The level session `session` set, if it set one.
    pub fn get(&self, session: &str) -> Option<rmcp::model::LoggingLevel> {
        let mut levels = self.by_session.lock().unwrap_or_else(|e| e.into_inner());
        let (level, used) = levels.get_mut(session)?;
        *used = std::time::Instant::now();
        Some(*level)
    }
}

/// `switched`: a component of one version of a mount, on or off.
#[derive(Serialize, serde::Deserialize)]
pub struct Switched {
    /// The mount's namespace.
    pub namespace: String,
    /// The version of the mount that switched (another version ignores it).
    pub version: String,
    /// `tool`, `prompt` or `resource`.
    pub kind: String,
    /// The component, as the mount knows it.
    pub name: String,
    /// On or off.
    pub enabled: bool,
}

/// `mounts`: the namespace whose record changed.
#[derive(Serialize, serde::Deserialize)]
pub struct MountChanged {
    /// The namespace.
    pub namespace: String,
}

impl Fleet {
    /// This replica on `bus`, with a new random id.
    pub fn new(bus: Bus) -> Self {
        Self {
            bus,
            id: format!("{:016x}", fastrand::u64(..)),
        }
    }

    /// Whether other replicas may hear this one (the store is Redis).
    pub fn shared(&self) -> bool {
        self.bus.shared()
    }

    /// This replica's id among the fleet's: new at each start.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Tells the other replicas `what` about `topic`; nothing when there are none. A
    /// notice that cannot be said (Redis down) is logged: the others catch up from the
    /// store later, or miss a cue that only mattered now.
    pub async fn tell(&self, topic: &str, what: impl Serialize) {
        if !self.shared() {
            return;
        }
        let said = Said {
            from: self.id.clone(),
            what,
        };
        let published = match serde_json::to_vec(&said) {
            Ok(payload) => self.bus.publish(topic, &payload).await,
            Err(e) => Err(BusError::TooLarge(format!("a notice is not JSON: {e}"))),
        };
        if let Err(e) = published {
            tracing::warn!("the other replicas did not hear of `{topic}`: {e}");
        }
    }

    /// [`Fleet::tell`] in a task of its own, for a caller that must not wait (nothing
    /// is spawned when no other replica shares the store).
    pub fn tell_soon(self: &Arc<Self>, topic: &'static str, what: impl Serialize + Send + 'static) {
        if self.shared() {
            let fleet = self.clone();
            tokio::spawn(async move { fleet.tell(topic, what).await });
        }
    }

    /// What the fleet says from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Notice> {
        self.bus.subscribe()
    }

    /// What `notice` says, when another replica said it and it is what its topic
    /// carries; `None` for this replica's own notices and for what does not parse (Redis
    /// is shared with whoever reaches it: a stranger's message is logged and ignored).
    pub fn heard<T: DeserializeOwned>(&self, notice: &Notice) -> Option<T> {
        match serde_json::from_slice::<Said<T>>(&notice.payload) {
            Ok(said) if said.from == self.id => None,
            Ok(said) => Some(said.what),
            Err(e) => {
                tracing::debug!(
                    "a notice on `{}` was ignored: not what the topic carries ({e})",
                    crate::text::clip(&notice.topic)
                );
                None
            }
        }
    }
}

/// The name of a component kind on the bus.
pub fn kind_name(kind: crate::registry::Component) -> &'static str {
    use crate::registry::Component;
    match kind {
        Component::Tool => "tool",
        Component::Prompt => "prompt",
        Component::Resource => "resource",
    }
}

/// The component kind named `name` on the bus.
pub fn kind_of(name: &str) -> Option<crate::registry::Component> {
    use crate::registry::Component;
    match name {
        "tool" => Some(Component::Tool),
        "prompt" => Some(Component::Prompt),
        "resource" => Some(Component::Resource),
        _ => None,
    }
}

/// Acts on what the other replicas say until `stop`: the loop of [`crate::App::load`].
pub async fn hear(
    mut notices: tokio::sync::broadcast::Receiver<Notice>,
    mounting: Arc<mounts::Mounting>,
    stop: tokio_util::sync::CancellationToken,
) {
    use tokio::sync::broadcast::error::RecvError;
    let mut resync = tokio::time::interval(RESYNC_EVERY);
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is now: the mounts were read at start.
    resync.tick().await;
    loop {
        let notice = tokio::select! {
            () = stop.cancelled() => return,
            _ = resync.tick() => {
                mounting.sync_all().await;
                continue;
            }
            notice = notices.recv() => notice,
        };
        let notice = match notice {
            Ok(notice) => notice,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(
                    "{missed} notices of the other replicas were missed (this one fell behind); reading the mounts again"
                );
                mounting.sync_all().await;
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let shared = &mounting.shared;
        let fleet = &shared.fleet;
        match notice.topic.as_str() {
            crate::storage::bus::RECONNECTED => mounting.sync_all().await,
            MOUNTS => {
                if let Some(changed) = fleet.heard::<MountChanged>(&notice) {
                    mounting.sync(&changed.namespace).await;
                }
            }
            RESOURCE_UPDATED => {
                if let Some(updated) = fleet.heard::<ResourceUpdated>(&notice) {
                    // Each subscriber gets up to a few seconds to take it: the loop
                    // does not wait for slow clients.
                    let subscriptions = shared.subscriptions.clone();
                    tokio::spawn(async move { subscriptions.notify(&updated.uri).await });
                }
            }
            SESSION_LEVEL => {
                if let Some(set) = fleet.heard::<SessionLevel>(&notice) {
                    shared.session_levels.set(set.session, set.level);
                }
            }
            UNSUBSCRIBED => {
                if let Some(gone) = fleet.heard::<Unsubscribed>(&notice) {
                    shared.subscriptions.unsubscribe(&gone.uri, &gone.session);
                }
            }
            SWITCHED => {
                if let Some(switched) = fleet.heard::<Switched>(&notice) {
                    switch(shared, &switched);
                }
            }
            _ => {}
        }
    }
}

/// Switches a component as another replica did, in the same version of the mount.
fn switch(shared: &crate::server::Shared, switched: &Switched) {
    let Some(kind) = kind_of(&switched.kind) else {
        return;
    };
    let catalogue = shared.registry.snapshot();
    let Some(mount) = catalogue
        .mounts
        .iter()
        .find(|m| m.namespace == switched.namespace && m.version == switched.version)
    else {
        return;
    };
    if let Ok(true) = mount.set_enabled(kind, &switched.name, switched.enabled) {
        let changes = shared.registry.rebuild();
        tracing::info!(
            mount = %mount.name,
            component = %crate::text::clip(&switched.name),
            enabled = switched.enabled,
            ?changes,
            "switched a component, as another replica did"
        );
    }
}
