//! Input round trips of MCP 2026-07-28 (SEP-2322): a plugin's questions to the client
//! (`context.ask`, `sample`, `elicit`) answered by the client's retry, where MCP
//! 2025-11-25 sent server-initiated requests.
//!
//! A call that asks a question without an answer stops (its instance is dropped), and
//! pier answers `input_required` with the questions under their keys and a
//! `requestState`. The client's retry carries the answers (`inputResponses`) and the
//! state; pier runs the call again from the start (in a fresh instance, or a warm one
//! of the session: never the stopped one), and each question is answered from them
//! (**re-execution**: no instance holds a suspended call). The state carries every
//! answer of the earlier rounds, since a retry carries only the last round's; it is
//! sealed with an HMAC (`server.request-state-keys`, shared by a fleet, the first key
//! signing, every key verifying) bound to the request (method, target, arguments), so
//! that it cannot be altered or replayed against another request. A state that fails the check is invalid params; an answer that
//! does not fit its question is asked again; answers to keys no question asks are
//! ignored (a retry may answer for itself without the state: a client speaks for its
//! own user either way).

#![allow(deprecated)] // sampling and roots are deprecated by a newer revision; still served.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rmcp::ErrorData as McpError;
use rmcp::model::{
    ClientCapabilities, CreateMessageResult, ElicitResult, ElicitationAction, InputRequest,
    InputRequiredResult, InputResponses, ListRootsResult, RequestStateCodec, SealOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::runtime::types::Error as GuestError;
use crate::runtime::{Elicited, Question, Reply};

/// How long a `requestState` stays valid.
const STATE_TTL: Duration = Duration::from_secs(3600);

/// The questions and answers of one run of a request that may take round trips.
pub struct Rounds {
    /// Answers of the earlier rounds and of this retry, by key (a key no question
    /// asks is ignored).
    answers: BTreeMap<String, Value>,
    /// The keys of the answers this run used: what the next state carries.
    used: Mutex<std::collections::BTreeSet<String>>,
    /// What the client declared it can answer.
    capabilities: ClientCapabilities,
    /// Questions of this run still without an answer.
    pending: Mutex<BTreeMap<String, InputRequest>>,
    /// Questions asked so far in this run (for `sample-N`, `elicit-N` keys).
    asked: AtomicUsize,
    /// Capabilities a question needed that the client did not declare.
    missing: Mutex<std::collections::BTreeSet<&'static str>>,
}

/// What a `requestState` carries: the answers of the earlier rounds.
#[derive(Serialize, Deserialize, Default)]
struct State {
    answers: BTreeMap<String, Value>,
}

impl Rounds {
    /// The rounds of a run answered from `answers` (of a request's state and retry, or
    /// every answer a task was given), for a client that declared `capabilities`.
    pub fn with_answers(
        answers: BTreeMap<String, Value>,
        capabilities: ClientCapabilities,
    ) -> Self {
        Self {
            answers,
            used: Mutex::default(),
            capabilities,
            pending: Mutex::default(),
            asked: AtomicUsize::new(0),
            missing: Mutex::default(),
        }
    }

    /// Whether this run was given any answer.
    pub fn has_answers(&self) -> bool {
        !self.answers.is_empty()
    }

    /// Every answer this run was given (of earlier rounds and of this one).
    pub fn answers(&self) -> BTreeMap<String, Value> {
        self.answers.clone()
    }

    /// The key of the next question asked without one: `KIND-N`.
    pub fn next_key(&self, kind: &str) -> String {
        let n = self.asked.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{kind}-{n}")
    }

    /// The answers to `questions`, or `Err` after recording those without one (the
    /// call must stop); `unsupported`, recording nothing, when the client declared no
    /// capability for one of them.
    pub fn ask(&self, questions: Vec<(String, Question)>) -> Result<Vec<Reply>, GuestError> {
        for (_, question) in &questions {
            self.check_capability(question)?;
        }
        let mut replies = Vec::with_capacity(questions.len());
        let mut waiting = BTreeMap::new();
        for (key, question) in questions {
            match self.answers.get(&key).and_then(|a| reply(&question, a)) {
                Some(answer) => {
                    self.used_keys().insert(key);
                    replies.push(answer);
                }
                None => {
                    waiting.insert(key, input_request(question)?);
                }
            }
        }
        if waiting.is_empty() {
            return Ok(replies);
        }
        let keys = waiting.keys().cloned().collect::<Vec<_>>().join(", ");
        self.lock().extend(waiting);
        Err(GuestError::Failed(format!(
            "waiting for the client's answers to {keys}"
        )))
    }

    /// Whether a question waits for the client's answer.
    pub fn suspended(&self) -> bool {
        !self.lock().is_empty()
    }

    /// The questions waiting for answers, taken.
    pub fn take_pending(&self) -> BTreeMap<String, InputRequest> {
        std::mem::take(&mut *self.lock())
    }

    fn used_keys(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<String>> {
        self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, InputRequest>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_capability(&self, question: &Question) -> Result<(), GuestError> {
        let (name, declared) = match question {
            Question::Sample(_) => ("sampling", self.capabilities.sampling.is_some()),
            Question::Elicit { .. } => ("elicitation", self.capabilities.elicitation.is_some()),
            Question::ListRoots => ("roots", self.capabilities.roots.is_some()),
        };
        if declared {
            return Ok(());
        }
        self.missing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name);
        Err(GuestError::Unsupported(format!(
            "the client does not support {name} (its request declared no `{name}` capability)"
        )))
    }

    /// The error of a call that failed after asking what the client cannot answer:
    /// `MissingRequiredClientCapability` (-32021) naming the capabilities in
    /// `requiredCapabilities`; `None` when every question fit the client. A call that
    /// got over the refusal (asked something else, answered without) stands.
    pub fn missing_capabilities(&self, what: &str) -> Option<McpError> {
        let missing = self.missing.lock().unwrap_or_else(|e| e.into_inner());
        if missing.is_empty() {
            return None;
        }
        let names: Vec<String> = missing.iter().map(|n| format!("`{n}`")).collect();
        let required: serde_json::Map<String, Value> =
            missing.iter().map(|n| (n.to_string(), json!({}))).collect();
        Some(McpError::new(
            rmcp::model::ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
            format!(
                "{what} needs the client's {} capability, which the request did not declare",
                names.join(", ")
            ),
            Some(json!({ "requiredCapabilities": required })),
        ))
    }
}

/// `answer` as the reply to `question`, when it fits.
fn reply(question: &Question, answer: &Value) -> Option<Reply> {
    Some(match question {
        Question::Sample(_) => {
            serde_json::from_value::<CreateMessageResult>(answer.clone()).ok()?;
            Reply::Sampled(answer.clone())
        }
        Question::Elicit { .. } => {
            let result = serde_json::from_value::<ElicitResult>(answer.clone()).ok()?;
            Reply::Elicited(match result.action {
                ElicitationAction::Accept => {
                    Elicited::Accept(result.content.unwrap_or_else(|| json!({})))
                }
                ElicitationAction::Decline => Elicited::Decline,
                _ => Elicited::Cancel,
            })
        }
        Question::ListRoots => {
            serde_json::from_value::<ListRootsResult>(answer.clone()).ok()?;
            Reply::Roots(answer.clone())
        }
    })
}

/// `question` as an entry of `inputRequests`.
fn input_request(question: Question) -> Result<InputRequest, GuestError> {
    let request = match question {
        Question::Sample(params) => json!({"method": "sampling/createMessage", "params": params}),
        Question::Elicit { message, schema } => json!({
            "method": "elicitation/create",
            "params": {"mode": "form", "message": message, "requestedSchema": schema},
        }),
        Question::ListRoots => json!({"method": "roots/list", "params": {}}),
    };
    serde_json::from_value(request)
        .map_err(|e| GuestError::InvalidParams(format!("not a question MCP can ask: {e}")))
}

/// What a `requestState` is bound to: the request's method, target and arguments
/// (their JSON text, as `Value::to_string` writes it), and the verified token subject
/// when auth is on.
pub fn binding(
    method: &str,
    target: &str,
    arguments: &impl serde::Serialize,
    subject: Option<&str>,
) -> Vec<u8> {
    let arguments = serde_json::to_string(arguments).unwrap_or_default();
    let mut hash = Sha256::new();
    for part in [method, target, &arguments] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    if let Some(subject) = subject {
        hash.update(b"subject");
        hash.update((subject.len() as u64).to_be_bytes());
        hash.update(subject.as_bytes());
    }
    hash.finalize().to_vec()
}

/// Seals and opens `requestState`.
pub struct Seal {
    codec: RequestStateCodec,
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seal")
    }
}

impl Seal {
    /// A seal signing with the first of `keys` (`ID:SECRET`, the secret at least 32
    /// bytes) and verifying with all of them; with no keys, a random one of this
    /// process (a state then verifies on this process only).
    pub fn new(keys: &[String]) -> Result<Self, String> {
        if keys.is_empty() {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| format!("no random key: {e}"))?;
            let codec = RequestStateCodec::new_with_keyring("local", [("local", secret.to_vec())])
                .map_err(|e| e.to_string())?;
            return Ok(Self { codec });
        }
        let mut ring = Vec::new();
        for key in keys {
            let Some((id, secret)) = key.split_once(':') else {
                return Err(format!(
                    "a key is `ID:SECRET`, got one without `:` ({} characters)",
                    key.len()
                ));
            };
            ring.push((id.to_string(), secret.as_bytes().to_vec()));
        }
        let active = ring.first().map(|(id, _)| id.clone()).unwrap_or_default();
        let codec = RequestStateCodec::new_with_keyring(active, ring).map_err(|e| e.to_string())?;
        Ok(Self { codec })
    }

    /// The rounds of a request bound to `binding`: the answers its `state` carries and
    /// those of `responses` (which the client may send without a state: it answers
    /// for itself either way).
    pub fn open(
        &self,
        binding: &[u8],
        state: Option<&str>,
        responses: Option<InputResponses>,
        capabilities: ClientCapabilities,
    ) -> Result<Rounds, McpError> {
        let mut state = match state {
            None => State::default(),
            Some(sealed) => self
                .codec
                .open_json_with::<State>(sealed, binding)
                .map_err(|e| {
                    McpError::invalid_params(
                        format!("requestState is not one pier issued for this request: {e}"),
                        None,
                    )
                })?,
        };
        state.answers.extend(responses.unwrap_or_default());
        Ok(Rounds::with_answers(state.answers, capabilities))
    }

    /// The `input_required` answer of a run of `rounds` that left `pending` questions.
    pub fn input_required(
        &self,
        binding: &[u8],
        rounds: &Rounds,
        pending: BTreeMap<String, InputRequest>,
    ) -> Result<InputRequiredResult, McpError> {
        let used = rounds.used_keys().clone();
        let state = State {
            answers: rounds
                .answers
                .iter()
                .filter(|(key, _)| used.contains(*key))
                .map(|(key, answer)| (key.clone(), answer.clone()))
                .collect(),
        };
        let options = SealOptions::new().associated_data(binding).ttl(STATE_TTL);
        let sealed = self
            .codec
            .seal_json_with(&state, &options)
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
        Ok(InputRequiredResult::new(Some(pending), Some(sealed)))
    }
}
