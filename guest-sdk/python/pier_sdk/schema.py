"""JSON Schemas from Python type hints, as FastMCP derives them.

A tool's input schema comes from its parameters (their hints, defaults and
``Annotated`` descriptions, and the ``Args:`` section of its docstring); its output
schema from its return hint, wrapped as ``{"result": ...}`` (and marked
``x-fastmcp-wrap-result``) when the hint is not an object. The shapes are the ones
FastMCP 4 publishes for the same function, without pydantic, which does not run inside
a component: scalars, ``None``, ``Any``, ``list``/``set``/``tuple``, ``dict[str, T]``,
``Optional``/unions, ``Literal``, ``Enum``, dataclasses and ``TypedDict`` (inlined;
recursive ones are refused).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import inspect
import re
import types
import typing
from typing import Any, Callable

__all__ = [
    "Field",
    "SchemaError",
    "input_schema",
    "output_schema",
    "type_schema",
    "description_of",
    "parse_docstring",
]

WRAP_KEY = "x-fastmcp-wrap-result"


class SchemaError(TypeError):
    """A hint that has no JSON Schema (or one the SDK does not build)."""


class Field:
    """Metadata for ``Annotated[T, Field(description=...)]``, as pydantic's ``Field``.

    Any metadata object with a ``description`` attribute works the same (pydantic's
    own ``Field`` does, where pydantic is importable), and so does a plain string.
    """

    def __init__(self, default: Any = inspect.Parameter.empty, *, description: str | None = None):
        self.default = default
        self.description = description

    def __repr__(self) -> str:
        return f"Field(description={self.description!r})"


_NONE = type(None)
_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    _NONE: {"type": "null"},
    None: {"type": "null"},
}


def _json_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return None


def _enum_schema(values: list[Any]) -> dict[str, Any]:
    """``enum`` (or ``const`` for one value), with ``type`` when every value shares it."""
    kinds = {_json_type(v) for v in values}
    schema: dict[str, Any] = {"const": values[0]} if len(values) == 1 else {"enum": values}
    if len(kinds) == 1 and None not in kinds:
        schema["type"] = kinds.pop()
    return schema


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__total__")


def _description_of(metadata: tuple[Any, ...]) -> str | None:
    for item in metadata:
        if isinstance(item, str):
            return item
        text = getattr(item, "description", None)
        if isinstance(text, str):
            return text
    return None


def annotated_description(hint: Any) -> str | None:
    """The description an ``Annotated`` hint carries, if any."""
    if typing.get_origin(hint) is typing.Annotated:
        return _description_of(typing.get_args(hint)[1:])
    return None


def _hints(tp: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(tp, include_extras=True)
    except Exception as e:  # a forward reference that does not resolve
        raise SchemaError(f"cannot resolve the type hints of {tp!r}: {e}") from e


def _object_schema(tp: Any, seen: tuple[Any, ...]) -> dict[str, Any]:
    """A dataclass or TypedDict, inlined."""
    hints = _hints(tp)
    properties: dict[str, Any] = {}
    required: list[str] = []
    if dataclasses.is_dataclass(tp):
        for field in dataclasses.fields(tp):
            if not field.init:
                continue
            prop = _schema(hints.get(field.name, Any), seen)
            if field.default is not dataclasses.MISSING:
                prop["default"] = to_jsonable(field.default)
            elif field.default_factory is dataclasses.MISSING:
                required.append(field.name)
            properties[field.name] = prop
    else:
        required_keys = getattr(tp, "__required_keys__", frozenset())
        for name, hint in hints.items():
            hint, _ = _strip_required(hint)
            properties[name] = _schema(hint, seen)
            if name in required_keys:
                required.append(name)
    schema: dict[str, Any] = {"properties": properties}
    if required:
        schema["required"] = required
    schema["type"] = "object"
    doc = inspect.getdoc(tp)
    if doc and dataclasses.is_dataclass(tp) and not doc.startswith(tp.__name__ + "("):
        schema["description"] = doc
    return schema


def _strip_required(hint: Any) -> tuple[Any, bool | None]:
    """``Required[T]``/``NotRequired[T]`` of a TypedDict key, peeled."""
    origin = typing.get_origin(hint)
    for name in ("Required", "NotRequired"):
        for module in (typing, _typing_extensions()):
            marker = getattr(module, name, None) if module else None
            if marker is not None and origin is marker:
                return typing.get_args(hint)[0], name == "Required"
    return hint, None


def _typing_extensions() -> Any:
    try:
        import typing_extensions
    except ImportError:
        return None
    return typing_extensions


def _schema(tp: Any, seen: tuple[Any, ...]) -> dict[str, Any]:
    if tp is Any or tp is inspect.Parameter.empty or tp is object:
        return {}
    if tp in _SCALARS:
        return dict(_SCALARS[tp])
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        schema = _schema(args[0], seen)
        text = _description_of(args[1:])
        if text is not None:
            schema["description"] = text
        return schema
    if origin is typing.Literal:
        return _enum_schema([v.value if isinstance(v, enum.Enum) else v for v in args])
    if origin is typing.Union or origin is types.UnionType:
        return {"anyOf": [_schema(arm, seen) for arm in args]}
    if tp in (list, typing.List, typing.Sequence, collections.abc.Sequence):
        return {"items": {}, "type": "array"}
    if tp in (dict, typing.Dict, typing.Mapping, collections.abc.Mapping):
        return {"additionalProperties": True, "type": "object"}
    if tp in (set, frozenset):
        return {"items": {}, "type": "array", "uniqueItems": True}
    if tp is tuple:
        return {"items": {}, "type": "array"}
    if origin in (list, collections.abc.Sequence):
        return {"items": _schema(args[0], seen) if args else {}, "type": "array"}
    if origin in (set, frozenset):
        return {"items": _schema(args[0], seen) if args else {}, "type": "array", "uniqueItems": True}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"items": _schema(args[0], seen), "type": "array"}
        if args == ((),):
            return {"maxItems": 0, "minItems": 0, "type": "array"}
        items = [_schema(arm, seen) for arm in args]
        return {"maxItems": len(items), "minItems": len(items), "prefixItems": items, "type": "array"}
    if origin in (dict, collections.abc.Mapping):
        if args and args[0] is not str:
            raise SchemaError(f"{tp!r}: JSON objects have string keys")
        return {"additionalProperties": _schema(args[1], seen) if args else True, "type": "object"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        schema = _enum_schema([member.value for member in tp])
        doc = tp.__doc__
        if doc and doc != "An enumeration." and not doc.startswith(tp.__name__ + "("):
            schema = {"description": inspect.cleandoc(doc), **schema}
        return schema
    if dataclasses.is_dataclass(tp) or _is_typeddict(tp):
        if tp in seen:
            raise SchemaError(f"{tp.__name__} refers to itself: recursive types are not supported")
        return _object_schema(tp, seen + (tp,))
    if tp is bytes:
        return {"format": "binary", "type": "string"}
    raise SchemaError(f"no JSON Schema for the type {tp!r}")


def type_schema(tp: Any) -> dict[str, Any]:
    """The JSON Schema of values of type ``tp``."""
    return _schema(tp, ())


# --- docstrings ---------------------------------------------------------------------

_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params|Returns|Return|Raises|Yields|Examples?|Notes?)\s*:\s*$")
_ARG = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str | None, dict[str, str]]:
    """A Google-style docstring's description (the text before its first section) and
    the descriptions of its ``Args:``."""
    if not doc:
        return None, {}
    lines = inspect.cleandoc(doc).splitlines()
    description: list[str] = []
    args: dict[str, str] = {}
    section = None
    current = None
    indent = None
    for line in lines:
        heading = _SECTION.match(line.strip()) if not line.startswith((" ", "\t")) else None
        if heading:
            section = heading.group(1)
            current = None
            indent = None
            continue
        if section is None:
            description.append(line)
            continue
        if section not in ("Args", "Arguments", "Parameters", "Params"):
            continue
        stripped = line.strip()
        if not stripped:
            current = None
            continue
        width = len(line) - len(line.lstrip())
        if indent is None:
            indent = width
        match = _ARG.match(stripped) if width <= indent else None
        if match:
            current = match.group(1).lstrip("*")
            args[current] = match.group(2).strip()
        elif current is not None:
            args[current] = (args[current] + "\n" + stripped).strip()
    text = "\n".join(description).strip()
    return (text or None), args


def description_of(fn: Callable[..., Any]) -> str | None:
    """The description FastMCP gives a function: its docstring without the sections."""
    return parse_docstring(inspect.getdoc(fn))[0]


# --- functions ----------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: enums by value, dataclasses as objects, sets and
    tuples as lists; anything else by ``str``, as FastMCP's serializer falls back."""
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def parameters(fn: Callable[..., Any], skip: Callable[[Any], bool] = lambda hint: False) -> list[inspect.Parameter]:
    """The parameters of ``fn`` a client passes: not ``*args``/``**kwargs``, not those
    whose hint ``skip`` (e.g. an injected ``Context``)."""
    hints = _hints(fn)
    out = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if skip(hints.get(param.name, param.annotation)):
            continue
        out.append(param)
    return out


