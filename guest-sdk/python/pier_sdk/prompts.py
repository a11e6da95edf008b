"""Prompts, as FastMCP declares and renders them.

A prompt's arguments are the function's parameters (MCP passes them as strings; one
hinted other than `str` is parsed as JSON and converted to its hint, and its
description says so, as FastMCP's does). It returns a string (one user message), a
`Message`, or a list of those.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
from typing import Any, Callable

from . import schema
from .content import Block, Text, dump_json, to_content

__all__ = ["Message", "Prompt", "PromptArgument", "PromptArgumentError", "PromptResult"]


class PromptArgumentError(ValueError):
    """Arguments a prompt does not take, or lacks."""


class Message:
    """One message of a rendered prompt: `Message("text")` (the user speaks),
    `Message("text", role="assistant")`; content other than text or a content helper
    is sent as its JSON."""

    def __init__(self, content: Any, role: str = "user"):
        if role not in ("user", "assistant"):
            raise ValueError(f"a message's role is `user` or `assistant`, not {role!r}")
        self.role = role
        if isinstance(content, str):
            self.content: Block = Text(content)
        elif isinstance(content, (dict, list, tuple)) or not to_content(content):
            self.content = Text(dump_json(schema.to_jsonable(content)))
        else:
            self.content = to_content(content)[0]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and (self.role, self.content) == (other.role, other.content)

    def __repr__(self) -> str:
        return f"Message({self.content!r}, role={self.role!r})"


def _note_schema(hint: Any) -> dict[str, Any]:
    """The schema a prompt argument's description quotes, as pydantic writes it for the
    type alone: a named type (enum, dataclass, typed dict) keeps its title."""
    shape = schema.type_schema(hint)
    if isinstance(hint, type) and (issubclass(hint, enum.Enum) or dataclasses.is_dataclass(hint)
                                   or schema._is_typeddict(hint)):
        shape["title"] = hint.__name__
    return shape


@dataclasses.dataclass(frozen=True)
class PromptArgument:
    name: str
    description: str | None
    required: bool


@dataclasses.dataclass
class PromptResult:
    description: str | None
    messages: list[Message]


@dataclasses.dataclass
class Prompt:
    """A registered prompt."""

    fn: Callable[..., Any]
    name: str
    title: str | None
    description: str | None
    arguments: list[PromptArgument]
    tags: list[str]

    @classmethod
    def create(cls, fn: Callable[..., Any], *, name: str | None, title: str | None,
               description: str | None, tags: set[str] | None, skip: Callable[[Any], bool]) -> "Prompt":
        hints = schema._hints(fn)
        _, arg_docs = schema.parse_docstring(inspect.getdoc(fn))
        arguments = []
        for param in schema.parameters(fn, skip):
            hint = hints.get(param.name, inspect.Parameter.empty)
            text = schema.annotated_description(hint) or arg_docs.get(param.name)
            if hint is not inspect.Parameter.empty and hint is not str:
                note = (
                    "Provide a value matching the following JSON schema: "
                    f"{json.dumps(_note_schema(hint), separators=(',', ':'), sort_keys=True)}. "
                    "Encode non-string values as JSON."
                )
                text = f"{text}\n\n{note}" if text else note
            arguments.append(PromptArgument(param.name, text, param.default is inspect.Parameter.empty))
        return cls(
            fn=fn,
            name=name or fn.__name__,
            title=title,
            description=description if description is not None else schema.description_of(fn),
            arguments=arguments,
            tags=sorted(tags or ()),
        )

    def render(self, arguments: dict[str, str], run: Callable[[Any], Any], coerce: Callable[[Any, Any], Any],
               context: Any = None, context_params: list[str] = ()) -> PromptResult:
        known = {a.name for a in self.arguments}
        unknown = sorted(set(arguments) - known)
        if unknown:
            raise PromptArgumentError(f"unknown argument(s) of prompt `{self.name}`: {', '.join(unknown)}")
        missing = [a.name for a in self.arguments if a.required and a.name not in arguments]
        if missing:
            raise PromptArgumentError(f"missing argument(s) of prompt `{self.name}`: {', '.join(missing)}")
        hints = schema._hints(self.fn)
        kwargs: dict[str, Any] = {}
        for key, value in arguments.items():
            hint = hints.get(key, str)
            if hint is str or hint is inspect.Parameter.empty:
                kwargs[key] = value
            else:
                try:
                    kwargs[key] = coerce(json.loads(value), hint)
                except ValueError:
                    kwargs[key] = coerce(value, hint)
        for param in context_params:
            kwargs[param] = context
        value = run(self.fn(**kwargs))
        items = value if isinstance(value, (list, tuple)) else [value]
        messages = [item if isinstance(item, Message) else Message(item) for item in items]
        return PromptResult(self.description, messages)
