"""Small display objects for notebooks: headline numbers and alerts.

Each renders as HTML in JupyterLab and the published page, and as stable plain text, which is
what ``nbval`` compares on cells marked ``# NBVAL_CHECK_OUTPUT``.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

__all__ = ["Alerts", "KPIs"]


class KPIs:
    """Labelled, already formatted headline numbers: ``KPIs("Usage, 2026-10", {"calls": "1,234"})``."""

    def __init__(self, title: str, values: Mapping[str, str]) -> None:
        self.title = title
        self.values = dict(values)

    def __repr__(self) -> str:
        width = max((len(k) for k in self.values), default=0)
        return "\n".join([self.title, *(f"  {k.ljust(width)}  {v}" for k, v in self.values.items())])

    def _repr_html_(self) -> str:
        cards = "".join(
            '<div style="border:1px solid #ddd;border-radius:6px;padding:.5rem .9rem;min-width:11rem">'
            f'<div style="color:#666;font-size:.8rem">{escape(k)}</div>'
            f'<div style="font-size:1.3rem;font-weight:600">{escape(v)}</div></div>'
            for k, v in self.values.items()
        )
        return (f"<h3>{escape(self.title)}</h3>"
                f'<div style="display:flex;flex-wrap:wrap;gap:.6rem">{cards}</div>')


class Alerts:
    """Alert lines (empty: all clear), shown in red; ``bool(alerts)`` is True when any fired."""

    def __init__(self, alerts: list[str], *, ok: str = "No alert.") -> None:
        self.alerts = list(alerts)
        self.ok = ok

    def __bool__(self) -> bool:
        return bool(self.alerts)

    def __repr__(self) -> str:
        return "\n".join(f"ALERT: {a}" for a in self.alerts) if self.alerts else self.ok

    def _repr_html_(self) -> str:
        if not self.alerts:
            return f'<div style="color:#1a7f37;font-weight:600">{escape(self.ok)}</div>'
        items = "".join(f"<li>{escape(a)}</li>" for a in self.alerts)
        return ('<div style="border:2px solid #cf222e;background:#ffebe9;border-radius:6px;padding:.6rem 1rem">'
                f'<strong style="color:#cf222e">ALERT</strong><ul style="margin:.3rem 0">{items}</ul></div>')