def input_schema(fn: Callable[..., Any], skip: Callable[[Any], bool] = lambda hint: False) -> dict[str, Any]:
    """The schema of the arguments object of ``fn``."""
    hints = _hints(fn)
    _, arg_docs = parse_docstring(inspect.getdoc(fn))
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in parameters(fn, skip):
        hint = hints.get(param.name, inspect.Parameter.empty)
        try:
            prop = type_schema(hint)
        except SchemaError as e:
            raise SchemaError(f"parameter `{param.name}` of `{fn.__name__}`: {e}") from None
        default = param.default
        if isinstance(default, Field):
            if default.description is not None:
                prop["description"] = default.description
            default = default.default
        if default is inspect.Parameter.empty:
            required.append(param.name)
        else:
            prop["default"] = to_jsonable(default)
            if hint is inspect.Parameter.empty:
                prop["title"] = param.name.replace("_", " ").title()
        if "description" not in prop and param.name in arg_docs:
            prop["description"] = arg_docs[param.name]
        properties[param.name] = prop
    schema: dict[str, Any] = {"additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = required
    schema["type"] = "object"
    return schema


#: Return hints with no output schema: content helpers and raw results (by name, so
#: that this module does not import them).
NO_OUTPUT_SCHEMA = {"Image", "Audio", "File", "ToolResult"}


def _no_structure(tp: Any) -> bool:
    if isinstance(tp, type) and (tp.__name__ in NO_OUTPUT_SCHEMA or tp is bytes):
        return True
    if tp in (list, tuple, typing.List, typing.Sequence):
        return True
    return any(_no_structure(arg) for arg in typing.get_args(tp) if arg is not Ellipsis)


def output_schema(fn: Callable[..., Any]) -> dict[str, Any] | None:
    """The schema of the structured result of ``fn``, or ``None`` when it has none (no
    return hint, ``None``, ``Any``, content helpers, bytes, a bare ``list``)."""
    hint = _hints(fn).get("return", inspect.Parameter.empty)
    if hint in (inspect.Parameter.empty, None, _NONE, Any) or _no_structure(hint):
        return None
    try:
        schema = type_schema(hint)
    except SchemaError as e:
        raise SchemaError(f"return type of `{fn.__name__}`: {e}") from None
    if schema.get("type") == "object":
        return schema
    return {"properties": {"result": schema}, "required": ["result"], "type": "object", WRAP_KEY: True}
