"""The tool registry: every tool's metadata, and ``--tools`` selection.

A tool is a plain function ``fn(call, *, <typed arguments>) -> dict[str, Any]`` declared with
:func:`tool`. Its selector is ``<resource>.<action>`` (``customers.create``); a selection is
``all`` or a comma-separated list of selectors, bare resources (every action of it) and tool
names. camelCase resources (``paymentLinks``, as in Stripe's toolkit) are accepted too.
``get_usage`` is always served: a caller can always see their own quota. Operator-only
resources (:data:`OPT_IN`: ``metrics``, which reports on every customer) are never part of
``all``; name them (``--tools all,metrics``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import ToolSelectionError

__all__ = ["ToolSpec", "tool", "all_specs", "select", "ALWAYS_ON", "OPT_IN"]

ALWAYS_ON = ("get_usage",)
OPT_IN = ("metrics",)

_SPECS: dict[str, ToolSpec] = {}


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """A tool's identity and behaviour, independent of any running server."""

    name: str
    resource: str
    action: str
    fn: Callable[..., dict[str, Any]]
    title: str
    permission: str  # what a restricted Stripe key needs, as Stripe's dashboard names it
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False
    open_world: bool = True
    stripe: bool = True  # False: served from UnifiedMCP's own data (no Stripe call)
    # For tools that need a human to confirm: the question to ask for these arguments, or None
    # when this particular call needs no confirmation (update_dispute without submit).
    confirm: Callable[[Mapping[str, Any]], str | None] | None = None

    @property
    def selector(self) -> str:
        return f"{self.resource}.{self.action}"

    @property
    def description(self) -> str:
        return inspect.cleandoc(self.fn.__doc__ or self.title)


def tool(
    name: str,
    *,
    resource: str,
    action: str,
    title: str,
    permission: str,
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = False,
    open_world: bool = True,
    stripe: bool = True,
    confirm: Callable[[Mapping[str, Any]], str | None] | None = None,
) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Declare a tool (module import time); the function stays callable as is."""

    def deco(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        if name in _SPECS:
            raise ValueError(f"tool {name!r} declared twice")
        _SPECS[name] = ToolSpec(
            name=name,
            resource=resource,
            action=action,
            fn=fn,
            title=title,
            permission=permission,
            read_only=read_only,
            destructive=destructive,
            idempotent=idempotent or read_only,
            open_world=open_world,
            stripe=stripe,
            confirm=confirm,
        )
        return fn

    return deco


def all_specs() -> list[ToolSpec]:
    """Every declared tool, in declaration order."""
    from . import _tools  # noqa: F401  (declares the tools)

    return list(_SPECS.values())


def _snake(word: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", word).lower()


def select(selection: str | Iterable[str] = "all") -> list[ToolSpec]:
    """The tools a ``--tools`` selection names (plus :data:`ALWAYS_ON`), in declaration order.

    Raises :class:`ToolSelectionError` for an entry that names nothing.
    """
    specs = all_specs()
    entries = [e.strip() for e in (selection.split(",") if isinstance(selection, str) else selection)]
    entries = [e for e in entries if e]
    if not entries:
        raise ToolSelectionError("", sorted({s.selector for s in specs}))
    chosen: set[str] = set(ALWAYS_ON)
    for entry in entries:
        if entry == "all":
            chosen.update(s.name for s in specs if s.resource not in OPT_IN)
            continue
        resource, _, action = entry.partition(".")
        resource = _snake(resource)
        hits = [
            s.name
            for s in specs
            if s.name == entry or (s.resource == resource and (not action or s.action == action))
        ]
        if not hits:
            known = sorted({s.selector for s in specs} | {s.resource for s in specs})
            raise ToolSelectionError(entry, known)
        chosen.update(hits)
    return [s for s in specs if s.name in chosen]
