"""Resources and resource templates, as FastMCP declares and reads them.

`@mcp.resource("weather://readme")` on a function without parameters is a static
resource; a URI with `{var}` (one path segment) or `{var*}` (the rest) is a template
whose variables are the function's parameters, converted to their hints. What the
function returns becomes the contents: `str` as text, `bytes` as a blob, anything else
as its JSON text.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from typing import Any, Callable
from urllib.parse import unquote

from . import schema

__all__ = ["Resource", "ResourceContents", "ResourceError", "template_regex"]

_VARIABLE = re.compile(r"\{([^}]+)\}")


class ResourceError(Exception):
    """A failure reading a resource; its message reaches the client."""


@dataclasses.dataclass(frozen=True)
class ResourceContents:
    """What a read returns: text or bytes, with the URI read and a media type."""

    uri: str
    mime_type: str | None
    text: str | None = None
    blob: bytes | None = None


def template_regex(template: str) -> re.Pattern[str]:
    """The pattern of the URIs a template names: `{var}` one segment, `{var*}` the rest;
    query variables (`{?a,b}`) are not matched."""
    template = re.sub(r"\{\?[^}]+\}", "", template)
    pattern = ""
    for i, part in enumerate(_VARIABLE.split(template)):
        if i % 2 == 0:
            pattern += re.escape(part)
        elif part.endswith("*"):
            pattern += f"(?P<{part[:-1].replace('-', '_')}>.+)"
        else:
            pattern += f"(?P<{part.replace('-', '_')}>[^/]+)"
    return re.compile(f"^{pattern}$")


@dataclasses.dataclass
class Resource:
    """A registered resource (`is_template` when its URI has variables)."""

    fn: Callable[..., Any]
    uri: str
    name: str
    title: str | None
    description: str | None
    mime_type: str
    tags: list[str]
    regex: re.Pattern[str] | None

    @property
    def is_template(self) -> bool:
        return self.regex is not None

    @classmethod
    def create(cls, fn: Callable[..., Any], uri: str, *, name: str | None, title: str | None,
               description: str | None, mime_type: str | None, tags: set[str] | None,
               skip: Callable[[Any], bool] = lambda _: False) -> "Resource":
        """`skip` says which parameter hints are filled by pier (a `Context`), not by the URI."""
        variables = [v.lstrip("?").rstrip("*").replace("-", "_") for v in _VARIABLE.findall(uri)]
        hints = schema._hints(fn)
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and not skip(hints.get(p.name))]
        if variables:
            missing = [v for v in variables if v not in params]
            if missing:
                raise ValueError(f"resource template `{uri}`: `{fn.__name__}` has no parameter {', '.join(missing)}")
        elif params:
            raise ValueError(f"resource `{uri}`: `{fn.__name__}` takes parameters but the URI has no variables")
        return cls(
            fn=fn,
            uri=uri,
            name=name or fn.__name__,
            title=title,
            description=description if description is not None else schema.description_of(fn),
            mime_type=mime_type or "text/plain",
            tags=sorted(tags or ()),
            regex=template_regex(uri) if variables else None,
        )

    def match(self, uri: str) -> dict[str, str] | None:
        """The variables of `uri` when this template names it."""
        if self.regex is None:
            return {} if uri == self.uri else None
        found = self.regex.match(uri.partition("#")[0].partition("?")[0])
        return None if found is None else {k: unquote(v) for k, v in found.groupdict().items()}

    def read(self, uri: str, variables: dict[str, str], run: Callable[[Any], Any], coerce: Callable[[Any, Any], Any],
             context: Any = None, context_params: list[str] = ()) -> list[ResourceContents]:
        hints = schema._hints(self.fn)
        kwargs: dict[str, Any] = {param: context for param in context_params}
        for key, value in variables.items():
            hint = hints.get(key, str)
            kwargs[key] = value if hint is str else coerce(_parse(value), hint)
        value = run(self.fn(**kwargs))
        if isinstance(value, ResourceContents):
            return [value]
        if isinstance(value, bytes):
            return [ResourceContents(uri, self.mime_type, blob=value)]
        if isinstance(value, str):
            return [ResourceContents(uri, self.mime_type, text=value)]
        return [ResourceContents(uri, self.mime_type, text=json.dumps(schema.to_jsonable(value)))]


def _parse(value: str) -> Any:
    """A template variable as the JSON value it spells (`2` → 2), else the string."""
    try:
        return json.loads(value)
    except ValueError:
        return value
