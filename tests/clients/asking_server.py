"""A FastMCP server over stdio that asks its client for input and reports the trace
context of its requests: pier mounts it to check that a proxied server's questions
reach pier's own client (in either MCP revision) and that the client's trace context
reaches the server."""

from fastmcp import Context, FastMCP

mcp = FastMCP("asking")


@mcp.tool()
async def greet(ctx: Context) -> str:
    """Asks the user's name, then greets them."""
    answer = await ctx.elicit("Your name?", str)
    if answer.action != "accept":
        return f"no name ({answer.action})"
    return f"Hello, {answer.data}!"


@mcp.tool()
def trace(ctx: Context) -> str:
    """The `traceparent` and `tracestate` of this request's `_meta` (`-` when absent)."""
    meta = (ctx.request_context.meta if ctx.request_context else None) or {}
    return f"{meta.get('traceparent', '-')} {meta.get('tracestate', '-')}"


if __name__ == "__main__":
    mcp.run(show_banner=False)
