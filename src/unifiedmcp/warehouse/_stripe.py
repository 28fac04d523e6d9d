"""Loading Stripe objects from JSON Lines exports (metrics.md §1).

One file per object type (``customers.jsonl``, ``invoices.jsonl``, ...), one object per line, as
``obj.to_dict()`` gives it. Loading is idempotent: an id already in the warehouse is replaced by
the copy with the later ``created`` (ties: the later one in file order, and a later load comes
after an earlier one); nothing is duplicated. Lines that are not a JSON object of the expected
type with an ``id`` are rejected, counted and kept in ``stripe_rejects`` with their line numbers.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from .._files import input_file
from ..errors import WarehouseError
from ._db import STRIPE_TYPES, Warehouse, open_warehouse, rebuild_typed
from ._lines import read_lines

__all__ = ["FileLoad", "StripeLoad", "load_stripe", "load_stripe_file", "load_stripe_objects"]

_MAX_LISTED = 100  # rejected lines and truncated ids kept in a report, per file

# Each line is parsed at most three times: validated, typed, and its header fields read at once.
STAGE_SQL = """
CREATE OR REPLACE TEMP TABLE _stripe_staged AS
WITH v AS (
    SELECT line_no, line, json_valid(line) AS valid
    FROM _stripe_lines
    WHERE line IS NOT NULL AND trim(line) <> ''
),
h AS (
    SELECT line_no, line, valid,
           CASE WHEN valid THEN json_type(line) END AS jtype,
           CASE WHEN valid THEN from_json(line, '{"id": "VARCHAR", "object": "VARCHAR", "created": "BIGINT",
               "lines": {"has_more": "BOOLEAN"}, "items": {"has_more": "BOOLEAN"}}') END AS hd
    FROM v
)
SELECT
    line_no,
    line,
    CASE
        WHEN NOT valid THEN 'invalid JSON'
        WHEN jtype <> 'OBJECT' THEN 'not a JSON object'
        WHEN coalesce(hd.id, '') = '' THEN 'no id'
        WHEN hd.object IS NOT NULL AND hd.object <> $object_type
            THEN 'object is ' || hd.object || ', expected ' || $object_type
    END AS reason,
    hd.id AS id,
    hd.created AS created,
    -- a list inside the object cut short: invoice `lines`, subscription `items`
    coalesce(CASE $object_type WHEN 'invoice' THEN hd.lines.has_more
                               WHEN 'subscription' THEN hd.items.has_more END, false) AS truncated
FROM h
"""

# The winning copy per id in this file (latest `created`, then last line), against the stored copy.
WINNERS_SQL = """
CREATE OR REPLACE TEMP TABLE _stripe_winners AS
SELECT w.id, w.created, w.line, w.line_no, w.copies, w.truncated,
       r.id IS NOT NULL AS existed,
       coalesce(r.id IS NOT NULL AND w.created < r.created, false) AS stale
FROM (
    SELECT id, created, line, line_no, truncated, count(*) OVER (PARTITION BY id) AS copies
    FROM _stripe_staged
    WHERE reason IS NULL
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY created DESC NULLS LAST, line_no DESC) = 1
) w
LEFT JOIN {raw} r ON r.id = w.id
"""

COUNTS_SQL = """
SELECT
    count(*) FILTER (WHERE NOT existed),
    coalesce(sum(CASE WHEN NOT existed THEN copies - 1 WHEN NOT stale THEN copies ELSE 0 END), 0),
    coalesce(sum(copies) FILTER (WHERE stale), 0)
