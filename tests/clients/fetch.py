"""The `fetch` example plugin through the official Python `mcp` SDK over HTTP.

Usage:
  fetch.py PIER_URL

Serves one HTML page on a free loopback port (pier must grant `http://127.0.0.1:*` to
the plugin and allow private networks), then with `ClientSession` over streamable HTTP
lists the tools, reads the page whole and in two pieces, and asks for a URL outside the
plugin's grants. Prints one JSON object; the Rust test that runs this asserts the exact
values.
"""

import asyncio
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = (
    "<!DOCTYPE html><html><head><title>Harbour</title><style>p {}</style></head>"
    "<body><h2>Opening hours</h2><p>From <i>dawn</i> to dusk.</p>"
    "<ol><li>Moor</li><li>Pay</li></ol></body></html>"
).encode()


class Page(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


async def drive(pier_url, page_url):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with streamable_http_client(pier_url) as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            tools = await session.list_tools()

            async def fetch(**arguments):
                result = await session.call_tool("fetch_fetch", arguments)
                return {"text": result.content[0].text, "is_error": result.is_error}

            return {
                "tools": sorted(t.name for t in tools.tools),
                "whole": await fetch(url=page_url),
                "first": await fetch(url=page_url, max_length=12),
                "rest": await fetch(url=page_url, max_length=1000, start_index=12),
                "raw": await fetch(url=page_url, raw=True),
                # Port 9 on 127.0.0.2: loopback, but not the granted 127.0.0.1.
                "refused": await fetch(url="http://127.0.0.2:9/"),
            }


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page_url = f"http://127.0.0.1:{server.server_address[1]}/harbour"
    try:
        result = asyncio.run(drive(sys.argv[1], page_url))
    finally:
        server.shutdown()
    result["page"] = page_url
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
