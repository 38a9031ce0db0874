"""symlora — a Python client for symlorad (standard library only).

The library is symlora.client (Client, APIError, ...); the `symlora` command is symlora.cli.
"""
from .client import (DEFAULT_URL, AdapterDirError, APIError, Client, ConnectionFailed, Error, Pushed, chunk_reasoning,
                     chunk_text, function_tool, json_schema_format, sse_data, tool_calls)

__all__ = ["Client", "Error", "APIError", "ConnectionFailed", "AdapterDirError", "Pushed", "chunk_text",
           "chunk_reasoning", "function_tool", "json_schema_format", "tool_calls", "sse_data", "DEFAULT_URL"]
__version__ = "0.1.0"
