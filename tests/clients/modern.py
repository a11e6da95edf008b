"""Drives pier with the Python `mcp` SDK's high-level `Client`, negotiating MCP 2026-07-28.

Usage:
  modern.py URL

pier must serve the example plugins and the conformance fixture (namespace
`conformance`). Prints one JSON object with what the client saw: the negotiated
revision, lists, a structured result, a resource, a prompt, progress and log messages
as the revision delivers them, and elicitation and sampling answered by the client's
callbacks through input-required round trips. The Rust test asserts the exact values.
"""

import asyncio
import json
import sys

import mcp.types as types
from mcp import Client


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

    async with Client(
        url,
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
        }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
