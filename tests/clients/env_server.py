"""A FastMCP server over stdio whose one tool lists the names of its environment
variables: pier mounts it to check what a command mount inherits."""

import os

from fastmcp import FastMCP

mcp = FastMCP("env")


@mcp.tool()
def names() -> str:
    """The environment's variable names, sorted, comma-separated."""
    return ",".join(sorted(os.environ))


if __name__ == "__main__":
    mcp.run(show_banner=False)
