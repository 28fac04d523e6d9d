"""The tool registry: every tool's metadata, and ``--tools`` selection.

A tool is a plain function ``fn(call, *, <typed arguments>) -> dict[str, Any]`` declared with
:func:`tool`. Its selector is ``<resource>.<action>`` (``customers.create``); a selection is
``all`` or a comma-separated list of selectors, bare resources (every action of it) and tool
names. camelCase resources (``paymentLinks``, as in Stripe's toolkit) are accepted too.
``get_usage`` is always served to customers: a caller can always see their own quota.
Operator-only resources (:data:`OPERATOR_ONLY`: ``metrics``, which reports on every customer)
are served only by operator servers, where ``all`` includes them; a customer-facing selection
that names one is refused (architecture.md, "Tenancy").
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import ToolSelectionError

__all__ = ["ToolSpec", "tool", "all_specs", "select", "ALWAYS_ON", "OPERATOR_ONLY"]

ALWAYS_ON = ("get_usage",)  # for customers
OPERATOR_ONLY = ("metrics",)

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


def select(selection: str | Iterable[str] = "all", *, role: str = "customer") -> list[ToolSpec]:
    """The tools a ``--tools`` selection names for a server of ``role``, in declaration order.

    Customers always get :data:`ALWAYS_ON`; operator-only tools are refused for them. Raises
    :class:`ToolSelectionError` for an entry that names nothing or that the role may not have.
    """
    specs = all_specs()
    customer = role == "customer"
    entries = [e.strip() for e in (selection.split(",") if isinstance(selection, str) else selection)]
    entries = [e for e in entries if e]
    if not entries:
        raise ToolSelectionError("", sorted({s.selector for s in specs}))
    chosen: set[str] = set(ALWAYS_ON) if customer else set()
    for entry in entries:
        if entry == "all":
            chosen.update(s.name for s in specs if not (customer and s.resource in OPERATOR_ONLY))
            continue
        resource, _, action = entry.partition(".")
        resource = _snake(resource)
        hits = [
            s
            for s in specs
            if s.name == entry or (s.resource == resource and (not action or s.action == action))
        ]
        if not hits:
            known = sorted({s.selector for s in specs} | {s.resource for s in specs})
            raise ToolSelectionError(entry, known)
        if customer and any(s.resource in OPERATOR_ONLY for s in hits):
            raise ToolSelectionError(
                entry, [], reason="is an operator-only tool; a customer-facing server never serves it "
                "(serve it with `unifiedmcp mcp --operator` or `unifiedmcp serve --operator`)"
            )
        chosen.update(s.name for s in hits)
    if not customer:
        chosen.difference_update(ALWAYS_ON)  # the operator has no quota of its own
    return [s for s in specs if s.name in chosen]
