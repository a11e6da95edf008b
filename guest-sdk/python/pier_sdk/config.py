"""The plugin's configuration: the `[config]` of its sidecar and the secrets the operator
gives it (`[secrets.NAME]` in pier.toml), through `wasi:config/store`.

```python
from pier_sdk import config

greeting = config.get("greeting", "hello")
token = config.require("token")
```
"""

from __future__ import annotations

from typing import Any

__all__ = ["ConfigError", "get", "require", "all"]


# Bound when the component is built; absent under CPython and under `pier-plugin`.
try:
    from componentize_py_types import Err
    from wit_world.imports import store
except ImportError:
    store = Err = None


class ConfigError(Exception):
    """A key that is required but not set, or a store that failed."""


def _call(op: Any) -> Any:
    if store is None:
        raise ConfigError("no configuration here: build the plugin for the world `pier-plugin-granted`")
    try:
        return op(store)
    except Err as e:
        raise ConfigError(f"configuration: {getattr(e.value, 'value', e.value)}") from None


def get(key: str, default: str | None = None) -> str | None:
    """The value of `key`, or `default`."""
    value = _call(lambda s: s.get(key))
    return default if value is None else value


def require(key: str) -> str:
    """The value of `key`; `ConfigError` naming it when it is not set."""
    value = get(key)
    if value is None:
        raise ConfigError(f"configuration key `{key}` is not set (the sidecar's [config] or the operator's secrets)")
    return value


def all() -> dict[str, str]:  # noqa: A001 - the store's own name
    """Every key and value."""
    return dict(_call(lambda s: s.get_all()))
