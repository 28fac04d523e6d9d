"""``export``: everything the toolkit holds about a customer, as one zip archive.

Layout: ``manifest.json`` (the customer, when, and one entry per place with its row count and
files), then per store and place a ``.json`` file (a list of objects) and a ``.csv`` file (the
same rows; nested values as JSON text): ``ledger/customers.json``, ``warehouse/raw_invoices.csv``,
``reports/files.json`` (the published files that name the customer), ... Key hashes, encrypted
credentials, OAuth state and token hashes are never exported (``_ledger_store._EXPORT``).

The archive is written next to ``out`` under a temporary name (mode 0600: it is personal data)
and renamed when complete: a failed export leaves nothing behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from .._files import writing
from ..errors import OutputError, UnknownCustomer
from ._erase import stores
from ._registry import Places
from ._subject import Subject, check_customer_id

__all__ = ["ExportResult", "export_customer"]

FORMAT = "unifiedmcp-privacy-export/1"


@dataclass(frozen=True)
class ExportResult:
    path: Path
    places: dict[str, int]  # "store/place" -> rows


class _ZipSink:
    """Writes each place as JSON and CSV into the archive and remembers it for the manifest."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.entries: list[dict[str, Any]] = []

    def rows(self, store: str, place: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self._write(store, place, list(columns), [dict(zip(columns, r, strict=True)) for r in rows])

    def objects(self, store: str, place: str, objects: Sequence[dict[str, Any]]) -> None:
        columns = list(dict.fromkeys(k for o in objects for k in o))
        self._write(store, place, columns, list(objects))

    def _write(self, store: str, place: str, columns: list[str], records: list[dict[str, Any]]) -> None:
        base = f"{store}/{place.replace(os.sep, '/')}"
        self.archive.writestr(base + ".json", json.dumps(records, indent=1, ensure_ascii=False, default=str))
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(columns)
        writer.writerows([_cell(r.get(c)) for c in columns] for r in records)
        self.archive.writestr(base + ".csv", text.getvalue())
        self.entries.append({"store": store, "place": place, "rows": len(records),
                             "json": base + ".json", "csv": base + ".csv"})


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def export_customer(customer_id: str, *, places: Places, out: Path) -> ExportResult:
    """Write everything held about ``customer_id`` to the zip archive ``out``.

    :class:`UnknownCustomer` when no store holds anything about it; :class:`OutputError` when
    ``out`` cannot be written. Either way nothing is written.
    """
    check_customer_id(customer_id)
    every = stores(places)
    terms = set().union(*(store.terms(customer_id) for store in every.values()))
    subject = Subject(customer_id, None, frozenset(terms))
    if not any(store.find(subject) for store in every.values()):
        raise UnknownCustomer(customer_id)
    out = Path(out)
    if out.is_dir():
        raise OutputError(out, reason="it is a directory")
    with writing(out):
        fd, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            sink = _ZipSink(archive)
            for store in every.values():
                store.export(subject, sink)
            manifest = {
                "format": FORMAT,
                "customer": customer_id,
                "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "toolkit": f"unifiedmcp {__version__}",
                "notes": "One JSON and one CSV file per place (the same rows). Never exported: API key and "
                         "token hashes, encrypted connection credentials, OAuth states.",
                "files": sink.entries,
            }
            archive.writestr("manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False))
        with writing(out):
            os.replace(temporary, out)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return ExportResult(out, {f"{e['store']}/{e['place']}": e["rows"] for e in sink.entries})
