//! Tasks (the `io.modelcontextprotocol/tasks` extension of MCP 2026-07-28): a tool call
//! that goes on after its request is answered, polled with `tasks/get`, given input
//! with `tasks/update`, stopped with `tasks/cancel`.
//!
//! A call of a tool that may run as a task (`taskSupport` in its annotations) starts in
//! its request like any other. It becomes a task when the guest calls
//! `context.start-task`, or when it has run for `server.task-after-ms`: pier then writes
//! the task's record to the store (so `tasks/get` answers at once, on any replica
//! sharing the store) and answers the request with the task; the call runs on in the
//! background and its outcome goes to the record. A question the call asks as a task
//! parks it `input_required`; once `tasks/update` has answered every pending question,
//! the call runs again from the start in a fresh instance with all the answers
//! (re-execution, as for input round trips), on the replica that took the last answer.
//! A replica polls the record of every task it runs, so `tasks/cancel` reaching another
//! replica still interrupts the guest. The replica running a task also says so every
//! [`HEARTBEAT_EVERY`] (a key that expires after [`STALE_AFTER`]): when it dies, the
//! next `tasks/get` after [`STALE_AFTER`], on any replica, fails the task, saying why
//! (its work is lost with the replica; the client calls the tool again).
//!
//! Over authenticated HTTP a task belongs to the subject that started it: to any other
//! caller `tasks/get`, `tasks/update` and `tasks/cancel` answer as for an unknown task.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::ErrorData as McpError;
use rmcp::model::{
    CallToolResult, ClientCapabilities, CreateTaskResult, DetailedTask, InputRequests, JsonObject,
    Task, TaskPayload, TaskStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::storage::KeyValue;

/// How long a task's record is kept after its last change.
pub const TASK_TTL: Duration = Duration::from_secs(3600);
/// How often a client should poll, and a replica running a task reads its record.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Most tasks one pier runs at once; a call beyond answers in its request.
pub const MAX_RUNNING: usize = 256;
/// Prefix of the store keys of task records.
const PREFIX: &str = "pier/tasks/";
/// Prefix of the keys by which the replica running a task says it still runs it.
const BEATS: &str = "pier/task-beats/";
/// How often the replica running a task says so.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// A `working` task nobody said they run for this long (its replica died) fails at its
/// next `tasks/get`.
pub const STALE_AFTER: Duration = Duration::from_secs(10);
/// Attempts at an update that loses races with other writers.
const CAS_ATTEMPTS: usize = 16;

/// A task as the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Its public state.
    pub task: Task,
    /// The questions it waits for (`input_required`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_requests: Option<InputRequests>,
    /// Its result (`completed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<JsonObject>,
    /// Its error (`failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<JsonObject>,
    /// The tool called (namespaced) and its arguments: what a run calls.
    pub tool: String,
    /// The call's arguments.
    pub arguments: JsonObject,
    /// Every answer given so far, by question key.
    #[serde(default)]
    pub answers: BTreeMap<String, Value>,
    /// What the client that created it declared it can answer.
    #[serde(default)]
    pub capabilities: ClientCapabilities,
    /// The verified subject that started it, if the request was authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl Record {
    /// The task as `tasks/get` shows it.
    pub fn detailed(&self) -> DetailedTask {
        let payload = match self.task.status {
            TaskStatus::InputRequired => TaskPayload::InputRequired {
                input_requests: self.input_requests.clone().unwrap_or_default(),
            },
            TaskStatus::Completed => TaskPayload::Completed {
                result: self.result.clone().unwrap_or_default(),
            },
            TaskStatus::Failed => TaskPayload::Failed {
                error: self.error.clone().unwrap_or_default(),
            },
            TaskStatus::Cancelled => TaskPayload::Cancelled,
            _ => TaskPayload::Working,
        };
        DetailedTask::new(self.task.clone(), payload)
    }

    /// Moves to `status`, clearing the payload of the previous one.
    fn set(&mut self, status: TaskStatus) {
        self.task.status = status;
        self.task.last_updated_at = now();
        self.input_requests = None;
        self.result = None;
        self.error = None;
    }
}

/// What a run of a task came to.
pub enum Outcome {
    /// The tool's result (an `isError` one included).
    Done(CallToolResult),
    /// Questions without answers: the task waits for `tasks/update`.
    Asked(InputRequests),
    /// A protocol error.
    Failed(McpError),
    /// The run was cancelled.
    Cancelled,
}

