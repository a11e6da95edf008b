"""`FastMCP`: a plugin's tools, as FastMCP declares them, and their calls.

```python
from pier_sdk import FastMCP   # was: from fastmcp import FastMCP

mcp = FastMCP("weather")

@mcp.tool
def forecast(city: str, days: int = 1) -> dict[str, float]:
    "Forecast for a city."
    ...
```

A tool's arguments reach it converted to its parameters' hints (enums, dataclasses,
typed dicts, lists and sets of them); what it returns becomes its result as FastMCP
converts it; a `ToolError` reaches the model as an error result with its message,
any other exception as `Error calling tool 'NAME': ...` (without the detail when the
server masks error details).
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import types
import typing
from typing import Any, Callable

from . import schema
from .content import Text, ToolOutput, convert_result
from .prompts import Prompt, PromptResult
from .resources import Resource, ResourceContents

__all__ = ["FastMCP", "Plugin", "Tool", "ToolError", "NotFoundError", "servers"]


class ToolError(Exception):
    """A failure the model should see: its message is the tool's error result."""


class NotFoundError(Exception):
    """No tool, resource or prompt of that name."""


#: Every server made in this interpreter, in order: the component serves the last one.
servers: list["FastMCP"] = []


@dataclasses.dataclass
class Tool:
    """A registered tool."""

    fn: Callable[..., Any]
    name: str
    title: str | None
    description: str | None
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    annotations: dict[str, Any] | None
    tags: list[str]
    context_params: list[str]


def _is_context(hint: Any) -> bool:
    from .context import Context

    if hint is Context:
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_is_context(arm) for arm in typing.get_args(hint))
    if origin is typing.Annotated:
        return _is_context(typing.get_args(hint)[0])
    return False


def _context_params(fn: Callable[..., Any]) -> list[str]:
    """The parameters of `fn` that take a `Context`."""
    hints = schema._hints(fn)
    return [p for p in inspect.signature(fn).parameters if _is_context(hints.get(p))]


def coerce(value: Any, hint: Any) -> Any:
    """JSON `value` (already valid against the hint's schema) as a value of `hint`."""
    if hint in (Any, inspect.Parameter.empty, object) or value is None:
        return value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated:
        return coerce(value, args[0])
    if origin is typing.Union or origin is types.UnionType:
        for arm in args:
            if arm is type(None):
                continue
            try:
                return coerce(value, arm)
            except (TypeError, ValueError, KeyError):
                continue
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        hints = typing.get_type_hints(hint, include_extras=True)
        known = {f.name for f in dataclasses.fields(hint) if f.init}
        return hint(**{k: coerce(v, hints.get(k, Any)) for k, v in value.items() if k in known})
    if origin in (list, set, frozenset) and isinstance(value, list):
        items = [coerce(v, args[0]) if args else v for v in value]
        return items if origin is list else origin(items)
    if origin is tuple and isinstance(value, list):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0]) for v in value)
        return tuple(coerce(v, a) for v, a in zip(value, args))
    if origin is dict and isinstance(value, dict) and args:
        return {k: coerce(v, args[1]) for k, v in value.items()}
    if schema._is_typeddict(hint) and isinstance(value, dict):
        hints = typing.get_type_hints(hint)
        return {k: coerce(v, schema._strip_required(hints.get(k, Any))[0]) for k, v in value.items()}
    return value


def run_sync(result: Any) -> Any:
    """The value of a coroutine that never waits on anything outside the call (pier's
    host calls block), driven to its end here; any other value as it is."""
    if not inspect.iscoroutine(result):
        return result
    try:
        while True:
            result.send(None)
    except StopIteration as done:
        return done.value
    finally:
        result.close()


@dataclasses.dataclass
class PromptReference:
    """A completion request about an argument of prompt `name` (as the plugin names it)."""

    name: str
    type: str = "ref/prompt"


@dataclasses.dataclass
class ResourceTemplateReference:
    """A completion request about a variable of the resource template `uri`."""

    uri: str
    type: str = "ref/resource"


@dataclasses.dataclass
class CompletionArgument:
    """The argument being completed and what was typed so far."""

    name: str
    value: str


@dataclasses.dataclass
class Completion:
    """A completion handler's answer with pagination hints (FastMCP's `Completion`)."""

    values: list[str]
    total: int | None = None
    has_more: bool | None = None


