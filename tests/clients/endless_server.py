"""An MCP server over stdio whose tool list never ends: every page holds one tool and
a cursor to the next. pier follows `upstream.max-list-pages` pages of it, then refuses
the mount instead of following it forever."""

import anyio
from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server


async def list_tools(_context, params):
    page = int(params.cursor) if params and params.cursor else 0
    tool = types.Tool(name=f"t{page}", input_schema={"type": "object"})
    return types.ListToolsResult(tools=[tool], next_cursor=str(page + 1))


server = Server("endless", on_list_tools=list_tools)


async def main():
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