/// The moment a call becomes a task: the guest's `context.start-task`, or the timer.
#[derive(Default)]
pub struct Start {
    started: AtomicBool,
    asked: Notify,
    /// Why the run ended without a result (the guest trapped, ran out of time or
    /// memory): the task fails rather than completing with a tool error.
    crash: Mutex<Option<String>>,
}

impl Start {
    /// A start already made (a task's later runs).
    pub fn made() -> Self {
        let start = Self::default();
        start.started.store(true, Ordering::Release);
        start
    }

    /// The guest asks to go on as a task; true from now on.
    pub fn request(&self) -> bool {
        if !self.started.swap(true, Ordering::AcqRel) {
            self.asked.notify_one();
        }
        true
    }

    /// Marks the call a task (the timer ran out).
    pub fn make(&self) {
        self.started.store(true, Ordering::Release);
    }

    /// Whether the call is a task.
    pub fn started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    /// Notes that the run ended without a result, saying why.
    pub fn crashed(&self, reason: String) {
        *self.crash.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
    }

    /// Why the run ended without a result, if it did.
    pub fn crash(&self) -> Option<String> {
        self.crash.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Resolves when the guest asks to go on as a task.
    pub async fn asked(&self) {
        if !self.started() {
            self.asked.notified().await;
        }
    }
}

/// The tasks of a pier: records in the store, the runs of this process.
pub struct Tasks {
    store: Arc<dyn KeyValue>,
    running: Mutex<Running>,
    /// Tasks one subject may start per [`TASK_TTL`].
    max_per_subject: usize,
}

/// The runs of this process, and the places reserved for runs about to start: together
/// at most [`MAX_RUNNING`].
#[derive(Default)]
struct Running {
    runs: HashMap<String, CancellationToken>,
    reserved: usize,
}

/// A place for one more run, taken from [`MAX_RUNNING`] until a run takes it over
/// ([`Tasks::spawn`]) or it is dropped.
pub struct Reservation {
    /// `None` once a run took the place over.
    tasks: Option<Arc<Tasks>>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(tasks) = self.tasks.take() {
            let mut running = tasks.running();
            running.reserved = running.reserved.saturating_sub(1);
        }
    }
}

/// Where the start times of a subject's tasks are counted.
fn starts_key(subject: Option<&str>) -> String {
    use sha2::Digest;
    let who = subject.unwrap_or("");
    let hash = sha2::Sha256::digest(who.as_bytes());
    format!("pier/task-starts/{}", hex::encode(&hash[..16]))
}

/// An ISO 8601 timestamp of now.
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn key(id: &str) -> String {
    format!("{PREFIX}{id}")
}

fn beat_key(id: &str) -> String {
    format!("{BEATS}{id}")
}

/// `-32602` for a task id no record answers to.
/// Who asks for a task.
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    /// pier itself (the replica running it).
    Pier,
    /// A client, with the verified subject of its request (`None` unauthenticated).
    Client(Option<&'a str>),
}

fn unknown(id: &str) -> McpError {
    McpError::invalid_params(
        format!("no task `{}` (unknown, or expired)", crate::text::clip(id)),
        None,
    )
}

fn storage(e: impl std::fmt::Display) -> McpError {
    McpError::internal_error(format!("task storage: {e}"), None)
}

