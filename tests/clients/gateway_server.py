"""A FastMCP server over streamable HTTP that pier mounts as an upstream, reporting
what it received: `whoami` answers the credentials headers of the request, `search`
the arguments it was called with. With tokens given, it accepts only those bearer
tokens.

    python gateway_server.py PORT [TOKEN ...]
"""

import json
import sys

from fastmcp import FastMCP
from fastmcp.server.auth.providers.jwt import StaticTokenVerifier
from fastmcp.server.dependencies import get_http_headers

port = int(sys.argv[1])
tokens = sys.argv[2:]
auth = (
    StaticTokenVerifier(tokens={t: {"client_id": "pier", "scopes": []} for t in tokens})
    if tokens
    else None
)
mcp = FastMCP("gateway-upstream", auth=auth)


@mcp.tool
def whoami() -> str:
    """The credentials headers this request carried."""
    headers = get_http_headers(include_all=True)
    return json.dumps(
        {k: headers.get(k) for k in ("authorization", "x-api-key", "x-tenant")},
        sort_keys=True,
    )


@mcp.tool(tags={"catalog"})
def search(query: str, limit: int = 10, tenant: str = "public") -> str:
    """Searches the catalog of a tenant."""
    return json.dumps({"query": query, "limit": limit, "tenant": tenant}, sort_keys=True)


@mcp.tool
def fail(reason: str) -> str:
    """Always fails, with the reason given."""
    raise ValueError(reason)


if __name__ == "__main__":
    mcp.run(transport="http", host="127.0.0.1", port=port, show_banner=False, log_level="warning")
