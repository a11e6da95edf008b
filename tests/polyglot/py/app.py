"""A pier plugin in Python (componentize-py): one tool, `shout`, that upper-cases text
and logs through the host's context interface."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import context, types


class Plugin(exports.Plugin):
    def describe(self) -> types.Manifest:
        schema = {
            "type": "object",
            "properties": {"text": {"type": "string", "description": "What to shout."}},
            "required": ["text"],
        }
        tool = types.Tool(
            name="shout",
            title=None,
            description="Upper-case the text (written in Python).",
            input_schema=json.dumps(schema),
            output_schema=None,
            annotations=None,
            tags=[],
        )
        return types.Manifest(name="py-shout", version="0.1.0", tools=[tool], resources=[], templates=[], prompts=[])

    def call_tool(self, name: str, arguments: str) -> types.ToolResult:
        if name != "shout":
            raise Err(types.Error_NotFound(f"unknown tool `{name}`"))
        text = json.loads(arguments)["text"]
        context.log(types.LogLevel.INFO, f"shouting {len(text)} characters", None)
        return types.ToolResult(content=[types.Content_Text(text.upper() + "!")], structured=None, is_error=False)

    def read_resource(self, uri: str):
        raise Err(types.Error_NotFound(f"resource not found: {uri}"))

    def get_prompt(self, name: str, arguments):
        raise Err(types.Error_NotFound(f"unknown prompt `{name}`"))

    def complete(self, reference, argument: str, value: str):
        return []
