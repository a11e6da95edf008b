"""Calls through pier with the Python `mcp` SDK's `Client` (MCP 2026-07-28, no session)
what a gateway test asks, and prints what it saw as JSON.

Usage:
  gateway.py URL PREFIX CALLS

Prints `{"tools": [...], "calls": [...]}`: every tool whose name starts with PREFIX
(name, title, description, inputSchema, annotations), then for each `[name, arguments]`
of the JSON array CALLS the result's text, whether it is an error, and its structured
content, or the protocol error's message.
"""

import asyncio
import json
import sys

from mcp import Client


async def main(url: str, prefix: str, calls: list) -> None:
    async with Client(url) as client:
        listed = await client.list_tools()
        tools = [
            {
                "name": t.name,
                "title": t.title,
                "description": t.description,
                "inputSchema": t.input_schema,
                "annotations": t.annotations.model_dump(by_alias=True, exclude_none=True)
                if t.annotations
                else None,
            }
            for t in listed.tools
            if t.name.startswith(prefix)
        ]
        results = []
        for name, arguments in calls:
            try:
                result = await client.call_tool(name, arguments)
            except Exception as e:  # a JSON-RPC error: its message
                results.append({"error": str(e)})
                continue
            results.append(
                {
                    "text": "".join(c.text for c in result.content if c.type == "text"),
                    "isError": bool(result.is_error),
                    "structured": result.structured_content,
                }
            )
        print(json.dumps({"tools": tools, "calls": results}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
