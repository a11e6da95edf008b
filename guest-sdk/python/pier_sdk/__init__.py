"""pier's Python SDK: a FastMCP server file becomes a pier plugin by changing its
import line (`from pier_sdk import FastMCP`)."""

from .content import Audio, File, Image
from .context import Context
from .schema import Field
from .server import FastMCP, NotFoundError, Plugin, ToolError

__all__ = ["FastMCP", "Plugin", "Context", "ToolError", "NotFoundError", "Image", "Audio", "File", "Field"]
