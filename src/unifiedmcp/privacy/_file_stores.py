"""Stores that are files: usage logs under the data directory (the demo's ``data/demo/``), the
local sandbox's state file, and the published reports."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from .._files import PRIVATE_FILE_MODE
from ._registry import Counts, Holding, Places, Sink
from ._scan import files_naming, walk
from ._scrub import identifiers, scrub_json
from ._subject import Subject
from ._text import like_any

__all__ = ["FILE_HOLDINGS", "ReportsStore", "SandboxStore", "UsageLogStore", "known_files"]

FILE_HOLDINGS = (
    Holding("usage logs (*.csv, *.jsonl, *.parquet under the data directory, e.g. data/demo/)",
            "user ids, the calls' times and tools", "the customer's rows",
            "rewritten: the rows move to the pseudonym, user_id cleared"),
    Holding("sandbox.sqlite3 (the local sandbox's state, when kept in the data directory)",
            "the sandbox's Stripe objects: e-mails, names, cards", "objects mentioning the customer",
            "objects scrubbed, the id replaced by the pseudonym, the file rewritten (VACUUM)"),
    Holding("reports/<month>/ (published pages and executed notebooks)", "names, e-mails, ids in pages",
            "the list of files naming the customer", "months naming the customer re-rendered; deleted if that fails"),
    Holding("any other file under the data or reports directory", "whatever it holds", "",
            "listed for deletion when it still names the customer"),
)
_LOG_SUFFIXES = {".csv": "read_csv(?, all_varchar = true)", ".jsonl": "read_json(?, format = 'newline_delimited')",
                 ".parquet": "read_parquet(?)"}
_LOG_FORMATS = {".csv": "(FORMAT csv, HEADER)", ".jsonl": "(FORMAT json)", ".parquet": "(FORMAT parquet)"}


def known_files(places: Places) -> set[Path]:
    """The files of the database stores (with their journals), which the usage-log store skips."""
    bases = [places.warehouse, places.sandbox_file]
    if places.ledger.path is not None:
        bases.append(places.ledger.path)
    out: set[Path] = set()
    for base in bases:
        for suffix in ("", "-wal", "-shm", "-journal", ".wal", ".rewrite", ".rewrite.wal"):
            out.add(base.with_name(base.name + suffix).resolve())
    return out


class UsageLogStore:
    """Usage logs (CSV, JSON Lines, Parquet with a ``customer_id`` column) under the data directory."""

    name = "files"
    holdings = FILE_HOLDINGS[:1]

    def __init__(self, places: Places) -> None:
        self.places = places

    def _logs(self) -> list[Path]:
        skip = known_files(self.places)
        reports = self.places.reports_dir.resolve()
        return [p for p in walk([self.places.data_dir]) if p.suffix in _LOG_SUFFIXES
                and p.resolve() not in skip and reports not in p.resolve().parents]

    @staticmethod
    def _load(con: duckdb.DuckDBPyConnection, path: Path) -> bool:
        """Load ``path`` into temp table ``log``; False when it is no usage log (no customer_id)."""
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE log AS SELECT * FROM {_LOG_SUFFIXES[path.suffix]}", [str(path)])
        except duckdb.Error:
            return False
        return "customer_id" in {r[0] for r in con.execute("DESCRIBE log").fetchall()}

    def _each(self, work: Callable[[duckdb.DuckDBPyConnection, Path], None]) -> None:
        con = duckdb.connect(":memory:")
        try:
            for path in self._logs():
                if self._load(con, path):
                    work(con, path)
        finally:
            con.close()

    def terms(self, customer_id: str) -> set[str]:
        return set()

    def find(self, subject: Subject) -> Counts:
        counts: Counts = {}

        def count(con: duckdb.DuckDBPyConnection, path: Path) -> None:
            n = con.execute("SELECT count(*) FROM log WHERE customer_id = ?", [subject.customer_id]).fetchone()[0]
            if n:
                counts[str(path)] = n

        self._each(count)
        return counts

    def export(self, subject: Subject, sink: Sink) -> None:
        def rows(con: duckdb.DuckDBPyConnection, path: Path) -> None:
            cur = con.execute("SELECT * FROM log WHERE customer_id = ?", [subject.customer_id])
            found = cur.fetchall()
            if found:
                sink.rows(self.name, str(path.relative_to(self.places.data_dir)), [d[0] for d in cur.description], found)

        self._each(rows)

    def erase(self, subject: Subject) -> Counts:
        counts: Counts = {}

        def rewrite(con: duckdb.DuckDBPyConnection, path: Path) -> None:
            columns = {r[0] for r in con.execute("DESCRIBE log").fetchall()}
            names = {"c": subject.customer_id, "p": subject.pseudonym}
            changes = ["customer_id = $p"] + (["user_id = NULL"] if "user_id" in columns else [])
            changes += ["event_id = replace(event_id, $c, $p)"] if "event_id" in columns else []
            n = con.execute(f"UPDATE log SET {', '.join(changes)} WHERE customer_id = $c", names).fetchone()[0]
            if not n:
                return
            fresh = path.with_name(path.name + ".rewrite")
            quoted = str(fresh).replace("'", "''")
            con.execute(f"COPY log TO '{quoted}' {_LOG_FORMATS[path.suffix]}")
            os.chmod(fresh, PRIVATE_FILE_MODE)
            os.replace(fresh, path)
            counts[str(path)] = n

        self._each(rewrite)
        return counts


class SandboxStore:
    """The sandbox's SQLite file (``unifiedmcp sandbox serve --db``, default ``DATA_DIR/sandbox.sqlite3``).

    Only a stopped sandbox may be erased: a running one keeps every object in memory and would
    write them back. Its tables (``account_objects``: one JSON body per object, ``kv``) are read
    here as the sandbox writes them.
    """

    name = "sandbox"
    holdings = FILE_HOLDINGS[1:2]

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection | None:
        if not self.path.is_file():
            return None
        con = sqlite3.connect(self.path, isolation_level=None)
        con.execute("PRAGMA busy_timeout = 30000")
        return con

    def _objects(self, con: sqlite3.Connection, subject: Subject) -> list[tuple[str, str, str]]:
        """(account, id, body) of the objects that mention the subject."""
        where, params = like_any(["body"], subject.needles())
        rows = con.execute(f"SELECT account, id, body FROM account_objects WHERE {where}", params).fetchall()
        return [r for r in rows if subject.mentions(r[2])]

    def _use(self, work: Callable[[sqlite3.Connection], Any], default: Any) -> Any:
        con = self._connect()
        if con is None:
            return default
        try:
            return work(con)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return default  # a file that is no sandbox state
            raise
        finally:
            con.close()

    def terms(self, customer_id: str) -> set[str]:
        subject = Subject(customer_id, None)
        return self._use(lambda con: {t for _, _, body in self._objects(con, subject)
                                      for t in identifiers(json.loads(body))}, set())

    def find(self, subject: Subject) -> Counts:
        n = self._use(lambda con: len(self._objects(con, subject)), 0)
        return {"account_objects": n} if n else {}

    def export(self, subject: Subject, sink: Sink) -> None:
        objects = self._use(lambda con: [json.loads(b) for _, _, b in sorted(self._objects(con, subject))], [])
        sink.objects(self.name, "objects", objects)

    def erase(self, subject: Subject) -> Counts:
        def work(con: sqlite3.Connection) -> int:
            con.execute("PRAGMA secure_delete = ON")
            con.execute("BEGIN IMMEDIATE")
            try:
                rows = self._objects(con, subject)
                for account, oid, body in rows:
                    new = json.dumps(scrub_json(json.loads(body), subject))
                    new_id = subject.pseudonym if oid == subject.customer_id else oid
                    con.execute("UPDATE account_objects SET id = ?, body = ? WHERE account = ? AND id = ?",
                                (new_id, new, account, oid))
                for key, value in con.execute("SELECT k, v FROM kv").fetchall():
                    if subject.mentions(value):
                        con.execute("UPDATE kv SET v = ? WHERE k = ?", (subject.scrub_text(value), key))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("VACUUM")
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return len(rows)

        n = self._use(work, 0)
        return {"account_objects": n} if n else {}


class ReportsStore:
    """Published report months (``reports/<month>/``): pages, executed notebooks, the index.

    A month whose files name the customer is published again from the (already erased)
    warehouse, with the parameters its executed notebooks recorded; when that is impossible (its
    warehouse is gone, the data gate refuses it, a notebook fails) the files naming the customer
    are deleted instead, to be re-published by hand (``unifiedmcp report --month M``).
    """

    name = "reports"
    holdings = FILE_HOLDINGS[2:3]

    def __init__(self, directory: Path, *, notebooks_dir: Path | None = None) -> None:
        self.directory = directory
        self.notebooks_dir = notebooks_dir

    def naming(self, subject: Subject) -> list[Path]:
        return files_naming(walk([self.directory]), subject)

    def terms(self, customer_id: str) -> set[str]:
        return set()

    def find(self, subject: Subject) -> Counts:
        return {str(p): 1 for p in self.naming(subject)}

    def export(self, subject: Subject, sink: Sink) -> None:
        files = self.naming(subject)
        sink.rows(self.name, "files", ["path", "bytes", "modified"], [
            (str(p), p.stat().st_size, datetime.fromtimestamp(p.stat().st_mtime, UTC).isoformat()) for p in files
        ])

    def erase(self, subject: Subject) -> Counts:
        """Re-render or delete (class docstring): month folder -> 1 when re-rendered, file -> 0 when deleted."""
        outcome: Counts = {}
        naming = self.naming(subject)
        months = sorted({self.directory / p.relative_to(self.directory).parts[0]
                         for p in naming if len(p.relative_to(self.directory).parts) > 1})
        stray = [p for p in naming if len(p.relative_to(self.directory).parts) == 1]
        for month_dir in months:
            if self._rerender(month_dir):
                outcome[str(month_dir)] = 1
        for path in [*files_naming(walk(months), subject), *stray]:
            path.unlink()
            outcome[str(path)] = 0
        return outcome

    def _rerender(self, month_dir: Path) -> bool:
        from ..errors import UnifiedMCPError
        from ..reports import REPORTS, run_reports

        executed = sorted((month_dir / "notebooks").glob("*.ipynb"))
        names = [p.stem for p in executed if p.stem in REPORTS]
        params: dict[str, Any] = {}
        for path in executed:
            try:
                params.update(json.loads(path.read_text(encoding="utf-8"))["metadata"]["papermill"]["parameters"])
            except (OSError, ValueError, KeyError):
                return False
        warehouse = params.get("warehouse")
        if not names or params.get("month") != month_dir.name or not warehouse or not Path(warehouse).is_file():
            return False
        try:
            run_reports(month_dir.name, out_dir=month_dir.parent, warehouse=warehouse, ledger=params.get("ledger") or None,
                        reports=names, currency=params.get("currency", "usd"),
                        convention=params.get("convention", "stripe"), mask_pii=bool(params.get("mask_pii")),
                        allow_partial=True, notebooks_dir=self.notebooks_dir)
        except UnifiedMCPError:
            return False
        return True

