//! Input round trips of a proxied server that speaks MCP 2026-07-28: its
//! `input_required` answers, relayed to pier's own client whatever revision that
//! client speaks.
//!
//! When the server answers a forwarded request with `input_required`, pier asks its
//! caller the server's questions ([`CallContext::ask`]) and sends the request again
//! with the answers and the server's `requestState`, until the server answers for
//! good (at most [`MAX_ROUNDS`] rounds).
//! - A client of MCP 2025-11-25 is asked by server-initiated requests, as a plugin's
//!   questions are: the server's rounds become requests to the client.
//! - A client of MCP 2026-07-28 is asked by pier's own `input_required` round trip:
//!   its retry runs the forwarded request again from the start (**re-execution**, as
//!   for plugins), and each of the server's rounds is answered from the client's
//!   answers, keyed by the server's own keys. A call of k rounds costs the server
//!   1 + 2 + … + k runs; pier keeps nothing between the client's retries.
//!
//! The reverse (a legacy server's sampling and elicitation requests for a modern
//! client) goes through [`super::relay::Relay`], which asks the caller in the same way.
//!
//! Everything the server sends is bounded: questions per round, key length, rounds.

use std::collections::HashMap;
use std::sync::Arc;

use rmcp::ErrorData as McpError;
use rmcp::model::{ClientRequest, InputRequest, InputRequests, InputResponses};
use serde_json::{Value, json};

use crate::runtime::host::context::{MAX_KEY, MAX_QUESTIONS, valid_key};
use crate::runtime::{CallContext, Elicited, Question, Reply};

/// Most `input_required` rounds pier relays for one forwarded request.
pub(super) const MAX_ROUNDS: usize = 16;

/// The keys a forwarded request's server used in its rounds so far: a key it uses
/// again in a later round is a new question, asked as `KEY#N`.
#[derive(Default)]
pub(super) struct Keys(HashMap<String, usize>);

impl Keys {
    fn asked_as(&mut self, key: &str) -> String {
        let n = self.0.entry(key.to_string()).or_default();
        *n += 1;
        if *n == 1 {
            key.to_string()
        } else {
            format!("{key}#{n}")
        }
    }
}

/// The answer of an elicitation, as MCP sends it.
pub(super) fn elicit_answer(answer: Elicited) -> Value {
    match answer {
        Elicited::Accept(content) => json!({"action": "accept", "content": content}),
        Elicited::Decline => json!({"action": "decline"}),
        Elicited::Cancel => json!({"action": "cancel"}),
    }
}

/// A server's question in pier's terms; `label` names the mount.
fn question_of(label: &str, request: &InputRequest) -> Result<Question, McpError> {
    let request =
        serde_json::to_value(request).map_err(|e| McpError::internal_error(e.to_string(), None))?;
    let params = request.get("params").cloned().unwrap_or_else(|| json!({}));
    match request.get("method").and_then(Value::as_str) {
        Some("sampling/createMessage") => Ok(Question::Sample(params)),
        Some("elicitation/create") => {
            if params.get("mode").is_some_and(|m| m != "form") {
                return Err(McpError::invalid_request(
                    format!(
                        "mount `{label}` asked a URL elicitation; pier relays form elicitations only"
                    ),
                    None,
                ));
            }
            Ok(Question::Elicit {
                message: params
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                schema: params
                    .get("requestedSchema")
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object"})),
            })
        }
        Some("roots/list") => Ok(Question::ListRoots),
        other => Err(McpError::internal_error(
            format!(
                "mount `{label}` asked for input pier cannot relay: {}",
                crate::text::clip(other.unwrap_or("(no method)"))
            ),
            None,
        )),
    }
}

/// The caller's answers to the server's `requests`, under the server's keys; `Err`
/// when the caller cannot answer them now (its questions then wait for its next round
/// trip, [`CallContext::suspended`]) or at all.
pub(super) async fn answer(
    label: &str,
    caller: &Arc<dyn CallContext>,
    requests: InputRequests,
    keys: &mut Keys,
) -> Result<InputResponses, McpError> {
    if requests.is_empty() || requests.len() > MAX_QUESTIONS {
        return Err(McpError::internal_error(
            format!(
                "mount `{label}` answered input_required with {} input requests; pier relays 1 to {MAX_QUESTIONS}",
                requests.len()
            ),
            None,
        ));
    }
    let mut theirs = Vec::with_capacity(requests.len());
    let mut questions = Vec::with_capacity(requests.len());
    for (key, request) in &requests {
        if !valid_key(key) {
            return Err(McpError::internal_error(
                format!(
                    "mount `{label}` asked for input under the key `{}`: keys are 1 to {MAX_KEY} bytes without control characters",
                    crate::text::clip(key)
                ),
                None,
            ));
        }
        questions.push((keys.asked_as(key), question_of(label, request)?));
        theirs.push(key.clone());
    }
    let replies = caller.ask(questions).await.map_err(super::relay::refused)?;
    Ok(theirs
        .into_iter()
        .zip(replies)
        .map(|(key, reply)| {
            let answer = match reply {
                Reply::Sampled(answer) | Reply::Roots(answer) => answer,
                Reply::Elicited(answer) => elicit_answer(answer),
            };
            (key, answer)
        })
        .collect())
}

/// `request` again, with the `responses` to the server's questions and its `state`.
pub(super) fn retry(
    label: &str,
    request: &ClientRequest,
    responses: InputResponses,
    state: Option<String>,
) -> Result<ClientRequest, McpError> {
    let mut request = request.clone();
    match &mut request {
        ClientRequest::CallToolRequest(r) => {
            r.params.input_responses = Some(responses);
            r.params.request_state = state;
        }
        ClientRequest::GetPromptRequest(r) => {
            r.params.input_responses = Some(responses);
            r.params.request_state = state;
        }
        ClientRequest::ReadResourceRequest(r) => {
            r.params.input_responses = Some(responses);
            r.params.request_state = state;
        }
        _ => {
            return Err(McpError::internal_error(
                format!("mount `{label}` answered input_required to a request that takes no input"),
                None,
            ));
        }
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_asked_again_in_a_later_round_is_a_new_question() {
        let mut keys = Keys::default();
        assert_eq!(keys.asked_as("name"), "name");
        assert_eq!(keys.asked_as("age"), "age");
        assert_eq!(keys.asked_as("name"), "name#2");
        assert_eq!(keys.asked_as("name"), "name#3");
    }

    #[test]
    fn questions_of_a_server_become_pier_questions_and_url_elicitations_are_refused() {
        let parse = |v: Value| serde_json::from_value::<InputRequest>(v).unwrap();
        let form = parse(json!({"method": "elicitation/create", "params": {
            "mode": "form", "message": "Name?",
            "requestedSchema": {"type": "object", "properties": {}}}}));
        assert_eq!(
            question_of("up", &form).unwrap(),
            Question::Elicit {
                message: "Name?".into(),
                schema: json!({"type": "object", "properties": {}})
            }
        );
        let roots = parse(json!({"method": "roots/list", "params": {}}));
        assert_eq!(question_of("up", &roots).unwrap(), Question::ListRoots);
        let url = parse(json!({"method": "elicitation/create", "params": {
            "mode": "url", "message": "Sign in", "url": "https://example.com/x",
            "elicitationId": "e1"}}));
        let refused = question_of("up", &url).unwrap_err();
        assert_eq!(
            refused.message,
            "mount `up` asked a URL elicitation; pier relays form elicitations only"
        );
    }
}
