"""The `pier:mcp/plugin` export of a component built from a FastMCP-style file: the
last `FastMCP` the file made, served through the WIT bindings componentize-py
generates (`wit_world`). Imported only inside a component build."""

from __future__ import annotations

import json
from typing import Any

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import context as host

try:  # under `pier-plugin-granted`, `types` is qualified (WASI has `types` too)
    from wit_world.imports import pier_mcp_types as types
except ImportError:
    from wit_world.imports import types

from .content import Blob, Embedded, Text, ToolOutput
from .context import Context, ContextError
from .prompts import Message, PromptArgumentError, PromptResult
from .resources import ResourceContents, ResourceError
from .server import FastMCP, NotFoundError, PromptReference, ResourceTemplateReference, servers

_LEVELS = {
    "debug": types.LogLevel.DEBUG,
    "info": types.LogLevel.INFO,
    "notice": types.LogLevel.NOTICE,
    "warning": types.LogLevel.WARNING,
    "error": types.LogLevel.ERROR,
    "critical": types.LogLevel.CRITICAL,
    "alert": types.LogLevel.ALERT,
    "emergency": types.LogLevel.EMERGENCY,
}


class _Host:
    """`Context`'s calls, made through pier's `context` interface."""

    def log(self, level: str, message: str, data: str | None) -> None:
        host.log(_LEVELS[level], message, data)

    def report_progress(self, progress: float, total: float | None, message: str | None) -> None:
        host.report_progress(progress, total, message)

    def request_info(self) -> Any:
        return host.request()

    def is_cancelled(self) -> bool:
        return host.is_cancelled()

    def sample(self, request: str) -> str:
        return _ok(lambda: host.sample(request))

    def elicit(self, message: str, requested: str) -> tuple[str, Any]:
        answer = _ok(lambda: host.elicit(message, requested))
        if isinstance(answer, host.ElicitResult_Accept):
            return "accept", json.loads(answer.value)
        if isinstance(answer, host.ElicitResult_Decline):
            return "decline", None
        return "cancel", None

    def read_resource(self, uri: str) -> list[ResourceContents]:
        items = _ok(lambda: host.read_resource(uri))
        return [
            ResourceContents(
                item.uri,
                item.mime_type,
                text=item.body.value if isinstance(item.body, types.ResourceBody_Text) else None,
                blob=item.body.value if isinstance(item.body, types.ResourceBody_Blob) else None,
            )
            for item in items
        ]

    def get_prompt(self, name: str, arguments: list[tuple[str, str]]) -> PromptResult:
        rendered = _ok(lambda: host.get_prompt(name, arguments))
        messages = [
            Message(
                m.content.value if isinstance(m.content, types.Content_Text) else "",
                role="assistant" if m.role == types.Role.ASSISTANT else "user",
            )
            for m in rendered.messages
        ]
        return PromptResult(rendered.description, messages)

    def get_state(self, key: str) -> str | None:
        return host.get_state(key)

    def set_state(self, key: str, value: str) -> None:
        host.set_state(key, value)


def _ok(call: Any) -> Any:
    """The value of a host call returning `result<T, error>`; its error as a
    `ContextError` naming the reason."""
    try:
        return call()
    except Err as e:
        raise ContextError(getattr(e.value, "value", str(e.value))) from None


#: The folder `pier dev`'s interpreter imports `server.py` from, at the first call of
#: each instance; `None` in a built component, whose server module was imported (and
#: snapshotted) when it was built.
source: str | None = None


def _server() -> FastMCP:
    if not servers and source is not None:
        _import_server(source)
    if not servers:
        raise Err(types.Error_Failed("the plugin's module made no FastMCP server"))
    return servers[-1]


def _import_server(folder: str) -> None:
    """Imports `server.py` of `folder` (read-only: no bytecode is written) as a build
    would have, with the folder's other modules importable beside it."""
    import sys

    sys.dont_write_bytecode = True
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import server  # noqa: F401


