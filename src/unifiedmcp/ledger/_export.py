"""Export a month of usage events in the usage-log format of metrics.md §1, with the tier each
call was admitted under (``tier``; empty for calls recorded before the ledger kept it)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Literal

from .._files import writing
from ..errors import InvalidInput
from ..months import Month
from ._ledger import Ledger

__all__ = ["USAGE_COLUMNS", "ExportFormat", "export_usage"]

ExportFormat = Literal["csv", "jsonl", "parquet"]
USAGE_COLUMNS = ("event_id", "customer_id", "tool_name", "timestamp", "status", "user_id", "latency_ms", "tier")


def export_usage(ledger: Ledger, *, month: Month, format: str, out: Path | None = None) -> int:
    """Write ``month``'s usage events to ``out`` (stdout for csv/jsonl when None). Returns the row count."""
    if format not in ("csv", "jsonl", "parquet"):
        raise InvalidInput(f"unknown format {format!r}: choose csv, jsonl or parquet")
    if format == "parquet" and out is None:
        raise InvalidInput("parquet needs --out PATH (it cannot be written to a terminal)")
    rows = [r[1:] for r in ledger.usage_events(month=month)]
    if format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = list(zip(*rows, strict=True)) if rows else [[] for _ in USAGE_COLUMNS]
        schema = pa.schema(
            [(c, pa.float64() if c == "latency_ms" else pa.string()) for c in USAGE_COLUMNS]
        )
        table = pa.table({c: pa.array(v, type=schema.field(c).type) for c, v in zip(USAGE_COLUMNS, columns)})
        with writing(out):
            pq.write_table(table, out)
        return len(rows)
    with writing(out):
        handle = open(out, "w", newline="", encoding="utf-8") if out else sys.stdout
        try:
            if format == "csv":
                writer = csv.writer(handle)
                writer.writerow(USAGE_COLUMNS)
                writer.writerows(rows)
            else:
                for row in rows:
                    handle.write(json.dumps(dict(zip(USAGE_COLUMNS, row)), separators=(",", ":")) + "\n")
        finally:
            if out:
                handle.close()
    return len(rows)
