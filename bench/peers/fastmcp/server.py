"""The benchmark's tools served by FastMCP (fastmcp==4.1.2): `echo`, `add`, the
`bench://data` resource and `--tools N` fillers.

HTTP follows FastMCP's production guidance: the ASGI app from `mcp.http_app()` served
by uvicorn (one worker: streamable-HTTP sessions live in the worker's memory).
`--stateless` serves HTTP without sessions, answering with JSON instead of SSE;
`--stdio` serves on stdin/stdout instead.
"""

import argparse

import uvicorn
from fastmcp import FastMCP

mcp = FastMCP("fastmcp-peer")


@mcp.tool
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@mcp.tool
def add(a: int, b: int) -> str:
    """Add two integers."""
    return str(a + b)


@mcp.resource("bench://data", mime_type="text/plain")
def data() -> str:
    """A fixed 1 KiB document."""
    return "x" * 1024


def add_fillers(count: int) -> None:
    for i in range(count):

        def filler(text: str) -> str:
            return text

        mcp.tool(filler, name=f"filler_{i}", description="A filler tool.")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--stdio", action="store_true")
    parser.add_argument("--stateless", action="store_true")
    parser.add_argument("--tools", type=int, default=0)
    args = parser.parse_args()
    add_fillers(args.tools)
    if args.stdio:
        mcp.run(transport="stdio", show_banner=False)
        return
    if args.stateless:
        app = mcp.http_app(path="/mcp", stateless_http=True, json_response=True)
    else:
        app = mcp.http_app(path="/mcp")
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
