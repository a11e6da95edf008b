"""The benchmark's tools as a Python plugin (componentize-py): `echo` and `add`."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types

ECHO = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
ADD = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
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


def text(value: str) -> types.ToolResult:
    return types.ToolResult(content=[types.Content_Text(value)], structured=None, is_error=False)


class Plugin(exports.Plugin):
    def describe(self) -> types.Manifest:
        tools = [tool("echo", "Return the text unchanged.", ECHO), tool("add", "Add two integers.", ADD)]
        return types.Manifest(name="bench-py", version="0.1.0", tools=tools, resources=[], templates=[], prompts=[])

    def call_tool(self, name: str, arguments: str) -> types.ToolResult:
        args = json.loads(arguments)
        if name == "echo":
            return text(args["text"])
        if name == "add":
            return text(str(args["a"] + args["b"]))
        raise Err(types.Error_NotFound(f"unknown tool `{name}`"))

    def read_resource(self, uri: str):
        raise Err(types.Error_NotFound(f"resource not found: {uri}"))

    def get_prompt(self, name: str, arguments):
        raise Err(types.Error_NotFound(f"unknown prompt `{name}`"))

    def complete(self, reference, argument: str, value: str):
        return []
