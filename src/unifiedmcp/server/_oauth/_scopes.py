"""OAuth scopes of the MCP server: read-only tools vs. write tools.

``mcp:read`` allows the read-only tools (``readOnlyHint``), resources and prompts; ``mcp:write``
allows every tool. A token with ``mcp:read`` alone calling a write tool is refused, unmetered,
with ``insufficient_scope``. API keys hold both.
"""

from __future__ import annotations

from collections.abc import Collection

__all__ = ["READ", "WRITE", "SCOPES", "allows"]

READ = "mcp:read"
WRITE = "mcp:write"
SCOPES = (READ, WRITE)


def allows(scopes: Collection[str], *, read_only: bool) -> bool:
    """Whether a token with ``scopes`` may call a tool (``read_only`` or not)."""
    return WRITE in scopes or (read_only and READ in scopes)
