"""The sandbox's state: one in-memory object index per account, written through to one SQLite file.

Objects are plain JSON-able dicts keyed by id within their account. Each account has its own
:class:`Store`, so an id of one account is simply absent from another's index (isolation holds by
construction, not by filtering). Each ``object`` type keeps its ids in creation order, so "newest
first" lists are a reverse walk from the end (or from a cursor's position): ``list(limit=100)``
costs the same at 10 or 100,000 stored objects. Keys starting with ``_`` are private (a webhook
secret, a test card's behaviour) and never rendered.

Every store of a server shares one :class:`Database`: one lock, one SQLite file (unless in
memory), one sequence. Writes are buffered and committed once per API request (``commit``), which
keeps creates fast while a crash loses at most the request in flight. Files written before the
sandbox had accounts (table ``objects`` without an account column) are adopted on open: their
objects become the primary account's.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._objects import new_account_id

__all__ = ["Database", "Store"]

Obj = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS account_objects (
    account TEXT NOT NULL,
    id      TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (account, id)
);
CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""


def _kind(obj: Obj) -> str:
    return obj.get("_kind") or obj["object"]


class Database:
    """The persistence shared by every account's store: lock, sequence, small values, SQLite."""

    def __init__(self, *, path: Path | str | None = None) -> None:
        self.lock = threading.RLock()
        self.seq = 0
        self.kv: dict[str, Any] = {}
        self._kv_dirty: set[str] = set()
        self._dirty: dict[tuple[str, str], Obj | None] = {}
        self._db: sqlite3.Connection | None = None
        self._loaded: list[tuple[str, str, Obj]] = []
        if path is not None:
            self._open(Path(path))

    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        for k, v in db.execute("SELECT k, v FROM kv"):
            self.kv[k] = json.loads(v)
        if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'objects'").fetchone():
            self._adopt_legacy(db)
        for account, seq, kind, body in db.execute("SELECT account, seq, kind, body FROM account_objects ORDER BY seq"):
            self._loaded.append((account, kind, json.loads(body)))
            self.seq = max(self.seq, seq)
        self._db = db

    def _adopt_legacy(self, db: sqlite3.Connection) -> None:
        # A single-account file: its objects belong to the account it named (kept as the primary).
        legacy = self.kv.get("account_id")
        if legacy is None:
            legacy = new_account_id()
            db.execute("INSERT INTO kv (k, v) VALUES ('account_id', ?)", (json.dumps(legacy),))
            self.kv["account_id"] = legacy
        db.execute("BEGIN")
        db.execute("INSERT OR IGNORE INTO account_objects SELECT ?, id, seq, kind, body FROM objects", (legacy,))
        db.execute("DROP TABLE objects")
        db.execute("COMMIT")

    def loaded(self) -> Iterator[tuple[str, str, Obj]]:
        """``(account, kind, object)`` of every stored object, oldest first (once, at start-up)."""
        rows, self._loaded = self._loaded, []
        return iter(rows)

    def mark(self, account: str, oid: str, obj: Obj | None) -> None:
        """Note a changed (``None``: removed) object, to be written at the next commit."""
        if self._db is not None:
            self._dirty[(account, oid)] = obj

    def set_kv(self, key: str, value: Any) -> None:
        """Store a small JSON value (settings, accounts, keys) with the objects."""
        self.kv[key] = value
        self._kv_dirty.add(key)

    def commit(self) -> None:
        """Write what changed since the last commit, every account's, in one transaction."""
        if self._db is None or not (self._dirty or self._kv_dirty):
            return
        with self.lock:
            dirty, self._dirty = self._dirty, {}
            keys, self._kv_dirty = self._kv_dirty, set()
            db = self._db
            db.execute("BEGIN")
            for (account, oid), obj in dirty.items():
                if obj is None:
                    db.execute("DELETE FROM account_objects WHERE account = ? AND id = ?", (account, oid))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO account_objects (account, id, seq, kind, body) VALUES (?, ?, ?, ?, ?)",
                        (account, oid, obj.get("_seq", 0), _kind(obj), json.dumps(obj)),
                    )
            for k in keys:
                db.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (k, json.dumps(self.kv[k])))
            db.execute("COMMIT")

    def close(self) -> None:
        self.commit()
        if self._db is not None:
            self._db.close()
            self._db = None


class Store:
    """One account's objects: an in-memory index, written through the shared :class:`Database`."""

    def __init__(self, db: Database, account: str) -> None:
        self.db = db
        self.lock = db.lock
        self.account = account
        self._objs: dict[str, Obj] = {}
        self._order: dict[str, list[str]] = {}
        self._pos: dict[str, int] = {}

    def commit(self) -> None:
        self.db.commit()

    # -- objects -----------------------------------------------------------------------------
    def load(self, obj: Obj, kind: str) -> None:
        """Index an object read from the database (nothing to write back)."""
        self._index(obj, kind)

    def _index(self, obj: Obj, kind: str) -> None:
        oid = obj["id"]
        self._objs[oid] = obj
        if oid not in self._pos:
            order = self._order.setdefault(kind, [])
            self._pos[oid] = len(order)
            order.append(oid)

    def put(self, obj: Obj, *, kind: str | None = None) -> Obj:
        """Insert or replace an object (kind defaults to its ``object`` field)."""
        with self.lock:
            if obj["id"] not in self._objs:
                self.db.seq += 1
                obj["_seq"] = self.db.seq
            if kind is not None:
                obj["_kind"] = kind
            self._index(obj, kind or obj["object"])
            self.db.mark(self.account, obj["id"], obj)
            return obj

    def touch(self, obj: Obj) -> None:
        """Mark an object changed in place (to be written at the next commit)."""
        self.db.mark(self.account, obj["id"], obj)

    def get(self, oid: str, kind: str | None = None) -> Obj | None:
        obj = self._objs.get(oid)
        if obj is None or (kind is not None and _kind(obj) != kind):
            return None
        return obj

    def remove(self, oid: str) -> None:
        """Forget an object; its id stays in the order list and is skipped by lists."""
        with self.lock:
            if self._objs.pop(oid, None) is not None:
                self.db.mark(self.account, oid, None)

    def count(self, kind: str) -> int:
        return sum(1 for _ in self.iter(kind))

    def iter(
        self,
        kind: str,
        *,
        newest_first: bool = True,
        after: str | None = None,
        before: str | None = None,
    ) -> Iterator[Obj]:
        """Objects of a kind, newest first, optionally strictly after/before a cursor id."""
        order = self._order.get(kind, [])
        if newest_first and before is not None:
            # ending_before walks from the cursor towards newer objects; callers reverse the page.
            indexes: range = range(self._pos[before] + 1, len(order))
        elif newest_first:
            top = self._pos[after] - 1 if after is not None else len(order) - 1
            indexes = range(top, -1, -1)
        else:
            indexes = range(len(order))
        for i in indexes:
            obj = self._objs.get(order[i])
            if obj is not None:
                yield obj

    def has_position(self, oid: str) -> bool:
        return oid in self._pos
