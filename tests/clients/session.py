"""Drives pier with a 2025-11-25 session of the Python `mcp` SDK's `ClientSession`, then
FastMCP's `Client`, each through its full flow; made for a fleet behind a balancer,
where each request may reach another replica.

Usage:
  session.py URL ADMIN_URL ADMIN_TOKEN CALC_WASM

pier must serve the example plugins and the conformance fixture (namespace
`conformance`). The session lists and calls tools, receives log messages (on its GET
stream), progress, a sampling and an elicitation request answered by its callbacks,
and hears `notifications/tools/list_changed` after the script mounts the `calc` example
as `extra` through the admin API at ADMIN_URL (one replica, not the balancer), which it
removes again at the end. Prints one JSON object; the Rust test asserts the exact
values.
"""

import asyncio
import json
import sys
import urllib.request

import mcp.types as types


def admin(admin_url, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{admin_url}/admin/{path}",
        data=data,
        method=method,
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def sampler(asked):
    async def sample(_context, params):
        asked.append({"sample": params.messages[0].content.text})
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="Hi from the model"),
            model="test-model",
            stop_reason="endTurn",
        )

    return sample


async def session_flow(url, admin_url, token, calc):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    asked, logs, progress = [], [], []
    changed = asyncio.Event()

    async def elicit(_context, params):
        asked.append({"elicit": params.message})
        return types.ElicitResult(action="accept", content={"username": "ada", "email": "ada@example.com"})

    async def log(params):
        logs.append([params.level, params.data])

    async def on_message(message):
        if isinstance(getattr(message, "root", message), types.ToolListChangedNotification):
            changed.set()

    async def on_progress(value, total, message):
        progress.append([value, total])

    async with streamable_http_client(url) as streams:
        async with ClientSession(
            streams[0],
            streams[1],
            sampling_callback=sampler(asked),
            elicitation_callback=elicit,
            logging_callback=log,
            message_handler=on_message,
        ) as session:
            initialized = await session.initialize()
            tools = await session.list_tools()
            add = await session.call_tool("calc_add", {"a": 2, "b": 3})
            await session.call_tool("conformance_test_tool_with_progress", {}, progress_callback=on_progress)
            logged = await session.call_tool("conformance_test_tool_with_logging", {})
            sampled = await session.call_tool("conformance_test_sampling", {"prompt": "Say hi"})
            elicited = await session.call_tool("conformance_test_elicitation", {"message": "Who are you?"})
            # Log messages travel on the GET stream: give the last one a moment.
            for _ in range(50):
                if len(logs) >= 3:
                    break
                await asyncio.sleep(0.1)
            status = admin(admin_url, token, "POST", "mounts", {"namespace": "extra", "path": calc})
            await asyncio.wait_for(changed.wait(), 10)
            after = await session.list_tools()
            admin(admin_url, token, "DELETE", "mounts/extra")
            return {
                "protocol": initialized.protocol_version,
                "tools": len(tools.tools),
                "add": [add.content[0].text, add.structured_content, add.is_error],
                "progress": progress,
                "logged": logged.content[0].text,
                "logs": logs,
                "sampled": sampled.content[0].text,
                "elicited": elicited.content[0].text,
                "asked": asked,
                "mounted": status,
                "list_changed": changed.is_set(),
                "extra_add": any(t.name == "extra_add" for t in after.tools),
            }


async def fastmcp_flow(url):
    from fastmcp import Client

    asked, logs, progress = [], [], []

    async def elicit(message, response_type, params, context):
        asked.append({"elicit": message})
        return {"name": "Ada"}

    async def sample(messages, params, context):
        asked.append({"sample": messages[0].content.text})
        return "Hi from the model"

    async def log(message):
        logs.append([message.level, message.data])

    async def on_progress(value, total, message):
        progress.append([value, total])

    async with Client(
        url,
        elicitation_handler=elicit,
        sampling_handler=sample,
        log_handler=log,
        progress_handler=on_progress,
    ) as client:
        tools = await client.list_tools()
        add = await client.call_tool("calc_add", {"a": 2, "b": 3})
        await client.call_tool("conformance_test_tool_with_progress", {})
        logged = await client.call_tool("conformance_test_tool_with_logging", {})
        elicited = await client.call_tool("conformance_test_input_required_result_elicitation", {})
        sampled = await client.call_tool("conformance_test_sampling", {"prompt": "Say hi"})
        return {
            "protocol": client.protocol_version,
            "tools": len(tools),
            "add": [add.content[0].text, add.structured_content, add.is_error],
            "progress": progress,
            "logged": logged.content[0].text,
            "logs": logs,
            "elicited": elicited.content[0].text,
            "sampled": sampled.content[0].text,
            "asked": asked,
        }


async def main(url, admin_url, token, calc):
    return {
        "session": await session_flow(url, admin_url, token, calc),
        "fastmcp": await fastmcp_flow(url),
    }


if __name__ == "__main__":
    url, admin_url, token, calc = sys.argv[1:5]
    print(json.dumps(asyncio.run(main(url, admin_url, token, calc))))
