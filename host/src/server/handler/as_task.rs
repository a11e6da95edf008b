//! Tool calls that may go on as tasks (the tasks extension of MCP 2026-07-28): whether
//! a call runs as one, the race between its end and its start as a task, and a task run
//! again with every answer after `tasks/update`.

use std::sync::Arc;

use rmcp::model::{CallToolResponse, ClientCapabilities};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};
use tokio_util::sync::CancellationToken;

use super::PierServer;
use super::pipeline::complete;
use crate::middleware::{Outcome, Request, Response, ToolCall};
use crate::registry::manifest::TaskSupport;
use crate::server::rounds::Rounds;
use crate::server::tasks::{self, Start};

impl PierServer {
    /// Whether a call of tool `name` by an MCP 2026-07-28 request may go on as a task:
    /// a tool that may run as one, for a client that declared the extension, while
    /// this pier runs fewer than its most tasks (the place is reserved for the call
    /// then); `Err` for a tool that must run as a task when the client did not
    /// declare the extension (-32021).
    pub(super) fn runs_as_task(
        &self,
        name: &str,
        context: &RequestContext<RoleServer>,
    ) -> Result<Option<tasks::Reservation>, McpError> {
        let support = self
            .shared
            .registry
            .snapshot()
            .tools
            .get(name)
            .map_or(TaskSupport::Forbidden, |entry| entry.task);
        let declared = context
            .client_capabilities()
            .is_some_and(|c| c.supports_tasks());
        match support {
            TaskSupport::Required if !declared => {
                let mut refused = McpError::missing_required_client_capability(
                    ClientCapabilities::builder().enable_tasks().build(),
                );
                refused.message = format!(
                    "tool `{name}` runs as a task: the request must declare the `{}` extension",
                    rmcp::model::TASKS_EXTENSION_ID
                )
                .into();
                Err(refused)
            }
            TaskSupport::Optional | TaskSupport::Required if declared => {
                Ok(self.shared.tasks.reserve())
            }
            TaskSupport::Optional | TaskSupport::Required | TaskSupport::Forbidden => Ok(None),
        }
    }
    /// The answer to a `tools/call` whose call came to `response`.
    pub(super) fn call_answer(
        &self,
        response: Outcome,
        binding: &[u8],
        rounds: Option<&Rounds>,
    ) -> Result<CallToolResponse, McpError> {
        match response? {
            Response::CallTool(mut result) => {
                complete(&mut result.result_type);
                Ok(result.into())
            }
            Response::InputRequired(questions) => self
                .input_required(binding, rounds, questions)
                .map(Into::into),
            _ => Err(crate::middleware::mismatched("tools/call")),
        }
    }

    /// A call of a tool that may go on as a task, for a client that declared the
    /// extension: it runs in its request until it finishes or asks (answered as any
    /// call), or until the guest starts the task or `server.task-after-ms` passes:
    /// then the task is recorded, the request answered with it, and the call runs on.
    pub(super) async fn call_as_task(
        &self,
        place: tasks::Reservation,
        call: ToolCall,
        binding: Vec<u8>,
        rounds: Arc<Rounds>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let start = Arc::new(Start::default());
        let cancel = CancellationToken::new();
        let done = CancellationToken::new();
        {
            // The request's cancellation reaches the call until it becomes a task.
            let (request, cancel, start, done) = (
                context.ct.clone(),
                cancel.clone(),
                start.clone(),
                done.clone(),
            );
            tokio::spawn(async move {
                tokio::select! {
                    () = request.cancelled() => if !start.started() { cancel.cancel() },
                    () = done.cancelled() => {}
                }
            });
        }
        let (name, arguments) = (call.name.clone(), call.arguments.clone());
        let capabilities = context.client_capabilities().unwrap_or_default();
        let mut run = {
            let (this, context, rounds) = (self.clone(), context.clone(), rounds.clone());
            let task = Some((start.clone(), cancel.clone()));
            tokio::spawn(async move {
                let _done = done.drop_guard();
                this.catalogue_task(Request::CallTool(call), &context, Some(rounds), task)
                    .await
            })
        };
        tokio::select! {
            // A call that started its task and ended at once is still a task.
            biased;
            () = start.asked() => {}
            joined = &mut run => {
                let response = joined.unwrap_or_else(|e| Err(joined_error(e)));
                return self.call_answer(response, &binding, Some(&rounds));
            }
            () = tokio::time::sleep(self.shared.task_after) => start.make(),
        }
        let created = self
            .shared
            .tasks
            .create(
                &name,
                arguments,
                rounds.answers(),
                capabilities,
                super::subject_of(&context).map(str::to_string),
            )
            .await;
        match created {
            Ok(Some(created)) => {
                let id = created.task.task_id.clone();
                self.shared.tasks.spawn(place, id, cancel, async move {
                    let response = run.await.unwrap_or_else(|e| Err(joined_error(e)));
                    outcome(response, &start)
                });
                Ok(CallToolResponse::Task(created))
            }
            // Without a record there is no task: the call answers in its request.
            Ok(None) => {
                tracing::debug!(
                    "tool `{name}` not run as a task: its caller started server.max-tasks-per-subject tasks within the hour"
                );
                let response = run.await.unwrap_or_else(|e| Err(joined_error(e)));
                self.call_answer(response, &binding, Some(&rounds))
            }
            Err(e) => {
                tracing::warn!("tool `{name}` not run as a task: {}", e.message);
                let response = run.await.unwrap_or_else(|e| Err(joined_error(e)));
                self.call_answer(response, &binding, Some(&rounds))
            }
        }
    }

    /// Runs task `id` again from the start with every answer of its `record` (after
    /// `tasks/update` answered its last question), under the middleware as a call.
    pub(super) fn resume(
        &self,
        place: tasks::Reservation,
        id: String,
        record: tasks::Record,
        context: &RequestContext<RoleServer>,
    ) {
        let rounds = Arc::new(Rounds::with_answers(record.answers, record.capabilities));
        let cancel = CancellationToken::new();
        let start = Arc::new(Start::made());
        let task = Some((start.clone(), cancel.clone()));
        let call = ToolCall {
            name: record.tool,
            arguments: record.arguments,
        };
        let (this, context) = (self.clone(), context.clone());
        self.shared.tasks.spawn(place, id, cancel, async move {
            let response = this
                .catalogue_task(Request::CallTool(call), &context, Some(rounds), task)
                .await;
            outcome(response, &start)
        });
    }
}

/// A call's spawned run that panicked or was aborted, as a protocol error.
fn joined_error(e: tokio::task::JoinError) -> McpError {
    McpError::internal_error(format!("the call ended abnormally: {e}"), None)
}

/// What a task's run came to: a run that ended without a result (`start` says why)
/// failed.
fn outcome(response: Outcome, start: &Start) -> tasks::Outcome {
    if let Some(reason) = start.crash() {
        return tasks::Outcome::Failed(McpError::internal_error(reason, None));
    }
    match response {
        Ok(Response::CallTool(mut result)) => {
            complete(&mut result.result_type);
            tasks::Outcome::Done(result)
        }
        Ok(Response::InputRequired(questions)) => tasks::Outcome::Asked(questions),
        Ok(_) => tasks::Outcome::Failed(crate::middleware::mismatched("tools/call")),
        Err(e) => tasks::Outcome::Failed(e),
    }
}