FROM _stripe_winners
"""

APPLY_SQL = """
DELETE FROM {raw} WHERE id IN (SELECT id FROM _stripe_winners WHERE existed AND NOT stale);
INSERT INTO {raw} (id, created, data, source, loaded_at)
SELECT id, created, CAST(line AS JSON), $source, now()::TIMESTAMP FROM _stripe_winners WHERE NOT stale ORDER BY line_no;
"""

TRUNCATED_SQL = "SELECT id FROM _stripe_winners WHERE NOT stale AND truncated ORDER BY id"


@dataclass(frozen=True)
class FileLoad:
    """What loading one JSON Lines file did."""

    object_type: str
    path: Path
    loaded: int  # ids new to the warehouse
    replaced: int  # copies that replaced an older copy of the same id
    rejected: int  # lines that are not a valid object of this type
    stale: int = 0  # copies older (by `created`) than the one already stored: ignored
    rejected_lines: tuple[tuple[int, str], ...] = ()  # (line number, reason), the first 100
    truncated: tuple[str, ...] = ()  # ids whose `lines` / `items` list has has_more: true
    truncated_count: int = 0


@dataclass(frozen=True)
class StripeLoad:
    """What a ``load-stripe`` run did, per file and in total."""

    files: tuple[FileLoad, ...] = field(default=())

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def replaced(self) -> int:
        return sum(f.replaced for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def stale(self) -> int:
        return sum(f.stale for f in self.files)

    @property
    def truncated(self) -> int:
        return sum(f.truncated_count for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "loaded": self.loaded,
            "replaced": self.replaced,
            "rejected": self.rejected,
            "stale": self.stale,
            "truncated_lists": self.truncated,
            "files": [
                {
                    "object": f.object_type,
                    "path": str(f.path),
                    "loaded": f.loaded,
                    "replaced": f.replaced,
                    "rejected": f.rejected,
                    "stale": f.stale,
                    "rejected_lines": [list(x) for x in f.rejected_lines],
                    "truncated": list(f.truncated),
                    "truncated_count": f.truncated_count,
                }
                for f in self.files
            ],
        }


def _load_file(
    con: duckdb.DuckDBPyConnection, path: Path, object_type: str, *, source: str
) -> FileLoad:
    raw = STRIPE_TYPES[object_type][1]
    refused = read_lines(con, path, target="_stripe_lines")
    con.execute(STAGE_SQL, {"object_type": object_type})
    rejected = con.execute(
        "SELECT line_no, reason FROM _stripe_staged WHERE reason IS NOT NULL ORDER BY line_no"
    ).fetchall()
    rejected_all = sorted([(int(n), str(r)) for n, r in rejected] + refused)
    con.execute(WINNERS_SQL.format(raw=raw))
    loaded, replaced, stale = (int(x) for x in con.execute(COUNTS_SQL).fetchall()[0])
    truncated = [r[0] for r in con.execute(TRUNCATED_SQL).fetchall()]
    con.execute(APPLY_SQL.format(raw=raw), {"source": source})
    con.execute("DELETE FROM stripe_rejects WHERE source = ?", [source])
    if rejected_all:
        con.executemany(
            "INSERT INTO stripe_rejects VALUES (?, ?, ?, now()::TIMESTAMP)",
            [(source, n, r) for n, r in rejected_all],
        )
    con.execute("DROP TABLE _stripe_lines; DROP TABLE _stripe_staged; DROP TABLE _stripe_winners")
    return FileLoad(
        object_type=object_type,
        path=path,
        loaded=loaded,
        replaced=replaced,
        rejected=len(rejected_all),
        stale=stale,
        rejected_lines=tuple(rejected_all[:_MAX_LISTED]),
        truncated=tuple(truncated[:_MAX_LISTED]),
        truncated_count=len(truncated),
    )


def _log(con: duckdb.DuckDBPyConnection, kind: str, source: str, result: StripeLoad) -> None:
    con.execute(
        "INSERT INTO load_log VALUES (now()::TIMESTAMP, ?, ?, ?, ?, ?, ?)",
        [kind, source, result.loaded, result.replaced, result.rejected, json.dumps(result.as_dict())],
    )


def load_stripe_file(
    warehouse: Warehouse, path: str | Path, *, object_type: str, source: str | None = None,
    rebuild: bool = True,
) -> StripeLoad:
    """Load one JSON Lines file of ``object_type`` objects (e.g. ``"invoice"``).

    ``rebuild=False`` only stores the raw objects; the caller then calls :func:`rebuild_typed`
    once (the sync does, after many pages).
    """
    if object_type not in STRIPE_TYPES:
        raise WarehouseError(
            f"unknown Stripe object type {object_type!r}; known: {', '.join(STRIPE_TYPES)}", path=path
        )
    path = input_file(Path(path))
    with open_warehouse(warehouse) as con:
        con.execute("BEGIN")
        try:
            result = StripeLoad((_load_file(con, path, object_type, source=source or str(path)),))
            if rebuild:
                rebuild_typed(con, [object_type])
            _log(con, "stripe", source or str(path), result)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return result


def load_stripe(warehouse: Warehouse, directory: str | Path) -> StripeLoad:
    """Load every ``<type>s.jsonl`` (or ``.jsonl.gz``) file in ``directory`` (metrics.md §1), in one transaction.

    Files are loaded in dependency order (products, prices, customers, subscriptions, invoices,
    charges, payment intents, refunds, events); missing files are skipped.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise WarehouseError(f"not a directory: {directory}", path=directory)
    present = []
    for t, spec in STRIPE_TYPES.items():
        for name in (spec[0], spec[0] + ".gz"):  # gzip-compressed exports are read as they are
            if (directory / name).is_file():
                present.append((t, directory / name))
    if not present:
        names = ", ".join(spec[0] for spec in STRIPE_TYPES.values())
        raise WarehouseError(f"no Stripe JSON Lines files in {directory} (expected any of {names})", path=directory)
    with open_warehouse(warehouse) as con:
        con.execute("BEGIN")
        try:
            files = tuple(_load_file(con, p, t, source=str(p.resolve())) for t, p in present)
            rebuild_typed(con, [t for t, _ in present])
            result = StripeLoad(files)
            _log(con, "stripe", str(directory.resolve()), result)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return result


def _json_default(value: Any) -> Any:
    # stripe-python's to_dict() keeps Stripe's decimal strings (e.g. unit_amount_decimal) as Decimal.
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def load_stripe_objects(
    warehouse: Warehouse,
    objects: Iterable[Mapping[str, Any]],
    *,
    object_type: str,
    source: str,
    rebuild: bool = True,
) -> StripeLoad:
    """Load Stripe objects given as dicts (e.g. from the API) through the same path as files."""
    with tempfile.TemporaryDirectory(prefix="unifiedmcp-load-") as tmp:
        path = Path(tmp) / STRIPE_TYPES[object_type][0]
        with path.open("w", encoding="utf-8") as fh:
            for obj in objects:
                fh.write(json.dumps(obj, separators=(",", ":"), default=_json_default))
                fh.write("\n")
        return load_stripe_file(warehouse, path, object_type=object_type, source=source, rebuild=rebuild)
