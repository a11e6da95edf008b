"""Outbound HTTP over `wasi:http`, within the plugin's `[grants]` (pier refuses anything
else before connecting). Blocking calls; no event loop needed.

```python
from pier_sdk import http

response = http.get("https://api.example.com/v1/weather?city=Oslo")
data = response.json()
```
"""

from __future__ import annotations

import json as _json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["HttpError", "Response", "request", "get", "post"]

# Bound when the component is built (componentize-py snapshots what its entry module
# imports): absent under CPython and under the world `pier-plugin`, which has no HTTP.
try:
    from componentize_py_types import Err
    from wit_world.imports import outgoing_handler
    from wit_world.imports import wasi_http_types as wit
except ImportError:
    outgoing_handler = wit = Err = None

#: Largest response body read, in bytes (pier bounds what a plugin may receive too).
MAX_BODY = 16 << 20


class HttpError(Exception):
    """A request that could not be made or answered; the message names pier's reason
    (e.g. `HttpRequestDenied` for a host outside the grants)."""


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return _json.loads(self.content)

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300


def request(method: str, url: str, headers: dict[str, str] | None = None, body: bytes | str | None = None) -> Response:
    """Sends one request and reads the whole response."""
    if outgoing_handler is None:
        raise HttpError("no outbound HTTP here: build the plugin for the world `pier-plugin-granted`")

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HttpError(f"not an http(s) URL: {url!r}")
    fields = wit.Fields.from_list([(k.lower(), v.encode()) for k, v in (headers or {}).items()])
    outgoing = wit.OutgoingRequest(fields)
    methods = {"GET": wit.Method_Get(), "POST": wit.Method_Post(), "PUT": wit.Method_Put(),
               "DELETE": wit.Method_Delete(), "PATCH": wit.Method_Patch(), "HEAD": wit.Method_Head()}
    outgoing.set_method(methods.get(method.upper(), wit.Method_Other(method.upper())))
    outgoing.set_scheme(wit.Scheme_Https() if parts.scheme == "https" else wit.Scheme_Http())
    outgoing.set_authority(parts.netloc)
    outgoing.set_path_with_query((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    try:
        if body is not None:
            data = body.encode() if isinstance(body, str) else bytes(body)
            outgoing_body = outgoing.body()
            stream = outgoing_body.write()
            for start in range(0, len(data), 4096):
                stream.blocking_write_and_flush(data[start:start + 4096])
            stream.__exit__(None, None, None)
            wit.OutgoingBody.finish(outgoing_body, None)
        future = outgoing_handler.handle(outgoing, None)
        while (outcome := future.get()) is None:
            future.subscribe().block()
        reply = outcome.value
        if isinstance(reply, Err):
            raise reply
        response = reply.value
        status = response.status()
        headers_out = {k: v.decode(errors="replace") for k, v in response.headers().entries()}
        incoming = response.consume()
        stream = incoming.stream()
        content = b""
        while True:
            try:
                content += stream.blocking_read(64 * 1024)
            except Err as e:
                if type(e.value).__name__.endswith("Closed"):
                    break
                raise
            if len(content) > MAX_BODY:
                raise HttpError(f"response body of {url} is larger than {MAX_BODY} bytes")
        stream.__exit__(None, None, None)
        wit.IncomingBody.finish(incoming)
        return Response(status, headers_out, content)
    except Err as e:
        raise HttpError(f"{method.upper()} {url}: {type(e.value).__name__}") from None


def get(url: str, headers: dict[str, str] | None = None) -> Response:
    return request("GET", url, headers)


def post(url: str, json: Any = None, body: bytes | str | None = None, headers: dict[str, str] | None = None) -> Response:
    """POSTs `json` (as JSON) or `body`."""
    if json is not None:
        headers = {"content-type": "application/json", **(headers or {})}
        body = _json.dumps(json)
    return request("POST", url, headers, body)
