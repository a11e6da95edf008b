"""What a tool returns, as MCP content: FastMCP's `Image`, `Audio` and `File` helpers,
and the conversion of any return value into content blocks and structured content.

Content blocks here are plain dataclasses (`Text`, `Blob`, `Embedded`); the component
glue turns them into the WIT `content` variant.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import mimetypes
import os
import types
import typing
from pathlib import Path
from typing import Any

from .schema import WRAP_KEY, to_jsonable

__all__ = ["Image", "Audio", "File", "Text", "Blob", "Embedded", "ToolOutput", "to_content", "convert_result", "dump_json"]


@dataclasses.dataclass(frozen=True)
class Text:
    """A text content block."""

    text: str


@dataclasses.dataclass(frozen=True)
class Blob:
    """An image or audio content block (`kind` is `image` or `audio`)."""

    kind: str
    data: bytes
    mime_type: str


@dataclasses.dataclass(frozen=True)
class Embedded:
    """An embedded resource: `text` or `blob` set."""

    uri: str
    mime_type: str | None
    text: str | None = None
    blob: bytes | None = None


Block = Text | Blob | Embedded


def dump_json(value: Any) -> str:
    """Compact JSON, as FastMCP's serializer writes it (UTF-8, no spaces)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _mime(path: Path | None, format: str | None, kind: str, default: str) -> str:
    if format:
        special = {"jpg": "image/jpeg", "svg": "image/svg+xml", "tif": "image/tiff", "mp3": "audio/mpeg"}
        return special.get(format.lower(), f"{kind}/{format.lower()}")
    if path is not None:
        guessed, _ = mimetypes.guess_type(str(path), strict=False)
        if guessed:
            return guessed
    return default


class _Media:
    kind = "image"
    default_mime = "image/png"

    def __init__(self, path: str | Path | None = None, data: bytes | None = None, format: str | None = None):
        if path is None and data is None:
            raise ValueError("Either path or data must be provided")
        if path is not None and data is not None:
            raise ValueError("Only one of path or data can be provided")
        self.path = Path(os.path.expandvars(str(path))).expanduser() if path else None
        self.data = data
        self.mime_type = _mime(self.path, format, self.kind, self.default_mime)

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()

    def block(self) -> Block:
        return Blob(self.kind, self.read(), self.mime_type)


class Image(_Media):
    """An image to return from a tool: `Image(path=...)` or `Image(data=..., format="png")`."""


class Audio(_Media):
    """An audio clip to return from a tool: `Audio(path=...)` or `Audio(data=..., format="wav")`."""

    kind = "audio"
    default_mime = "audio/wav"


class File(_Media):
    """A file to return from a tool, as an embedded resource (text when it decodes as
    UTF-8 text of a text type, else bytes)."""

    kind = "file"
    default_mime = "application/octet-stream"

    def __init__(
        self,
        path: str | Path | None = None,
        data: bytes | None = None,
        format: str | None = None,
        name: str | None = None,
    ):
        super().__init__(path, data, format)
        if format:
            self.mime_type = mimetypes.types_map.get("." + format.lower(), f"application/{format.lower()}")
        self.name = name or (self.path.stem if self.path else "resource")

    def block(self) -> Block:
        data = self.read()
        uri = f"file:///{self.name}.{self.mime_type.split('/')[1]}"
        if self.mime_type.startswith("text/") or self.mime_type in ("application/json", "application/xml"):
            try:
                return Embedded(uri, self.mime_type, text=data.decode("utf-8"))
            except UnicodeDecodeError:
                pass
        return Embedded(uri, self.mime_type, blob=data)


def _is_block(item: Any) -> bool:
    return isinstance(item, (Text, Blob, Embedded, _Media))


def _single(item: Any) -> Block:
    if isinstance(item, (Text, Blob, Embedded)):
        return item
    if isinstance(item, _Media):
        return item.block()
    if isinstance(item, str):
        return Text(item)
    if isinstance(item, bytes):
        try:
            return Text(item.decode("utf-8"))
        except UnicodeDecodeError:
            return Text(base64.b64encode(item).decode("ascii"))
    return Text(dump_json(to_jsonable(item)))


def to_content(result: Any) -> list[Block]:
    """Content blocks of a return value, as FastMCP makes them: nothing for `None`, one
    block for one value, a block per item of a list holding content (none for an empty
    list), else one text block of the whole list's JSON."""
    if result is None:
        return []
    if not isinstance(result, (list, tuple)):
        return [_single(result)]
    if any(_is_block(item) for item in result) or not result:
        return [_single(item) for item in result]
    return [Text(dump_json(to_jsonable(result)))]


@dataclasses.dataclass
class ToolOutput:
    """A tool's result: its content, its structured content (a JSON object), whether
    it failed."""

    content: list[Block]
    structured: dict[str, Any] | None = None
    is_error: bool = False


def as_hinted(value: Any, hint: Any) -> Any:
    """`value` as JSON data shaped by the return hint: an `int` where the hint says
    `float` becomes a float (`3` → `3.0`), inside containers and dataclasses too."""
    if hint is None or value is None:
        return to_jsonable(value)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated:
        return as_hinted(value, args[0])
    if origin is typing.Union or origin is types.UnionType:
        arms = [a for a in args if a is not type(None)]
        return as_hinted(value, arms[0]) if len(arms) == 1 else to_jsonable(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin in (list, set, frozenset) and args and isinstance(value, (list, tuple, set, frozenset)):
        return [as_hinted(v, args[0]) for v in value]
    if origin is tuple and args and isinstance(value, (list, tuple)):
        if len(args) == 2 and args[1] is Ellipsis:
            return [as_hinted(v, args[0]) for v in value]
        return [as_hinted(v, a) for v, a in zip(value, args)]
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        return {str(k): as_hinted(v, args[1]) for k, v in value.items()}
    if dataclasses.is_dataclass(hint) and dataclasses.is_dataclass(value) and not isinstance(value, type):
        hints = typing.get_type_hints(type(value))
        return {f.name: as_hinted(getattr(value, f.name), hints.get(f.name)) for f in dataclasses.fields(value)}
    return to_jsonable(value)


def convert_result(value: Any, output_schema: dict[str, Any] | None, hint: Any = None) -> ToolOutput:
    """A tool's return value as its result, as FastMCP converts it for a tool with
    `output_schema` and return hint `hint`."""
    if isinstance(value, ToolOutput):
        return value
    content = to_content(value)
    if isinstance(value, bytes):
        return ToolOutput(content)
    is_content = _is_block(value) or (isinstance(value, (list, tuple)) and any(_is_block(i) for i in value))
    if output_schema is None and is_content:
        return ToolOutput(content)
    structured = as_hinted(value, hint)
    if not is_content:
        content = to_content(structured)
    if output_schema is None:
        return ToolOutput(content, structured if isinstance(structured, dict) else None)
    if output_schema.get(WRAP_KEY):
        return ToolOutput(content, {"result": structured})
    return ToolOutput(content, structured)
