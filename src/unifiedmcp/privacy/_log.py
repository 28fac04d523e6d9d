"""The erasure log (ledger table ``erasure_log``, migration 008): when each erasure ran and what
it changed, per step, under the customer's pseudonym. It holds no personal data once an erasure is
done; while one runs, ``pending`` keeps the e-mails and names it is erasing, encrypted (see
``Pseudonyms.journal``), so that a run killed halfway, run again, finds what the first run had
already removed from some stores."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import InvalidToken

from .._times import utc_text
from ..errors import PseudonymKeyMissing
from ..ledger import Ledger, LedgerConnection
from ._registry import Counts
from ._subject import Pseudonyms

__all__ = ["Erasure", "ErasureLog"]

_COLUMNS = "erasure_id, subject, started_at, finished_at, status, stripe, steps, pending"
_LATEST = f"SELECT {_COLUMNS} FROM erasure_log WHERE subject = ? ORDER BY started_at DESC, erasure_id LIMIT 1"
_INSERT = ("INSERT INTO erasure_log (erasure_id, subject, started_at, status, steps, pending)"
           " VALUES (?, ?, ?, 'started', '{}', ?)")
_STEPS = "SELECT steps FROM erasure_log WHERE erasure_id = ?"
_MARK = "UPDATE erasure_log SET steps = ? WHERE erasure_id = ?"
_STRIPE = "UPDATE erasure_log SET stripe = ? WHERE erasure_id = ?"
_SEAL = "UPDATE erasure_log SET pending = NULL WHERE erasure_id = ?"
_FINISH = "UPDATE erasure_log SET status = 'done', finished_at = ? WHERE erasure_id = ?"


@dataclass(frozen=True)
class Erasure:
    """One row of the log, its ``terms`` decrypted (none once done)."""

    erasure_id: str
    subject: str
    started_at: str
    finished_at: str | None
    status: str
    stripe: str | None
    steps: dict[str, Any]
    terms: frozenset[str] = field(default=frozenset(), repr=False)

    @property
    def done(self) -> bool:
        return self.status == "done"


class ErasureLog:
    def __init__(self, ledger: Ledger, pseudonyms: Pseudonyms) -> None:
        self.ledger = ledger
        self.pseudonyms = pseudonyms

    def latest(self, subject: str) -> Erasure | None:
        """The subject's most recent erasure (started or done), or None."""
        with self.ledger.snapshot() as conn:
            row = conn.execute(_LATEST, (subject,)).fetchone()
        if row is None:
            return None
        *head, steps, pending = row
        return Erasure(*head, steps=json.loads(steps), terms=self._decrypt(pending))

    def start(self, subject: str, terms: frozenset[str]) -> Erasure:
        erasure_id = "era_" + uuid.uuid4().hex[:20]
        pending = self.pseudonyms.journal.encrypt(json.dumps(sorted(terms)).encode("utf-8")).decode("ascii")
        with self.ledger.transaction() as conn:
            conn.execute(_INSERT, (erasure_id, subject, utc_text(), pending))
        found = self.latest(subject)
        assert found is not None and found.erasure_id == erasure_id
        return found

    def mark(self, erasure_id: str, step: str, counts: Counts, *, conn: LedgerConnection | None = None) -> None:
        """Record ``step`` as done with its counts (inside ``conn``'s transaction when given)."""
        if conn is None:
            with self.ledger.transaction() as own:
                self.mark(erasure_id, step, counts, conn=own)
            return
        steps = json.loads(conn.execute(_STEPS, (erasure_id,)).fetchone()[0])
        steps[step] = {"at": utc_text(), "counts": counts}
        conn.execute(_MARK, (json.dumps(steps, sort_keys=True), erasure_id))

    def stripe(self, erasure_id: str, outcome: str) -> None:
        with self.ledger.transaction() as conn:
            conn.execute(_STRIPE, (outcome, erasure_id))

    def seal(self, erasure_id: str) -> None:
        """Forget the terms (every store is erased): from here the row holds no personal data."""
        with self.ledger.transaction() as conn:
            conn.execute(_SEAL, (erasure_id,))

    def finish(self, erasure_id: str) -> None:
        with self.ledger.transaction() as conn:
            conn.execute(_FINISH, (utc_text(), erasure_id))

    def _decrypt(self, pending: str | None) -> frozenset[str]:
        if not pending:
            return frozenset()
        try:
            return frozenset(json.loads(self.pseudonyms.journal.decrypt(pending.encode("ascii"))))
        except InvalidToken:
            raise PseudonymKeyMissing(
                "is not the key this unfinished erasure was started with (its notes do not decrypt)"
            ) from None
