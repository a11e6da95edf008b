"""A pier plugin in Python (componentize-py), world `pier-plugin-granted`: `shout`
upper-cases text and logs through the host's context interface; `get` fetches a URL over
`wasi:http` (within the plugin's grants); `setting` reads its configuration through
`wasi:config/store`."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import context, outgoing_handler, store
from wit_world.imports import pier_mcp_types as types
from wit_world.imports import wasi_http_types as http
from wit_world.imports.streams import StreamError_Closed

SHOUT = {
    "type": "object",
    "properties": {"text": {"type": "string", "description": "What to shout."}},
    "required": ["text"],
}
GET = {
    "type": "object",
    "properties": {"url": {"type": "string", "description": "An http:// or https:// URL."}},
    "required": ["url"],
}
REMEMBER = {
    "type": "object",
    "properties": {"value": {"type": "string", "description": "What to keep for the next call."}},
}
SETTING = {
    "type": "object",
    "properties": {"key": {"type": "string", "description": "A configuration key."}},
    "required": ["key"],
}


def tool(name: str, description: str, schema: dict) -> types.Tool:
    return types.Tool(
        name=name,
        title=None,
        description=description,
        input_schema=json.dumps(schema),
        output_schema=None,
        annotations=None,
        tags=[],
    )


def text(value: str, is_error: bool = False) -> types.ToolResult:
    return types.ToolResult(content=[types.Content_Text(value)], structured=None, is_error=is_error)


def http_get(url: str) -> tuple[int, bytes]:
    """GET `url` with blocking waits on the host's pollables (no event loop needed)."""
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    request = http.OutgoingRequest(http.Fields())
    request.set_method(http.Method_Get())
    request.set_scheme(http.Scheme_Https() if scheme == "https" else http.Scheme_Http())
    request.set_authority(authority)
    request.set_path_with_query(slash + path or "/")
    future = outgoing_handler.handle(request, None)
    while (outcome := future.get()) is None:
        future.subscribe().block()
    reply = outcome.value  # Ok(response) or Err(error-code)
    if isinstance(reply, Err):
        raise reply
    response = reply.value
    status = response.status()
    body = response.consume()
    stream = body.stream()
    data = b""
    while True:
        try:
            data += stream.blocking_read(16 * 1024)
        except Err as e:
            if isinstance(e.value, StreamError_Closed):
                break
            raise
    stream.__exit__(None, None, None)
    http.IncomingBody.finish(body)
    return status, data


# What `remember` keeps between calls served by one instance.
KEPT = "nothing"


class Plugin(exports.Plugin):
    def describe(self) -> types.Manifest:
        tools = [
            tool("shout", "Upper-case the text (written in Python).", SHOUT),
            tool("get", "The status and body of a URL, within the plugin's grants.", GET),
            tool("setting", "A configuration value of the plugin.", SETTING),
            tool("remember", "What an earlier call of this instance kept in a global, then keeps `value`.", REMEMBER),
        ]
        return types.Manifest(name="py-shout", version="0.1.0", tools=tools, resources=[], templates=[], prompts=[])

    def call_tool(self, name: str, arguments: str) -> types.ToolResult:
        args = json.loads(arguments)
        if name == "shout":
            value = args["text"]
            context.log(types.LogLevel.INFO, f"shouting {len(value)} characters", None)
            return text(value.upper() + "!")
        if name == "get":
            try:
                status, body = http_get(args["url"])
            except Err as e:
                return text(f"request failed: {type(e.value).__name__}", is_error=True)
            return text(f"{status} {body.decode()}")
        if name == "remember":
            global KEPT
            before = KEPT
            KEPT = args.get("value", KEPT)
            return text(before)
        if name == "setting":
            value = store.get(args["key"])
            return text("unset" if value is None else value)
        raise Err(types.Error_NotFound(f"unknown tool `{name}`"))

    def read_resource(self, uri: str):
        raise Err(types.Error_NotFound(f"resource not found: {uri}"))

    def get_prompt(self, name: str, arguments):
        raise Err(types.Error_NotFound(f"unknown prompt `{name}`"))

    def complete(self, reference, argument: str, value: str):
        return []
