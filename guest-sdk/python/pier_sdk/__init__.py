"""pier's Python SDK: a FastMCP server file becomes a pier plugin by changing its
import line (`from pier_sdk import FastMCP`)."""

from . import config, http, storage
from .content import Audio, File, Image
from .context import Context
from .prompts import Message
from .resources import ResourceError
from .schema import Field
from .server import (
    Completion,
    CompletionArgument,
    FastMCP,
    NotFoundError,
    Plugin,
    PromptReference,
    ResourceTemplateReference,
    ToolError,
)

__all__ = [
    "FastMCP",
    "Plugin",
    "Context",
    "ToolError",
    "ResourceError",
    "NotFoundError",
    "Message",
    "Image",
    "Audio",
    "File",
    "Field",
    "storage",
    "config",
    "http",
    "Completion",
    "CompletionArgument",
    "PromptReference",
    "ResourceTemplateReference",
]