#: The MCP completion contract caps `values` at 100 candidates per response.
MAX_COMPLETION_VALUES = 100


class FastMCP:
    """A plugin's server: what it offers, registered with decorators as in FastMCP.

    Server-level settings of FastMCP (transports, auth, mounting, middleware) belong to
    pier and are accepted here only where a FastMCP file passes them; `run()` does
    nothing, so `if __name__ == "__main__": mcp.run()` stays harmless.
    """

    def __init__(self, name: str = "plugin", instructions: str | None = None, *, version: str = "0.1.0",
                 mask_error_details: bool = False, **_settings: Any):
        self.name = name
        self.instructions = instructions
        self.version = version
        self.mask_error_details = mask_error_details
        self.tools: dict[str, Tool] = {}
        self.resources: dict[str, Resource] = {}
        self.prompts: dict[str, Prompt] = {}
        self.completion_handler: Callable[..., Any] | None = None
        servers.append(self)

    def run(self, *args: Any, **kwargs: Any) -> None:
        """Nothing: pier serves the plugin."""

    # --- tools ------------------------------------------------------------------

    def tool(self, name_or_fn: str | Callable[..., Any] | None = None, *, name: str | None = None,
             title: str | None = None, description: str | None = None, tags: set[str] | None = None,
             annotations: dict[str, Any] | None = None, output_schema: Any = ..., **_ignored: Any):
        """Registers a tool: `@mcp.tool`, `@mcp.tool()`, `@mcp.tool("name")`,
        `@mcp.tool(name=..., description=..., tags={...}, annotations={...})` or
        `mcp.tool(fn, name=...)`."""
        if callable(name_or_fn):
            return self.add_tool(name_or_fn, name=name, title=title, description=description, tags=tags,
                                 annotations=annotations, output_schema=output_schema)
        if isinstance(name_or_fn, str):
            if name is not None:
                raise TypeError("the tool's name is given twice")
            name = name_or_fn

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            return self.add_tool(fn, name=name, title=title, description=description, tags=tags,
                                 annotations=annotations, output_schema=output_schema)

        return decorate

    def add_tool(self, fn: Callable[..., Any], *, name: str | None = None, title: str | None = None,
                 description: str | None = None, tags: set[str] | None = None,
                 annotations: dict[str, Any] | None = None, output_schema: Any = ...) -> Callable[..., Any]:
        tool_name = name or fn.__name__
        if tool_name in self.tools:
            raise ValueError(f"tool `{tool_name}` is registered twice")
        hints = schema._hints(fn)
        context_params = [p for p in inspect.signature(fn).parameters if _is_context(hints.get(p))]
        self.tools[tool_name] = Tool(
            fn=fn,
            name=tool_name,
            title=title,
            description=description if description is not None else schema.description_of(fn),
            input_schema=schema.input_schema(fn, skip=_is_context),
            output_schema=schema.output_schema(fn) if output_schema is ... else output_schema,
            annotations=dict(annotations) if annotations else None,
            tags=sorted(tags or ()),
            context_params=context_params,
        )
        return fn

    def call_tool(self, name: str, arguments: dict[str, Any] | str, context: Any = None) -> ToolOutput:
        """Runs tool `name`; its result, or an error result for any failure of the tool.
        Raises `NotFoundError` for an unknown tool."""
        tool = self.tools.get(name)
        if tool is None:
            raise NotFoundError(f"Unknown tool: {name!r}")
        if isinstance(arguments, str):
            arguments = json.loads(arguments) if arguments.strip() else {}
        hints = schema._hints(tool.fn)
        try:
            kwargs = {k: coerce(v, hints.get(k, Any)) for k, v in arguments.items()}
            for param in tool.context_params:
                kwargs[param] = context
            value = run_sync(tool.fn(**kwargs))
            return convert_result(value, tool.output_schema, hints.get("return"))
        except ToolError as e:
            return ToolOutput([Text(str(e))], is_error=True)
        except Exception as e:
            if self.mask_error_details:
                return ToolOutput([Text(f"Error calling tool {name!r}")], is_error=True)
            return ToolOutput([Text(f"Error calling tool {name!r}: {e}")], is_error=True)


    # --- resources ----------------------------------------------------------------

    def resource(self, uri: str, *, name: str | None = None, title: str | None = None,
                 description: str | None = None, mime_type: str | None = None,
                 tags: set[str] | None = None, **_ignored: Any):
        """Registers a resource (`@mcp.resource("notes://list")`) or a resource template
        (`@mcp.resource("weather://{city}/now")`)."""

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            if uri in self.resources:
                raise ValueError(f"resource `{uri}` is registered twice")
            self.resources[uri] = Resource.create(fn, uri, name=name, title=title, description=description,
                                                  mime_type=mime_type, tags=tags, skip=_is_context)
            return fn

        return decorate

    def read_resource(self, uri: str, context: Any = None) -> list[ResourceContents]:
        """The contents at `uri`: a static resource of that URI, else the first template
        that names it; `context` fills its `Context` parameters. Raises `NotFoundError`
        when none does; a failure of the function propagates (pier reports it to the
        client)."""
        static = self.resources.get(uri)
        if static is not None and not static.is_template:
            return static.read(uri, {}, run_sync, coerce, context, _context_params(static.fn))
        for resource in self.resources.values():
            variables = resource.match(uri) if resource.is_template else None
            if variables is not None:
                return resource.read(uri, variables, run_sync, coerce, context, _context_params(resource.fn))
        raise NotFoundError(f"Unknown resource: {uri!r}")

    # --- prompts ------------------------------------------------------------------

    def prompt(self, name_or_fn: str | Callable[..., Any] | None = None, *, name: str | None = None,
               title: str | None = None, description: str | None = None, tags: set[str] | None = None,
               **_ignored: Any):
        """Registers a prompt: `@mcp.prompt`, `@mcp.prompt()`, `@mcp.prompt("name")`,
        `@mcp.prompt(name=..., description=...)`."""

        def add(fn: Callable[..., Any], prompt_name: str | None) -> Callable[..., Any]:
            prompt = Prompt.create(fn, name=prompt_name, title=title, description=description, tags=tags,
                                   skip=_is_context)
            if prompt.name in self.prompts:
                raise ValueError(f"prompt `{prompt.name}` is registered twice")
            self.prompts[prompt.name] = prompt
            return fn

        if callable(name_or_fn):
            return add(name_or_fn, name)
        if isinstance(name_or_fn, str):
            name = name_or_fn
        return lambda fn: add(fn, name)

    def get_prompt(self, name: str, arguments: dict[str, str] | None = None, context: Any = None) -> PromptResult:
        """Renders prompt `name`. Raises `NotFoundError` for an unknown prompt and
        `PromptArgumentError` for unknown or missing arguments."""
        prompt = self.prompts.get(name)
        if prompt is None:
            raise NotFoundError(f"Unknown prompt: {name!r}")
        return prompt.render(arguments or {}, run_sync, coerce, context, _context_params(prompt.fn))


    # --- completion ---------------------------------------------------------------

    def add_completion_handler(self, handler: Callable[..., Any]) -> None:
        """Registers the server's one completion handler (replacing any earlier one)."""
        self.completion_handler = handler

    def completion(self, handler: Callable[..., Any] | None = None):
        """Registers the completion handler: `@mcp.completion` or `@mcp.completion()`.
        It is called with the reference (`PromptReference` or
        `ResourceTemplateReference`), the `CompletionArgument` and the context (always
        None: pier passes no other arguments), sync or async, and returns a list of
        strings, a `Completion`, or None."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add_completion_handler(fn)
            return fn

        return register if handler is None else register(handler)

    def complete(self, reference: PromptReference | ResourceTemplateReference, argument: str, value: str) -> list[str]:
        """The suggested values (at most 100) for `argument` of `reference`."""
        if self.completion_handler is None:
            return []
        result = run_sync(self.completion_handler(reference, CompletionArgument(argument, value), None))
        if result is None:
            return []
        if isinstance(result, str):
            raise TypeError(
                "A completion handler returned a str; return a list of strings "
                "(for example, [value]) or a Completion instead."
            )
        values = result.values if isinstance(result, Completion) else list(result)
        return [str(v) for v in values[:MAX_COMPLETION_VALUES]]


#: pier's own name for a plugin's server.
Plugin = FastMCP
