"""`Context`: what a tool may ask of the request that called it, with FastMCP's method
names. A parameter hinted `Context` receives it (and is left out of the tool's input
schema).

The calls go to a host: in a component, pier's `context` interface; in tests, any
object with the same methods (`log`, `report_progress`, `request_info`).
"""

from __future__ import annotations

from typing import Any

from .content import dump_json

__all__ = ["Context"]

LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


class Context:
    """The request context of one call."""

    def __init__(self, host: Any):
        self._host = host

    # --- logging: notifications/message to the client, and pier's log ----------

    def log(self, message: str, level: str = "info", logger_name: str | None = None,
            extra: dict[str, Any] | None = None) -> None:
        if level not in LEVELS:
            raise ValueError(f"unknown log level {level!r}: one of {', '.join(LEVELS)}")
        data: dict[str, Any] = {}
        if logger_name is not None:
            data["logger"] = logger_name
        if extra:
            data["extra"] = extra
        self._host.log(level, message, dump_json(data) if data else None)

    def debug(self, message: str, logger_name: str | None = None, extra: dict[str, Any] | None = None) -> None:
        self.log(message, "debug", logger_name, extra)

    def info(self, message: str, logger_name: str | None = None, extra: dict[str, Any] | None = None) -> None:
        self.log(message, "info", logger_name, extra)

    def warning(self, message: str, logger_name: str | None = None, extra: dict[str, Any] | None = None) -> None:
        self.log(message, "warning", logger_name, extra)

    def error(self, message: str, logger_name: str | None = None, extra: dict[str, Any] | None = None) -> None:
        self.log(message, "error", logger_name, extra)

    def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """`notifications/progress`, when the client asked for progress."""
        self._host.report_progress(float(progress), None if total is None else float(total), message)

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