impl Tasks {
    /// Tasks kept in `store`, each subject starting at most `max_per_subject` of them
    /// per [`TASK_TTL`].
    pub fn new(store: Arc<dyn KeyValue>, max_per_subject: usize) -> Self {
        Self {
            store,
            running: Mutex::default(),
            max_per_subject,
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, Running> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many tasks this pier runs now.
    pub fn running_here(&self) -> usize {
        self.running().runs.len()
    }

    /// A place for one more run, if this pier runs (or is about to run) fewer than
    /// [`MAX_RUNNING`] tasks: checked and taken at once.
    pub fn reserve(self: &Arc<Self>) -> Option<Reservation> {
        let mut running = self.running();
        if running.runs.len() + running.reserved >= MAX_RUNNING {
            return None;
        }
        running.reserved += 1;
        Some(Reservation {
            tasks: Some(self.clone()),
        })
    }

    /// Counts a task start of `subject` unless it started [`Tasks::max_per_subject`]
    /// within [`TASK_TTL`] (a sliding window, as `rate-limit`'s): whether it may start
    /// one.
    async fn count_start(&self, subject: Option<&str>) -> Result<bool, McpError> {
        use crate::middleware::rate_limit::{Verdict, take_from_window};
        let key = starts_key(subject);
        let capacity = u32::try_from(self.max_per_subject).unwrap_or(u32::MAX);
        for _ in 0..CAS_ATTEMPTS {
            let current = self.store.get(&key).await.map_err(storage)?;
            let now = chrono::Utc::now().timestamp_millis().max(0) as u64;
            let window = TASK_TTL.as_millis() as u64;
            let (verdict, new, ttl) = take_from_window(current.as_deref(), now, window, capacity);
            let (Verdict::Allowed, Some(new)) = (verdict, new) else {
                return Ok(false);
            };
            if self
                .store
                .compare_and_set(&key, current.as_deref(), new, Some(ttl))
                .await
                .map_err(storage)?
            {
                return Ok(true);
            }
        }
        Err(McpError::internal_error(
            "task starts change too often to count",
            None,
        ))
    }

    /// A new task for a call of `tool`, `working`, stored before this returns; `None`
    /// when its subject started `server.max-tasks-per-subject` tasks within the hour.
    pub async fn create(
        &self,
        tool: &str,
        arguments: JsonObject,
        answers: BTreeMap<String, Value>,
        capabilities: ClientCapabilities,
        subject: Option<String>,
    ) -> Result<Option<CreateTaskResult>, McpError> {
        if !self.count_start(subject.as_deref()).await? {
            return Ok(None);
        }
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(storage)?;
        let id = hex::encode(bytes);
        let stamp = now();
        let task = Task::new(&id, TaskStatus::Working, &stamp, &stamp)
            .with_ttl_ms(TASK_TTL.as_millis() as u64)
            .with_poll_interval_ms(POLL_INTERVAL.as_millis() as u64);
        let record = Record {
            task: task.clone(),
            input_requests: None,
            result: None,
            error: None,
            tool: tool.to_string(),
            arguments,
            answers,
            capabilities,
            subject,
        };
        let bytes = serde_json::to_vec(&record).map_err(storage)?;
        self.store
            .set(&key(&id), bytes, Some(TASK_TTL))
            .await
            .map_err(storage)?;
        Ok(Some(CreateTaskResult::new(task)))
    }

    /// The record of task `id`, if `who` may see it. To a client, a `working` task
    /// whose replica stopped saying it runs it ([`STALE_AFTER`]) is failed first.
    pub async fn get(&self, id: &str, who: Who<'_>) -> Result<Record, McpError> {
        let (record, _) = self.read(id, who).await?;
        if matches!(who, Who::Client(_)) && self.orphaned(id, &record).await {
            let Value::Object(error) = serde_json::to_value(McpError::internal_error(
                format!(
                    "the replica running this task stopped (nothing heard of it for {} s): its work is lost; call the tool again",
                    STALE_AFTER.as_secs()
                ),
                None,
            ))
            .map_err(storage)?
            else {
                return Ok(record);
            };
            return self
                .update(id, who, |record| {
                    if record.task.status != TaskStatus::Working {
                        return false;
                    }
                    record.set(TaskStatus::Failed);
                    record.error = Some(error.clone());
                    true
                })
                .await;
        }
        Ok(record)
    }

    /// Whether task `id` is `working` with nobody running it: not run here, unchanged
    /// for [`STALE_AFTER`], and no replica said it runs it within that time.
    async fn orphaned(&self, id: &str, record: &Record) -> bool {
        if record.task.status != TaskStatus::Working || self.running().runs.contains_key(id) {
            return false;
        }
        let quiet = chrono::DateTime::parse_from_rfc3339(&record.task.last_updated_at)
            .ok()
            .and_then(|at| (chrono::Utc::now() - at.to_utc()).to_std().ok())
            .is_some_and(|age| age >= STALE_AFTER);
        quiet && matches!(self.store.get(&beat_key(id)).await, Ok(None))
    }

    /// Says that this replica runs task `id`, for [`STALE_AFTER`].
    async fn beat(&self, id: &str) {
        if let Err(e) = self
            .store
            .set(&beat_key(id), b"1".to_vec(), Some(STALE_AFTER))
            .await
        {
            tracing::debug!("task {id}: heartbeat not written: {e}");
        }
    }

    /// The record of task `id` and its stored bytes; to a client of another subject
    /// than the one that started it, the task is unknown.
    async fn read(&self, id: &str, who: Who<'_>) -> Result<(Record, Vec<u8>), McpError> {
        let bytes = self
            .store
            .get(&key(id))
            .await
            .map_err(storage)?
            .ok_or_else(|| unknown(id))?;
        let record: Record = serde_json::from_slice(&bytes).map_err(storage)?;
        if let Who::Client(subject) = who
            && record.subject.as_deref() != subject
        {
            return Err(unknown(id));
        }
        Ok((record, bytes))
    }

    /// Applies `change` to the record of task `id` (again, should another writer get
    /// in between); `change` returns false to leave it as it is. The record after.
    async fn update(
        &self,
        id: &str,
        who: Who<'_>,
        mut change: impl FnMut(&mut Record) -> bool,
    ) -> Result<Record, McpError> {
        for _ in 0..CAS_ATTEMPTS {
            let (mut record, bytes) = self.read(id, who).await?;
            if !change(&mut record) {
                return Ok(record);
            }
            let new = serde_json::to_vec(&record).map_err(storage)?;
            let written = self
                .store
                .compare_and_set(&key(id), Some(&bytes), new, Some(TASK_TTL))
                .await
                .map_err(storage)?;
            if written {
                return Ok(record);
            }
        }
        Err(McpError::internal_error(
            format!("task `{id}` changes too often to update"),
            None,
        ))
    }

    /// Answers questions of task `id`: those it waits for are kept, others ignored.
    /// The record after, and whether it has every answer now (a run must start).
    pub async fn answer(
        &self,
        id: &str,
        responses: &BTreeMap<String, Value>,
        who: Who<'_>,
    ) -> Result<(Record, bool), McpError> {
        let mut resume = false;
        let record = self
            .update(id, who, |record| {
                resume = false;
                if record.task.status != TaskStatus::InputRequired {
                    return false;
                }
                let pending = record.input_requests.get_or_insert_default();
                let mut changed = false;
                for (key, answer) in responses {
                    if pending.remove(key).is_some() {
                        record.answers.insert(key.clone(), answer.clone());
                        changed = true;
                    }
                }
                if record.input_requests.as_ref().is_some_and(|p| p.is_empty()) {
                    record.set(TaskStatus::Working);
                    resume = true;
                } else if changed {
                    record.task.last_updated_at = now();
                }
                changed
            })
            .await?;
        Ok((record, resume))
    }

    /// Cancels task `id` unless it has ended; interrupts its run here.
    pub async fn cancel(&self, id: &str, who: Who<'_>) -> Result<(), McpError> {
        self.update(id, who, |record| {
            if record.task.status.is_terminal() {
                return false;
            }
            record.set(TaskStatus::Cancelled);
            true
        })
        .await?;
        if let Some(token) = self.running().runs.get(id) {
            token.cancel();
        }
        Ok(())
    }

    /// Runs `run` as task `id`'s current run, in the place `reservation` holds:
    /// interrupted when the task is cancelled (here or on another replica), its
    /// outcome recorded unless the task was cancelled meanwhile.
    pub fn spawn(
        self: &Arc<Self>,
        mut reservation: Reservation,
        id: String,
        cancel: CancellationToken,
        run: impl Future<Output = Outcome> + Send + 'static,
    ) {
        {
            let mut running = self.running();
            running.runs.insert(id.clone(), cancel.clone());
            // The place is the run's now: the reservation gives it up without
            // releasing it.
            if reservation.tasks.take().is_some() {
                running.reserved = running.reserved.saturating_sub(1);
            }
        }
        let tasks = self.clone();
        tokio::spawn(async move {
            let watch = tasks.clone();
            let watched = id.clone();
            let stop = cancel.clone();
            let watcher = tokio::spawn(async move {
                let beat_every = (HEARTBEAT_EVERY.as_millis() / POLL_INTERVAL.as_millis()).max(1);
                for tick in 0u128.. {
                    if tick % beat_every == 0 {
                        watch.beat(&watched).await;
                    }
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(POLL_INTERVAL) => {}
                    }
                    match watch.get(&watched, Who::Pier).await {
                        Ok(r) if r.task.status == TaskStatus::Cancelled => return stop.cancel(),
                        Ok(_) => {}
                        // Expired or unreadable: nobody can fetch the outcome.
                        Err(e) if e.code == rmcp::model::ErrorCode::INVALID_PARAMS => {
                            return stop.cancel();
                        }
                        Err(e) => tracing::debug!("task {watched}: {}", e.message),
                    }
                }
            });
            let outcome = tokio::select! {
                outcome = run => outcome,
                () = cancel.cancelled() => Outcome::Cancelled,
            };
            watcher.abort();
            tasks.running().runs.remove(&id);
            if let Err(e) = tasks.finish(&id, outcome).await {
                tracing::warn!("task {id}: outcome not recorded: {}", e.message);
            }
        });
    }

    /// Records the outcome of a run of task `id`, unless the task was cancelled.
    async fn finish(&self, id: &str, outcome: Outcome) -> Result<(), McpError> {
        let (status, result, error, asked) = match outcome {
            Outcome::Done(result) => {
                let mut value = serde_json::to_value(&result).map_err(storage)?;
                if let Some(meta) = value.get_mut("_meta").and_then(Value::as_object_mut) {
                    meta.remove("io.modelcontextprotocol/related-task");
                }
                let Value::Object(object) = value else {
                    return Err(storage("a tool result is not an object"));
                };
                (TaskStatus::Completed, Some(object), None, None)
            }
            Outcome::Asked(questions) => (TaskStatus::InputRequired, None, None, Some(questions)),
            Outcome::Failed(e) => {
                let Value::Object(error) = serde_json::to_value(&e).map_err(storage)? else {
                    return Err(storage("an error is not an object"));
                };
                (TaskStatus::Failed, None, Some(error), None)
            }
            Outcome::Cancelled => (TaskStatus::Cancelled, None, None, None),
        };
        self.update(id, Who::Pier, |record| {
            if record.task.status.is_terminal() {
                return false;
            }
            record.set(status);
            record.result = result.clone();
            record.error = error.clone();
            record.input_requests = asked.clone();
            true
        })
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pier_runs_a_bounded_number_of_tasks() {
        let store = crate::storage::open(&crate::storage::Backend::Memory).unwrap();
        let tasks = Arc::new(Tasks::new(store, 1000));
        let mut runs = Vec::new();
        for n in 0..MAX_RUNNING - 1 {
            let reservation = tasks.reserve().expect("room");
            let cancel = CancellationToken::new();
            tasks.spawn(
                reservation,
                format!("t{n}"),
                cancel.clone(),
                std::future::pending(),
            );
            runs.push(cancel);
        }
        // The last place, reserved: none left, for racing calls either.
        let last = tasks.reserve().expect("one place left");
        assert!(tasks.reserve().is_none());
        assert_eq!(tasks.running_here(), MAX_RUNNING - 1);
        // Given back, it can be taken again.
        drop(last);
        let last = tasks.reserve().expect("given back");
        let cancel = CancellationToken::new();
        tasks.spawn(last, "last".into(), cancel.clone(), std::future::pending());
        runs.push(cancel);
        assert!(tasks.reserve().is_none());
        assert_eq!(tasks.running_here(), MAX_RUNNING);
        // A run that ends makes room again.
        runs[0].cancel();
        let mut room = None;
        for _ in 0..100 {
            room = tasks.reserve();
            if room.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(room.is_some());
        assert_eq!(tasks.running_here(), MAX_RUNNING - 1);
        runs.iter().for_each(CancellationToken::cancel);
    }

    #[tokio::test]
    async fn a_subject_starts_a_bounded_number_of_tasks_per_hour() {
        let store = crate::storage::open(&crate::storage::Backend::Memory).unwrap();
        let tasks = Tasks::new(store.clone(), 3);
        let create = |subject: Option<&str>| {
            tasks.create(
                "t",
                JsonObject::new(),
                BTreeMap::new(),
                ClientCapabilities::default(),
                subject.map(str::to_string),
            )
        };
        for _ in 0..3 {
            assert!(create(Some("ci")).await.unwrap().is_some());
        }
        assert!(create(Some("ci")).await.unwrap().is_none(), "the fourth");
        assert!(
            create(Some("ops")).await.unwrap().is_some(),
            "another subject"
        );
        assert!(
            create(None).await.unwrap().is_some(),
            "the anonymous caller"
        );
        // Starts older than the hour no longer count (the window's slots, an hour ago).
        let slot_ms = TASK_TTL.as_millis() as u64 / 100;
        let hour_ago =
            (chrono::Utc::now().timestamp_millis() as u64 - TASK_TTL.as_millis() as u64) / slot_ms;
        let old = serde_json::to_vec(&[(hour_ago, 3u32)]).unwrap();
        store.set(&starts_key(Some("ci")), old, None).await.unwrap();
        assert!(create(Some("ci")).await.unwrap().is_some());
    }
}
