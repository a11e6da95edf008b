"""Drives pier with real Python MCP clients: the official `mcp` SDK and FastMCP's Client.

Usage:
  smoke.py http URL
  smoke.py stdio PIER_BINARY PLUGINS_DIR DATA_DIR

Prints one JSON object: for each client, the revision it negotiated, the tools it
listed and the results of `hello_greet` and `calc_add`. The Rust test that runs this
asserts the exact values.
"""

import asyncio
import json
import sys


def stdio_args(argv):
    binary, plugins, data = argv
    return binary, ["serve", "--transport", "stdio", "--plugins", plugins, "--data-dir", data, "--storage", "memory"]


async def mcp_sdk(mode, argv):
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client
    from mcp.client.streamable_http import streamable_http_client

    if mode == "http":
        transport = streamable_http_client(argv[0])
    else:
        command, args = stdio_args(argv)
        transport = stdio_client(StdioServerParameters(command=command, args=args))
    async with transport as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            initialized = await session.initialize()
            tools = await session.list_tools()
            greet = await session.call_tool("hello_greet", {"name": "Ada"})
            add = await session.call_tool("calc_add", {"a": 2, "b": 3})
            return {
                "protocol": initialized.protocol_version,
                "tools": sorted(t.name for t in tools.tools),
                "greet": greet.content[0].text,
                "add": add.content[0].text,
                "add_structured": add.structured_content,
                "add_is_error": add.is_error,
            }


async def fastmcp_client(mode, argv):
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    if mode == "http":
        client = Client(argv[0])
    else:
        command, args = stdio_args(argv)
        client = Client(StdioTransport(command=command, args=args))
    async with client:
        tools = await client.list_tools()
        greet = await client.call_tool("hello_greet", {"name": "Ada"})
        add = await client.call_tool("calc_add", {"a": 2, "b": 3})
        return {
            "protocol": client.protocol_version,
            "tools": sorted(t.name for t in tools),
            "greet": greet.content[0].text,
            "add": add.content[0].text,
            "add_structured": add.structured_content,
            "add_is_error": add.is_error,
        }


async def main():
    mode, argv = sys.argv[1], sys.argv[2:]
    result = {"mcp": await mcp_sdk(mode, argv), "fastmcp": await fastmcp_client(mode, argv)}
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    asyncio.run(main())
