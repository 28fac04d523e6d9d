"""Helpers shared by the handlers: required parameters, metadata, search wiring."""

from __future__ import annotations

from typing import Any

from .._errors import invalid, missing_param
from .._objects import metadata_update
from .._search import search
from .._state import Sandbox

Obj = dict[str, Any]

__all__ = ["require", "apply_metadata", "do_search", "Obj", "sget"]


def require(p: Obj, name: str) -> Any:
    value = p.get(name)
    if value is None or value == "":
        raise missing_param(name)
    return value


def apply_metadata(obj: Obj, p: Obj) -> None:
    if "metadata" in p:
        obj["metadata"] = metadata_update(obj.get("metadata"), p["metadata"])


def sget(p: Obj, *keys: str) -> Any:
    node: Any = p
    for k in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(k)
    return node


def do_search(sb: Sandbox, kind: str, p: Obj, *, url: str, resource: str) -> Obj:
    query = p.get("query")
    if not isinstance(query, str) or not query.strip():
        raise missing_param("query")
    return search(sb, kind, query, resource=resource, url=url, limit=p.get("limit", 10), page=p.get("page"))
