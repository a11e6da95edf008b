"""A FastMCP server with tagged tools, over stdio: pier mounts it to check that a
proxied server's tags reach the visibility middleware."""

from fastmcp import FastMCP

mcp = FastMCP("tagged")


@mcp.tool(tags={"admin"})
def wipe() -> str:
    """Deletes everything (tagged admin)."""
    return "wiped"


@mcp.tool(tags={"public"})
def hello() -> str:
    """Says hello (tagged public)."""
    return "hello"


if __name__ == "__main__":
    mcp.run(show_banner=False)
