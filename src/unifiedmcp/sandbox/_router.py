"""Route table of the Stripe API surface: ``@route("POST", "/v1/customers/{id}")``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["route", "resolve", "routes", "Handler"]

Handler = Callable[..., Any]
_ROUTES: list[tuple[str, re.Pattern[str], Handler, int, str]] = []
# Routes by their resource segment (/v1/<segment>/...), so a lookup scans a handful, not all.
_BY_SEGMENT: dict[str, list[tuple[str, re.Pattern[str], Handler, int, str]]] = {}


def _segment(path: str) -> str:
    parts = path.split("/", 3)
    return parts[2] if len(parts) > 2 else ""


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register ``handler(sb, params, **path_args)`` for ``method path``."""

    def deco(fn: Handler) -> Handler:
        pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")
        literal = len(re.sub(r"\{\w+\}", "", path))
        _ROUTES.append((method, pattern, fn, literal, path))
        # Literal segments win over parameters (/v1/customers/search before /v1/customers/{id}).
        _ROUTES.sort(key=lambda r: -r[3])
        _BY_SEGMENT.clear()
        for r in _ROUTES:
            _BY_SEGMENT.setdefault(_segment(r[4]), []).append(r)
        return fn

    return deco


def resolve(method: str, path: str) -> tuple[Handler, dict[str, str], str] | None | bool:
    """``(handler, path_args, template)``; ``False`` if the path exists for another method; else ``None``."""
    other = False
    for m, pattern, fn, _, template in _BY_SEGMENT.get(_segment(path), ()):
        match = pattern.match(path)
        if match:
            if m == method:
                return fn, match.groupdict(), template
            other = True
    return False if other else None


def routes() -> list[tuple[str, str]]:
    """``(method, template)`` of every registered route."""
    return [(m, template) for m, _, _, _, template in _ROUTES]
