"""`Context`: what a tool may ask of the request that called it, with FastMCP's method
names. A parameter hinted `Context` receives it (and is left out of the tool's input
schema).

FastMCP's methods are coroutines (`await ctx.info(...)`); pier's host calls block, so
here each call is made at once and returns an awaitable that is already done: `await
ctx.info(...)` in an `async def` tool and a bare `ctx.info(...)` in a plain one both
work, and a plain one reads an answer as `ctx.elicit(...).result`.

The calls go to a host: in a component, pier's `context` interface
(`pier_sdk._component`); in tests, any object with the same methods.

Over MCP 2026-07-28, `sample` and `elicit` are input rounds: pier stops the call, asks
the client, and runs the call again from the start with the answers, in a fresh
instance. Code before the first `sample`/`elicit` therefore runs once per round: keep
it free of effects that must happen once (or do them after the answers).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import typing
from typing import Any, Generic, TypeVar

from . import schema
from .content import dump_json

__all__ = [
    "Context",
    "AcceptedElicitation",
    "DeclinedElicitation",
    "CancelledElicitation",
    "SamplingResult",
    "ContextError",
    "elicitation_schema",
]

LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")

T = TypeVar("T")


class ContextError(Exception):
    """A request the host refused (no such resource, a capability the client lacks, …);
    the message says why."""


class _Ready:
    """An awaitable whose value is already there (`result` without `await`)."""

    __slots__ = ("result",)

    def __init__(self, result: Any = None):
        self.result = result

    def __await__(self):
        return self.result
        yield  # a generator, never suspended


@dataclasses.dataclass
class AcceptedElicitation(Generic[T]):
    """The user answered; `data` is the answer as `response_type`."""

    data: T
    action: str = "accept"


@dataclasses.dataclass
class DeclinedElicitation:
    action: str = "decline"


@dataclasses.dataclass
class CancelledElicitation:
    action: str = "cancel"


@dataclasses.dataclass
class SamplingResult:
    """What the client's model answered: its `text` (when the answer is text) and the
    whole `sampling/createMessage` result."""

    text: str | None
    result: dict[str, Any]


def _titled(shape: dict[str, Any], name: str) -> dict[str, Any]:
    return {"title": name.replace("_", " ").title(), **shape}


def _choices(response_type: Any) -> bool:
    return isinstance(response_type, list) and all(isinstance(c, str) for c in response_type) and bool(response_type)


def elicitation_schema(response_type: Any) -> tuple[dict[str, Any], bool]:
    """The requested schema of an elicitation for `response_type`, as FastMCP sends it,
    and whether the answer is wrapped as `{"value": ...}` (scalars and choices)."""
    if response_type is None:
        raise TypeError(
            "ctx.elicit() requires a response_type: pass a type describing the data you expect back "
            "(`bool` for a confirmation)"
        )
    if _choices(response_type):
        response_type = typing.Literal[tuple(response_type)]
    if dataclasses.is_dataclass(response_type) or schema._is_typeddict(response_type):
        shape = schema.type_schema(response_type)
        shape.pop("description", None)
        shape["properties"] = {k: _titled(v, k) for k, v in shape["properties"].items()}
        ordered = {"properties": shape["properties"]}
        if "required" in shape:
            ordered["required"] = shape["required"]
        ordered["title"] = response_type.__name__
        ordered["type"] = "object"
        return ordered, False
    value = _titled(schema.type_schema(response_type), "value")
    if isinstance(response_type, type) and issubclass(response_type, enum.Enum):
        value["title"] = response_type.__name__
    return {"properties": {"value": value}, "required": ["value"], "type": "object"}, True


def _answer(response_type: Any, content: Any, wrapped: bool) -> Any:
    from .server import coerce

    if _choices(response_type):
        response_type = str
    if wrapped:
        if not isinstance(content, dict) or "value" not in content:
            raise ContextError(f"the elicitation's answer has no `value`: {content!r}")
        return coerce(content["value"], response_type)
    return coerce(content, response_type)


def _sampling_messages(messages: Any) -> list[dict[str, Any]]:
    if isinstance(messages, str):
        messages = [messages]
    out = []
    for message in messages:
        if isinstance(message, str):
            out.append({"role": "user", "content": {"type": "text", "text": message}})
        elif isinstance(message, dict):
            out.append(message)
        else:
            role = getattr(message, "role", "user")
            content = getattr(message, "content", message)
            text = getattr(content, "text", content)
            out.append({"role": role, "content": {"type": "text", "text": str(text)}})
    return out


class Context:
    """The request context of one call."""

    def __init__(self, host: Any):
        self._host = host

    # --- logging: notifications/message to the client, and pier's log ----------

    def log(self, message: str, level: str | None = None, logger_name: str | None = None,
            extra: dict[str, Any] | None = None) -> _Ready:
        level = level or "info"
        if level not in LEVELS:
            raise ValueError(f"unknown log level {level!r}: one of {', '.join(LEVELS)}")
        data: dict[str, Any] = {}
        if logger_name is not None:
            data["logger"] = logger_name
        if extra:
            data["extra"] = schema.to_jsonable(dict(extra))
        self._host.log(level, message, dump_json(data) if data else None)
        return _Ready()

    def debug(self, message: str, logger_name: str | None = None, extra: dict[str, Any] | None = None) -> _Ready:
        return self.log(message, "debug", logger_name, extra)

    def info(self, message: str, logger_name: str | None = None, extra: dict[str, Any] | None = None) -> _Ready:
        return self.log(message, "info", logger_name, extra)

    def warning(self, message: str, logger_name: str | None = None, extra: dict[str, Any] | None = None) -> _Ready:
        return self.log(message, "warning", logger_name, extra)

    def error(self, message: str, logger_name: str | None = None, extra: dict[str, Any] | None = None) -> _Ready:
        return self.log(message, "error", logger_name, extra)

    def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> _Ready:
        """`notifications/progress`, when the client asked for progress."""
        self._host.report_progress(float(progress), None if total is None else float(total), message)
        return _Ready()

    # --- asking the client -------------------------------------------------------

    def sample(self, messages: Any, system_prompt: str | None = None, include_context: str | None = None,
               temperature: float | None = None, max_tokens: int | None = None,
               model_preferences: Any = None) -> _Ready:
        """Asks the client's model (`sampling/createMessage`); awaits a `SamplingResult`."""
        params: dict[str, Any] = {"messages": _sampling_messages(messages), "maxTokens": max_tokens or 512}
        if system_prompt is not None:
            params["systemPrompt"] = system_prompt
        if include_context is not None:
            params["includeContext"] = include_context
        if temperature is not None:
            params["temperature"] = temperature
        if model_preferences is not None:
            if isinstance(model_preferences, str):
                model_preferences = {"hints": [{"name": model_preferences}]}
            elif isinstance(model_preferences, list):
                model_preferences = {"hints": [{"name": name} for name in model_preferences]}
            params["modelPreferences"] = model_preferences
        result = json.loads(self._host.sample(json.dumps(params)))
        content = result.get("content") if isinstance(result, dict) else None
        text = content.get("text") if isinstance(content, dict) else None
        return _Ready(SamplingResult(text, result))

    def elicit(self, message: str, response_type: Any = None) -> _Ready:
        """Asks the user to fill a form (`elicitation/create`); awaits an
        `AcceptedElicitation` (its `data` as `response_type`), a `DeclinedElicitation`
        or a `CancelledElicitation`."""
        requested, wrapped = elicitation_schema(response_type)
        action, content = self._host.elicit(message, json.dumps(requested))
        if action == "accept":
            return _Ready(AcceptedElicitation(_answer(response_type, content, wrapped)))
        return _Ready(DeclinedElicitation() if action == "decline" else CancelledElicitation())

    # --- other mounts, and request state -------------------------------------------

    def read_resource(self, uri: str) -> _Ready:
        """Reads a resource of any mount by its namespaced URI; awaits its contents."""
        return _Ready(self._host.read_resource(uri))

    def get_prompt(self, name: str, arguments: dict[str, Any] | None = None) -> _Ready:
        """Renders a prompt of any mount by its namespaced name; awaits the result."""
        args = [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in (arguments or {}).items()]
        return _Ready(self._host.get_prompt(name, args))

    def set_state(self, key: str, value: Any) -> _Ready:
        """Keeps a JSON value for the rest of this request (middleware sees it too)."""
        self._host.set_state(key, json.dumps(schema.to_jsonable(value)))
        return _Ready()

    def get_state(self, key: str) -> _Ready:
        """A value set earlier in this request, or `None`."""
        raw = self._host.get_state(key)
        return _Ready(None if raw is None else json.loads(raw))

    # --- who asked ---------------------------------------------------------------

    @property
    def request_id(self) -> str:
        return self._host.request_info().request_id

    @property
    def session_id(self) -> str | None:
        return self._host.request_info().session_id

    @property
    def client_id(self) -> str | None:
        return self._host.request_info().client_name

    @property
    def is_cancelled(self) -> bool:
        return bool(self._host.is_cancelled())
