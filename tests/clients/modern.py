"""Drives pier with the Python `mcp` SDK's high-level `Client`, negotiating MCP 2026-07-28.

Usage:
  modern.py URL

pier must serve the example plugins and the conformance fixture (namespace
`conformance`). Prints one JSON object with what the client saw: the negotiated
revision, lists, a structured result, a resource, a prompt, progress and log messages
as the revision delivers them, elicitation and sampling answered by the client's
callbacks through input-required round trips, and tasks (the
`io.modelcontextprotocol/tasks` extension, which the SDK leaves to a `ClientExtension`:
`Tasks` below claims the `task` result of `tools/call` and polls `tasks/get`): one run to
completion, one cancelled. The Rust test asserts the exact values.
"""

import asyncio
import json
import sys
from typing import Any, Literal

import mcp.types as types
import mcp_types
from mcp import Client
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from pydantic import ConfigDict


class TaskParams(mcp_types.RequestParams):
    task_id: str


class TaskRequest(mcp_types.Request[TaskParams, str]):
    """`tasks/get` or `tasks/cancel` of one task (its id travels in `Mcp-Name`)."""

    name_param = "taskId"


class TaskResult(mcp_types.Result):
    """A task pier started for a `tools/call` (`resultType: "task"`), or its state."""

    model_config = ConfigDict(extra="allow")
    result_type: Literal["task"]
    task_id: str
    status: str
    poll_interval_ms: int | None = None


class TaskState(mcp_types.Result):
    """`tasks/get`: the task's status and, once it ended, its result or error."""

    model_config = ConfigDict(extra="allow")
    task_id: str
    status: str
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class Tasks(ClientExtension):
    """Follows a tool call that became a task to its end; cancels those of tools in
    `cancel` at once. Records each task's statuses in `seen`."""

    identifier = "io.modelcontextprotocol/tasks"

    def __init__(self, cancel):
        self.cancel = cancel
        self.seen = {}

    def claims(self):
        return [ResultClaim(result_type="task", model=TaskResult, resolve=self.follow)]

    async def request(self, ctx, method, task_id, result_type):
        request = TaskRequest(method=method, params=TaskParams(task_id=task_id))
        return await ctx.session.send_request(request, result_type)

    async def follow(self, created: TaskResult, ctx: ClaimContext) -> types.CallToolResult:
        statuses = self.seen.setdefault(ctx.tool_name, [created.status])
        if ctx.tool_name in self.cancel:
            await self.request(ctx, "tasks/cancel", created.task_id, mcp_types.Result)
        while True:
            state = await self.request(ctx, "tasks/get", created.task_id, TaskState)
            if statuses[-1] != state.status:
                statuses.append(state.status)
            if state.status == "completed":
                return types.CallToolResult.model_validate(state.result)
            if state.status in ("cancelled", "failed"):
                message = (state.error or {}).get("message", state.status)
                return types.CallToolResult(
                    content=[types.TextContent(type="text", text=message)], is_error=True
                )
            await asyncio.sleep((created.poll_interval_ms or 500) / 1000)


async def main(url):
    asked = []
    logs = []

    async def elicit(_context, params):
        asked.append({"elicit": params.message})
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async def sample(_context, params):
        asked.append({"sample": params.messages[0].content.text})
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="Hi from the model"),
            model="test-model",
            stop_reason="endTurn",
        )

    async def log(params):
        logs.append([params.level, params.data])

    tasks = Tasks(cancel={"conformance_slow_compute"})
    async with Client(
        url,
        extensions=[tasks],
        elicitation_callback=elicit,
        sampling_callback=sample,
        logging_callback=log,
        log_level="info",
    ) as client:
        tools = await client.list_tools()
        add = await client.call_tool("calc_add", {"a": 2, "b": 3})
        resource = await client.read_resource("test://conformance/static-text")
        prompt = await client.get_prompt("conformance_test_simple_prompt")
        progress = []

        async def on_progress(value, total, message):
            progress.append([value, total])

        await client.call_tool("conformance_test_tool_with_progress", {}, progress_callback=on_progress)
        logged = await client.call_tool("conformance_test_tool_with_logging", {})
        elicited = await client.call_tool("conformance_test_input_required_result_elicitation", {})
        sampled = await client.call_tool("conformance_test_sampling", {"prompt": "Say hi"})
        # A task tool run to its end, and one cancelled as soon as it is a task.
        task = await client.call_tool("conformance_test_tool_with_task", {})
        cancelled = await client.call_tool("conformance_slow_compute", {"seconds": 60})
        return {
            "protocol": client.protocol_version,
            "tools": len(tools.tools),
            "has_calc_add": any(t.name == "calc_add" for t in tools.tools),
            "add": [add.content[0].text, add.structured_content, add.is_error],
            "resource": resource.contents[0].text,
            "prompt": prompt.messages[0].content.text,
            "progress": progress,
            "logged": logged.content[0].text,
            "logs": logs,
            "elicited": elicited.content[0].text,
            "sampled": sampled.content[0].text,
            "asked": asked,
            "task": [task.content[0].text, task.is_error],
            "cancelled": [cancelled.content[0].text, cancelled.is_error],
            "task_statuses": tasks.seen,
        }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
