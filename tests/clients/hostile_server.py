"""An MCP server over stdio that misbehaves when asked to: JSON-RPC written by hand, so
that every byte is the test's choice. pier must bound each misdeed (host/tests/peers.rs):

- `flood`: 20,000 log messages and 20,000 list_changed notifications, then its result;
- `garbage`: lines that are not JSON, JSON that is no message, an answer to a request
  never made, then a result of the wrong shape;
- `huge`: a line of 20 MiB, and no answer;
- `echo`: answers as a server should; `fetches`: how many times tools/list was asked.
"""

import json
import sys

fetches = 0
TOOLS = [
    {"name": name, "description": name, "inputSchema": {"type": "object"}}
    for name in ("flood", "garbage", "huge", "echo", "fetches")
]


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def result(id, value):
    send({"jsonrpc": "2.0", "id": id, "result": value})


def text(id, value):
    result(id, {"content": [{"type": "text", "text": value}]})


def call(id, name):
    if name == "flood":
        log = json.dumps({"jsonrpc": "2.0", "method": "notifications/message",
                          "params": {"level": "info", "data": "flooding"}})
        changed = json.dumps({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        batch = (log + "\n" + changed + "\n") * 1000
        for _ in range(20):
            sys.stdout.write(batch)
        sys.stdout.flush()
        text(id, "flooded")
    elif name == "garbage":
        sys.stdout.write("this is not JSON\n")
        sys.stdout.write('{"neither": "a request nor a response"}\n')
        sys.stdout.write('{"jsonrpc": "2.0", "id": 987654, "result": {}}\n')
        sys.stdout.flush()
        result(id, {"content": "not a list of content"})
    elif name == "huge":
        chunk = "x" * (1 << 20)
        for _ in range(20):
            sys.stdout.write(chunk)
        sys.stdout.write("\n")
        sys.stdout.flush()
    elif name == "echo":
        text(id, "echo")
    elif name == "fetches":
        text(id, str(fetches))


for line in sys.stdin:
    message = json.loads(line)
    method, id = message.get("method"), message.get("id")
    if method == "initialize":
        result(id, {
            "protocolVersion": message["params"]["protocolVersion"],
            "capabilities": {"tools": {"listChanged": True}, "logging": {}},
            "serverInfo": {"name": "hostile", "version": "1"},
        })
    elif method == "tools/list":
        fetches += 1
        result(id, {"tools": TOOLS})
    elif method == "tools/call":
        call(id, message["params"]["name"])
    elif id is not None and method is not None:
        send({"jsonrpc": "2.0", "id": id,
              "error": {"code": -32601, "message": f"no method {method}"}})
