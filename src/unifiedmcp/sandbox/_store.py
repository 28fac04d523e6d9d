"""The sandbox's state: every object in memory, written through to SQLite unless ``memory``.

Objects are plain JSON-able dicts keyed by id. Each ``object`` type keeps its ids in creation
order, so "newest first" lists are a reverse walk from the end (or from a cursor's position):
``list(limit=100)`` costs the same at 10 or 100,000 stored objects. Keys starting with ``_`` are
private (a webhook secret, a test card's behaviour) and never rendered.

Writes are buffered and committed once per API request (``commit``), which keeps creates fast
while a crash loses at most the request in flight.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["Store"]

Obj = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    id   TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""


class Store:
    """In-memory object index with optional SQLite persistence (one file, WAL mode)."""

    def __init__(self, *, path: Path | str | None = None) -> None:
        self.lock = threading.RLock()
        self._objs: dict[str, Obj] = {}
        self._order: dict[str, list[str]] = {}
        self._pos: dict[str, int] = {}
        self._seq = 0
        self._dirty: dict[str, Obj | None] = {}
        self._db: sqlite3.Connection | None = None
        self.kv: dict[str, Any] = {}
        self._kv_dirty = False
        if path is not None:
            self._open(Path(path))

    # -- persistence -------------------------------------------------------------------------
    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        for _id, seq, kind, body in db.execute("SELECT id, seq, kind, body FROM objects ORDER BY seq"):
            self._index(json.loads(body), kind)
            self._seq = max(self._seq, seq)
        for k, v in db.execute("SELECT k, v FROM kv"):
            self.kv[k] = json.loads(v)
        self._db = db

    def commit(self) -> None:
        """Write the objects changed since the last commit in one transaction."""
        if self._db is None or not (self._dirty or self._kv_dirty):
            self._dirty.clear()
            return
        with self.lock:
            dirty, self._dirty = self._dirty, {}
            db = self._db
            db.execute("BEGIN")
            for oid, obj in dirty.items():
                if obj is None:
                    db.execute("DELETE FROM objects WHERE id = ?", (oid,))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO objects (id, seq, kind, body) VALUES (?, ?, ?, ?)",
                        (oid, self._pos_seq(oid), self.kind_of(oid), json.dumps(obj)),
                    )
            if self._kv_dirty:
                for k, v in self.kv.items():
                    db.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (k, json.dumps(v)))
                self._kv_dirty = False
            db.execute("COMMIT")

    def set_kv(self, key: str, value: Any) -> None:
        """Store a small JSON value (settings, the account id) with the objects."""
        self.kv[key] = value
        self._kv_dirty = True

    def close(self) -> None:
        self.commit()
        if self._db is not None:
            self._db.close()
            self._db = None

    def _pos_seq(self, oid: str) -> int:
        return self._objs[oid].get("_seq", 0)

    # -- objects -----------------------------------------------------------------------------
    def _index(self, obj: Obj, kind: str) -> None:
        oid = obj["id"]
        self._objs[oid] = obj
        if oid not in self._pos:
            order = self._order.setdefault(kind, [])
            self._pos[oid] = len(order)
            order.append(oid)

    def kind_of(self, oid: str) -> str:
        obj = self._objs[oid]
        return obj.get("_kind") or obj["object"]

    def put(self, obj: Obj, *, kind: str | None = None) -> Obj:
        """Insert or replace an object (kind defaults to its ``object`` field)."""
        with self.lock:
            if obj["id"] not in self._objs:
                self._seq += 1
                obj["_seq"] = self._seq
            if kind is not None:
                obj["_kind"] = kind
            self._index(obj, kind or obj["object"])
            self._dirty[obj["id"]] = obj
            return obj

    def touch(self, obj: Obj) -> None:
        """Mark an object changed in place (to be written at the next commit)."""
        self._dirty[obj["id"]] = obj

    def get(self, oid: str, kind: str | None = None) -> Obj | None:
        obj = self._objs.get(oid)
        if obj is None or (kind is not None and (obj.get("_kind") or obj["object"]) != kind):
            return None
        return obj

    def remove(self, oid: str) -> None:
        """Forget an object; its id stays in the order list and is skipped by lists."""
        with self.lock:
            if self._objs.pop(oid, None) is not None:
                self._dirty[oid] = None

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
