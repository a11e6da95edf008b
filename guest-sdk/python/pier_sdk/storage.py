"""The plugin's own key-value storage (pier's `storage` interface): each plugin sees only
its own keys. Values are bytes; `get_json`/`set_json` keep JSON. A failure raises
`StorageError` with its kind (`invalid-key`, `quota-exceeded`, `unavailable`,
`unsupported`) and pier's reason.

```python
from pier_sdk import storage

visits = storage.increment("visits")
storage.set_json("last", {"city": "Oslo"}, ttl_ms=60_000)
```
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator

__all__ = [
    "StorageError",
    "get",
    "set",
    "delete",
    "list_page",
    "keys",
    "increment",
    "compare_and_set",
    "get_json",
    "set_json",
]


class StorageError(Exception):
    """A storage operation pier refused or could not do."""

    def __init__(self, kind: str, reason: str):
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


# Bound when the component is built; absent under CPython.
try:
    from componentize_py_types import Err
    from wit_world.imports import storage as _wit
except ImportError:
    _wit = Err = None


def _call(op: Callable[[Any], Any]) -> Any:
    if _wit is None:
        raise StorageError("unsupported", "no storage outside a pier plugin")
    try:
        return op(_wit)
    except Err as e:
        error = e.value
        kind = type(error).__name__.split("_")[-1]
        kinds = {"InvalidKey": "invalid-key", "QuotaExceeded": "quota-exceeded",
                 "Unavailable": "unavailable", "Unsupported": "unsupported"}
        raise StorageError(kinds.get(kind, kind), str(getattr(error, "value", error))) from None


def _bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def get(key: str) -> bytes | None:
    """The value under `key`, or `None`."""
    return _call(lambda s: s.get(key))


def set(key: str, value: bytes | str, ttl_ms: int | None = None) -> None:  # noqa: A001 - FastMCP-like naming
    """Stores `value` (text is stored as UTF-8) under `key`, expiring after `ttl_ms`."""
    _call(lambda s: s.set(key, _bytes(value), ttl_ms))


def delete(key: str) -> bool:
    """Removes `key`; whether it existed."""
    return _call(lambda s: s.delete(key))


def list_page(prefix: str = "", cursor: str | None = None) -> tuple[list[str], str | None]:
    """One page of the keys starting with `prefix`, and the cursor of the next page."""
    page = _call(lambda s: s.list_keys(prefix, cursor))
    return list(page.keys), page.next_cursor


def keys(prefix: str = "") -> Iterator[str]:
    """Every key starting with `prefix`, in order, page by page."""
    cursor = None
    while True:
        page, cursor = list_page(prefix, cursor)
        yield from page
        if cursor is None:
            return


def increment(key: str, by: int = 1) -> int:
    """Adds `by` to the integer under `key` (absent: 0), atomically; the new value."""
    return _call(lambda s: s.increment(key, by))


def compare_and_set(key: str, expected: bytes | str | None, new: bytes | str) -> bool:
    """Sets `key` to `new` only if it holds `expected` (`None`: absent); whether it did."""
    return _call(lambda s: s.compare_and_set(key, None if expected is None else _bytes(expected), _bytes(new)))


def get_json(key: str, default: Any = None) -> Any:
    """The JSON value under `key`, or `default`."""
    raw = get(key)
    return default if raw is None else json.loads(raw)


def set_json(key: str, value: Any, ttl_ms: int | None = None) -> None:
    """Stores `value` as JSON under `key`."""
    set(key, json.dumps(value, ensure_ascii=False), ttl_ms)
