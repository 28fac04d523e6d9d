"""Decoding of Stripe's form encoding (``items[0][price]=p``, ``expand[]=x``, ``metadata[k]=v``).

stripe-python 16 always indexes arrays (``expand[0]``); curl users write ``expand[]``. Both decode
to lists. A dict whose keys are all decimal indexes becomes a list ordered by index, like Stripe.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from ._errors import invalid

__all__ = ["decode_form"]

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


def decode_form(raw: str) -> dict[str, Any]:
    """Parse a query string or form body into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        m = _KEY.match(key)
        if not m:
            raise invalid(f"Invalid parameter name: {key}", param=key)
        parts = [m.group(1), *_PART.findall(m.group(2))]
        node: Any = root
        for i, part in enumerate(parts[:-1]):
            nxt = parts[i + 1]
            if part == "":
                # "a[][b]" appends a new dict unless the last one lacks key b (curl style).
                if not node["__append__"] or nxt in node["__append__"][-1]:
                    node["__append__"].append({})
                node = node["__append__"][-1]
                continue
            child = node.get(part)
            if not isinstance(child, dict):
                child = {"__append__": []} if nxt == "" else {}
                node[part] = child
            elif nxt == "" and "__append__" not in child:
                child["__append__"] = []
            node = child
        last = parts[-1]
        if last == "":
            node["__append__"].append(value)
        else:
            node[last] = value
    return _finish(root)


# Maps with free-form keys: "metadata[123]=x" is a key "123", never an array index.
_FREE_KEYS = frozenset({"metadata", "evidence", "payload"})


def _finish(node: Any, key: str | None = None) -> Any:
    if not isinstance(node, dict):
        return node
    appended = node.pop("__append__", None)
    if appended is not None:
        return [_finish(v) for v in appended] + [_finish(v) for _, v in sorted(_indexed(node))]
    if node and key not in _FREE_KEYS and all(k.isdigit() for k in node):
        return [_finish(v) for _, v in sorted(_indexed(node))]
    return {k: _finish(v, k) for k, v in node.items()}


def _indexed(node: dict[str, Any]) -> list[tuple[int, Any]]:
    out = []
    for k, v in node.items():
        if not k.isdigit():
            raise invalid(f"Invalid array index: {k}", param=k)
        out.append((int(k), v))
    return out
