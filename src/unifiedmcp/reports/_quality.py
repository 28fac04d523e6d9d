"""The data-quality gate a report run passes before anything is published.

Errors (nothing is published, exit 1): a table a chosen report needs is missing (an export
directory: its input file), the month has not ended (unless partial months are allowed, which
then stamps "partial month" on every page), or the month lies before or after all the data.
Warnings (a banner on every page; with ``strict``, errors of their own, exit 2): a needed table
holds nothing for the month, the loaders rejected more than ``max_rejected_share`` of an input's
lines or rows, lists were cut short (``has_more``), or the data stops short of the month's end.
Every page states when it was generated and how far the data runs.

The checks read the warehouse file with a plain read-only connection before anything else opens
it, because the warehouse code would otherwise create (empty) the tables it finds missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import duckdb

from ..errors import UnifiedMCPError
from ..metrics import data_span
from ..metrics._context import month_params
from ..months import Month
from ._data import USAGE_PATTERNS
from ._sql import sql_text

__all__ = ["REQUIRED_TABLES", "DataCheck", "DataQualityError", "check_data"]

# The tables each report reads (the ops report reads the ledger, which is optional).
REQUIRED_TABLES: dict[str, tuple[str, ...]] = {
    "usage": ("usage_events",),
    "revenue_churn": ("invoices", "invoice_lines", "subscriptions"),
    "payments": ("charges", "invoices"),
    "overages": ("usage_events", "invoice_lines"),
    "customers": ("customers", "invoice_lines", "subscriptions", "charges"),
    "ops": (),
}
# In an export directory, the input each table comes from.
_INPUTS = {"usage_events": "a usage file (usage*.csv, .jsonl or .parquet)", "invoices": "invoices.jsonl",
           "invoice_lines": "invoices.jsonl", "subscriptions": "subscriptions.jsonl", "charges": "charges.jsonl",
           "customers": "customers.jsonl"}
# What "data for the month" means per table, for the warning when there is none.
_IN_MONTH = {
    # Daily totals count too: retention rolls old months' events up into them (docs/privacy.md).
    "usage_events": ("SELECT (SELECT count(*) FROM usage_events WHERE ts >= $m_start AND ts < $m_next)"
                     " + (SELECT count(*) FROM usage_daily WHERE day >= $m_start AND day < $m_next)", "usage events"),
    "charges": ("SELECT count(*) FROM charges WHERE created >= $m_start AND created < $m_next", "charges"),
    "invoice_lines": ("SELECT count(*) FROM revenue_lines WHERE cover_start < $m_next AND cover_end > $m_start",
                      "subscription revenue"),
}
STALE_AFTER = timedelta(days=1)  # data ending earlier than this before the month's end is stale


class DataQualityError(UnifiedMCPError):
    """The data cannot be published: ``problems`` (one line each), the ``tables`` concerned, and
    the ``exit_code`` the CLI uses (1: an error; 2: warnings refused by ``strict``)."""

    def __init__(self, problems: Sequence[str], *, tables: Iterable[str] = (), exit_code: int = 1) -> None:
        self.problems = tuple(problems)
        self.tables = tuple(tables)
        self.exit_code = exit_code
        kind = "data-quality warning(s) refused by --strict" if exit_code == 2 else "cannot publish"
        super().__init__(f"{kind}: " + "; ".join(self.problems))


@dataclass(frozen=True)
class DataCheck:
    """What the gate found for a month: when the run was generated, how far the data runs,
    whether the month is partial, and the warnings every page shows."""

    month: Month
    generated_at: datetime
    data_time: datetime | None
    partial: bool
    warnings: tuple[str, ...] = ()

    def header_html(self) -> str:
        """The stamp (generation and data time, partial month) and the warnings banner."""
        data = "no data" if self.data_time is None else f"{self.data_time:%Y-%m-%d %H:%M} UTC"
        stamp = (f"Generated {self.generated_at:%Y-%m-%d %H:%M} UTC &middot; data runs to {escape(data)} "
                 f"&middot; month {self.month}")
        if self.partial:
            stamp += ' &middot; <strong>partial month</strong>: the month has not ended'
        html = f'<div class="umcp-stamp" style="{_STAMP_STYLE}">{stamp}</div>'
        if self.warnings:
            items = "".join(f"<li>{escape(w)}</li>" for w in self.warnings)
            html += (f'<div class="umcp-banner" role="alert" style="{_BANNER_STYLE}"><strong>Data warnings</strong>'
                     f'<ul style="margin:.3rem 0">{items}</ul></div>')
        return html


_STAMP_STYLE = "font:13px system-ui,sans-serif;color:#555;padding:.4rem 1rem;border-bottom:1px solid #ddd"
_BANNER_STYLE = ("font:14px system-ui,sans-serif;border:2px solid #b35900;background:#fff4e5;border-radius:6px;"
                 "padding:.6rem 1rem;margin:.6rem 1rem")


def _tables(path: Path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    finally:
        con.close()


def _missing_inputs(directory: Path, needed: set[str]) -> list[str]:
    have = {"usage_events"} if any(next(directory.glob(p), None) for p in USAGE_PATTERNS) else set()
    for table, name in _INPUTS.items():
        if name.endswith(".jsonl") and ((directory / name).exists() or (directory / f"{name}.gz").exists()):
            have.add(table)
    return sorted(needed - have)


def check_data(
    source: str | Path, data: duckdb.DuckDBPyConnection, month: Month | str, *, reports: Sequence[str],
    allow_partial: bool = False, max_rejected_share: float = 0.001, now: datetime | None = None,
) -> DataCheck:
    """Check ``data`` (a connection to the warehouse loaded from ``source``, a file or an export
    directory) for publishing ``reports`` of ``month``; raise :class:`DataQualityError` on an
    error, return the :class:`DataCheck` (with its warnings) otherwise."""
    m = Month.coerce(month)
    now = now or datetime.now(UTC)
    source = Path(source)
    needed = {t for name in reports for t in REQUIRED_TABLES.get(name, ())}
    missing = _missing_inputs(source, needed) if source.is_dir() else sorted(needed - _tables(source))
    if missing:
        users = {t: [r for r in reports if t in REQUIRED_TABLES.get(r, ())] for t in missing}
        where = "in" if source.is_dir() else "from"
        problems = [f"table {t} is missing {where} {source}"
                    + (f" (no {_INPUTS[t]})" if source.is_dir() else "") + f"; needed by {', '.join(users[t])}"
                    for t in missing]
        raise DataQualityError(problems, tables=missing)
    span = data_span(data)
    if m.start > now:
        raise DataQualityError([f"{m} has not begun (it is {now:%Y-%m-%d %H:%M} UTC)"])
    partial = m.end > now
    if partial and not allow_partial:
        raise DataQualityError([f"{m} has not ended (it is {now:%Y-%m-%d %H:%M} UTC): pick a complete month, "
                                "or pass --allow-partial to publish it stamped as a partial month"])
    if span.first is None or span.last is None:
        raise DataQualityError([f"the warehouse at {source} holds no data"])
    if m.end <= span.first:
        raise DataQualityError([f"{m} is before the data, which starts {span.first:%Y-%m-%d}"])
    if m.start > span.last:
        raise DataQualityError([f"{m} is after the data, which runs to {span.last:%Y-%m-%d %H:%M} UTC"])
    warnings = _empty_tables(data, m, needed) + _rejects(data, max_rejected_share) + _truncated(data)
    warnings += _stale(span.stripe_last, span.usage_last, m, now=now, usage=bool(needed & {"usage_events"}))
    return DataCheck(month=m, generated_at=now, data_time=span.last, partial=partial, warnings=tuple(warnings))


def _empty_tables(data: duckdb.DuckDBPyConnection, m: Month, needed: set[str]) -> list[str]:
    out = []
    for table, (sql, what) in _IN_MONTH.items():
        if table in needed and data.execute(sql, month_params(m)).fetchone()[0] == 0:
            out.append(f"no {what} in {m} (table {table})")
    return out


def _rejects(data: duckdb.DuckDBPyConnection, limit: float) -> list[str]:
    out = []
    for kind, rejected, loaded in data.execute(sql_text("quality_rejects.sql")).fetchall():
        share = rejected / (rejected + loaded) if rejected + loaded else 0.0
        if rejected and share > limit:
            what = "usage rows" if kind == "usage" else f"{kind} objects"
            out.append(f"{rejected:,} of {rejected + loaded:,} {what} were rejected by the loader ({share:.1%}, "
                       f"above {limit:.1%}): the numbers built on them are incomplete")
    return out


def _truncated(data: duckdb.DuckDBPyConnection) -> list[str]:
    n = data.execute("SELECT count(*) FROM truncated_lists").fetchone()[0]
    if not n:
        return []
    return [f"{n:,} invoice or subscription list(s) were cut short (has_more): re-export them in full; MRR "
            "built on them is low"]


def _stale(stripe_last: datetime | None, usage_last: datetime | None, m: Month, *, now: datetime,
           usage: bool) -> list[str]:
    due = min(m.end, now) - STALE_AFTER
    out = []
    if stripe_last is not None and stripe_last < due:
        out.append(f"the Stripe data runs to {stripe_last:%Y-%m-%d %H:%M} UTC, short of {m}'s end: "
                   "sync or load the latest objects")
    if usage and usage_last is not None and usage_last < due:
        out.append(f"the usage data runs to {usage_last:%Y-%m-%d %H:%M} UTC, short of {m}'s end: "
                   "pull or load the latest usage")
    return out