def _content(block: Any) -> Any:
    if isinstance(block, Text):
        return types.Content_Text(block.text)
    if isinstance(block, Blob):
        blob = types.Blob(data=block.data, mime_type=block.mime_type)
        return types.Content_Audio(blob) if block.kind == "audio" else types.Content_Image(blob)
    if isinstance(block, Embedded):
        body = types.ResourceBody_Text(block.text) if block.text is not None else types.ResourceBody_Blob(block.blob or b"")
        return types.Content_EmbeddedResource(types.ResourceContents(uri=block.uri, mime_type=block.mime_type, body=body))
    raise TypeError(f"not a content block: {block!r}")


def _tool_result(output: ToolOutput) -> Any:
    return types.ToolResult(
        content=[_content(block) for block in output.content],
        structured=None if output.structured is None else json.dumps(output.structured),
        is_error=output.is_error,
    )


def _contents(item: ResourceContents) -> Any:
    body = types.ResourceBody_Text(item.text) if item.text is not None else types.ResourceBody_Blob(item.blob or b"")
    return types.ResourceContents(uri=item.uri, mime_type=item.mime_type, body=body)


def _prompt_result(result: PromptResult) -> Any:
    roles = {"user": types.Role.USER, "assistant": types.Role.ASSISTANT}
    return types.PromptResult(
        description=result.description,
        messages=[types.PromptMessage(role=roles[m.role], content=_content(m.content)) for m in result.messages],
    )


class Plugin(exports.Plugin):
    def describe(self) -> Any:
        mcp = _server()
        tools = [
            types.Tool(
                name=t.name,
                title=t.title,
                description=t.description or "",
                input_schema=json.dumps(t.input_schema),
                output_schema=None if t.output_schema is None else json.dumps(t.output_schema),
                annotations=None if t.annotations is None else json.dumps(t.annotations),
                tags=t.tags,
            )
            for t in mcp.tools.values()
        ]
        resources = [
            types.ResourceInfo(uri=r.uri, name=r.name, title=r.title, description=r.description, mime_type=r.mime_type)
            for r in mcp.resources.values()
            if not r.is_template
        ]
        templates = [
            types.ResourceTemplate(
                uri_template=r.uri, name=r.name, title=r.title, description=r.description, mime_type=r.mime_type
            )
            for r in mcp.resources.values()
            if r.is_template
        ]
        prompts = [
            types.Prompt(
                name=p.name,
                title=p.title,
                description=p.description,
                arguments=[types.PromptArgument(name=a.name, description=a.description, required=a.required) for a in p.arguments],
            )
            for p in mcp.prompts.values()
        ]
        return types.Manifest(
            name=mcp.name, version=mcp.version, tools=tools, resources=resources, templates=templates, prompts=prompts
        )

    def call_tool(self, name: str, arguments: str) -> Any:
        try:
            return _tool_result(_server().call_tool(name, arguments, Context(_Host())))
        except NotFoundError as e:
            raise Err(types.Error_NotFound(str(e)))

    def read_resource(self, uri: str) -> Any:
        return _answer(
            lambda: [_contents(item) for item in _server().read_resource(uri, Context(_Host()))],
            f"Error reading resource {uri!r}",
            ResourceError,
            types.Error_Failed,
        )

    def get_prompt(self, name: str, arguments: list[tuple[str, str]]) -> Any:
        return _answer(
            lambda: _prompt_result(_server().get_prompt(name, dict(arguments), Context(_Host()))),
            f"Error rendering prompt {name!r}",
            PromptArgumentError,
            types.Error_InvalidParams,
        )

    def complete(self, reference: Any, argument: str, value: str) -> Any:
        if isinstance(reference, types.CompletionRef_Prompt):
            ref: Any = PromptReference(reference.value)
        else:
            ref = ResourceTemplateReference(reference.value)
        return _answer(lambda: _server().complete(ref, argument, value), "Error completing")


def _answer(call: Any, failing: str, shown: type = NotFoundError, as_error: Any = None) -> Any:
    """`call()`, its failures as pier's errors: `NotFoundError` as not-found, a `shown`
    exception's message as `as_error`, any other as `failing` (with the detail unless the
    server masks error details)."""
    try:
        return call()
    except NotFoundError as e:
        raise Err(types.Error_NotFound(str(e)))
    except shown as e:
        raise Err(as_error(str(e)))
    except Exception as e:
        raise Err(types.Error_Failed(_masked(failing, e)))


def _masked(prefix: str, error: Exception) -> str:
    return prefix if _server().mask_error_details else f"{prefix}: {error}"
