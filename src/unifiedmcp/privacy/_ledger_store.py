"""The ledger as a privacy store (SQLite or PostgreSQL, through ``Ledger.transaction``: portable SQL).

Erase, in one ledger transaction (all of it or none): the customer's keys, connections (with their
encrypted credentials), Connect states and OAuth grants are deleted; what accounting keeps (usage
events, counters and daily totals, the subscription, invoice and incident mirrors, the meter
outbox) is moved to the pseudonym, usage events losing their ``user_id``; webhook payloads and
subscription snapshots that mention the customer are scrubbed (``_scrub``); the customer row
becomes the pseudonym's, without e-mail, status ``deleted``. SQLite then rewrites its file
(``secure_delete`` while writing, VACUUM and an emptied WAL after); PostgreSQL VACUUMs the tables,
which does not zero the old row versions (docs/privacy.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

from .._times import utc_text
from .._usage_status import in_flight_cutoff
from ..ledger import Ledger, LedgerConnection
from ._registry import Counts, Holding, Sink
from ._scrub import identifiers, scrub_json
from ._subject import Subject
from ._text import like_any

__all__ = ["CUSTOMER_TABLES", "LEDGER_HOLDINGS", "LedgerStore"]

_KEPT = "kept, moved to the pseudonym"
LEDGER_HOLDINGS = (
    Holding("customers", "e-mail", "the row", "pseudonym, e-mail cleared, status deleted"),
    Holding("api_keys", "key names", "key ids, names, times (never hashes)", "deleted"),
    Holding("usage_events", "user ids, the calls' times and tools", "the customer's calls",
            f"{_KEPT}; user_id cleared; event ids holding the id rewritten",
            "older than [retention] usage_events_months: rolled up into usage_daily, deleted"),
    Holding("usage_counters", "", "the customer's months", _KEPT),
    Holding("usage_daily", "", "the customer's daily totals", _KEPT),
    Holding("oauth_connections", "accounts at providers, encrypted credentials",
            "connections (never credentials)", "deleted"),
    Holding("connect_states", "redirect URIs", "provider, redirect URI, times (never the state hash)", "deleted"),
    Holding("oauth_authorizations", "the grants a customer approved", "grants (never code hashes)", "deleted"),
    Holding("oauth_tokens", "tokens of those grants", "token ids, scopes, times (never hashes)", "deleted"),
    Holding("subscriptions", "snapshots of Stripe subscriptions", "the customer's subscriptions",
            f"{_KEPT}; snapshots scrubbed"),
    Holding("invoices", "", "the customer's invoices", _KEPT),
    Holding("payment_incidents", "", "the customer's refunds and disputes", _KEPT),
    Holding("meter_outbox", "", "the customer's meter events", f"{_KEPT}; identifiers rewritten"),
    Holding("webhook_events", "full Stripe payloads (e-mails, names, addresses, cards)",
            "events whose payload mentions the customer", "payloads mentioning the customer scrubbed",
            "payloads older than [retention] webhook_payload_days purged (id, type, status, times kept)"),
    Holding("webhook_rejections", "", "", "",
            "reasons not seen for [retention] rejected_delivery_days deleted"),
    Holding("catalog_prices", "", "", ""),
    Holding("meter_push_state", "", "", ""),
    Holding("oauth_clients", "client names given at registration",
            "the clients the customer authorized: id, kind, name, times (never secret hashes)",
            "kept: a client is the MCP application's record, shared by every customer who authorizes it"),
    Holding("erasure_log", "", "", "one row per erasure: pseudonym, times, counts (no personal data)"),
)

# Exported columns per table: never a secret's hash, a credential or a state.
_EXPORT = {
    "customers": "customer_id, email, tier, status, created_at, updated_at",
    "api_keys": "key_id, role, name, created_at, revoked_at",
    "usage_events": "seq, event_id, customer_id, tool_name, ts, month, status, latency_ms, user_id, tier",
    "usage_counters": "customer_id, month, calls, rejected",
    "usage_daily": "day, customer_id, tier, tool_name, status, calls",
    "oauth_connections": "connection_id, customer_id, provider, account, kind, created_at",
    "connect_states": "customer_id, provider, redirect_uri, created_at, expires_at, used_at",
    "oauth_authorizations": "auth_id, client_id, customer_id, scopes, redirect_uri, resource, created_at, "
                            "expires_at, decided_at, code_expires_at, code_used_at",
    "oauth_tokens": "token_id, kind, auth_id, client_id, customer_id, scopes, resource, created_at, expires_at, "
                    "revoked_at",
    "subscriptions": "subscription_id, customer_id, status, price_id, tier, quantity, current_period_start, "
                     "current_period_end, cancel_at_period_end, cancel_at, canceled_at, trial_end, updated_at",
    "invoices": "invoice_id, customer_id, subscription_id, status, billing_reason, currency, amount_due, "
                "amount_paid, attempt_count, payment_failed, updated_at",
    "payment_incidents": "incident_id, kind, charge_id, customer_id, amount, currency, status, created, updated_at",
    "meter_outbox": "identifier, event_name, customer_id, ts, value, status, attempts, error, created_at, sent_at",
}
_ORDER = {"usage_events": "seq", "usage_counters": "month", "usage_daily": "day, tool_name, status"}

# Erase, in this order: rows that reference the customer row go before it.
_DELETE = {
    "oauth_tokens": "DELETE FROM oauth_tokens WHERE customer_id = :c",
    "oauth_authorizations": "DELETE FROM oauth_authorizations WHERE customer_id = :c",
    "connect_states": "DELETE FROM connect_states WHERE customer_id = :c",
    "oauth_connections": "DELETE FROM oauth_connections WHERE customer_id = :c",
    "api_keys": "DELETE FROM api_keys WHERE customer_id = :c",
}
_MOVE = {
    # Ids made from the customer id (the demo's event ids, meter event identifiers) follow it.
    "usage_events": "UPDATE usage_events SET customer_id = :p, user_id = NULL, event_id = replace(event_id, :c, :p)"
                    " WHERE customer_id = :c",
    "subscriptions": "UPDATE subscriptions SET customer_id = :p WHERE customer_id = :c",
    "invoices": "UPDATE invoices SET customer_id = :p WHERE customer_id = :c",
    "payment_incidents": "UPDATE payment_incidents SET customer_id = :p WHERE customer_id = :c",
    "meter_outbox": "UPDATE meter_outbox SET customer_id = :p, identifier = replace(identifier, :c, :p)"
                    " WHERE customer_id = :c",
}
# Tables keyed by customer: added to the pseudonym's rows (an earlier erasure of the same
# customer may have left some), then removed. WHERE: SQLite's INSERT ... SELECT ... ON CONFLICT needs one.
_MERGE = {
    "usage_counters": (
        "INSERT INTO usage_counters (customer_id, month, calls, rejected)"
        " SELECT :p, month, calls, rejected FROM usage_counters WHERE customer_id = :c"
        " ON CONFLICT (customer_id, month) DO UPDATE SET calls = usage_counters.calls + excluded.calls,"
        " rejected = usage_counters.rejected + excluded.rejected",
        "DELETE FROM usage_counters WHERE customer_id = :c",
    ),
    "usage_daily": (
        "INSERT INTO usage_daily (day, customer_id, tier, tool_name, status, calls)"
        " SELECT day, :p, tier, tool_name, status, calls FROM usage_daily WHERE customer_id = :c"
        " ON CONFLICT (day, customer_id, tier, tool_name, status) DO UPDATE SET calls = usage_daily.calls + excluded.calls",
        "DELETE FROM usage_daily WHERE customer_id = :c",
    ),
}
_CUSTOMER = (
    "UPDATE customers SET customer_id = :p, email = NULL, status = 'deleted', updated_at = :now"
    " WHERE customer_id = :c AND NOT EXISTS (SELECT 1 FROM customers WHERE customer_id = :p)",
    "DELETE FROM customers WHERE customer_id = :c",
)
#: Every table with a ``customer_id`` column: erase deletes, moves or merges the customer's rows
#: there (tests/privacy/test_registry.py fails for a table with that column missing here).
CUSTOMER_TABLES = (*_DELETE, *_MOVE, *_MERGE, "customers")
# Text columns scanned for the subject's words, with each table's key.
_TEXT = {
    "webhook_events": ("event_id", ("payload", "object_id", "note", "error")),
    "subscriptions": ("subscription_id", ("snapshot", "previous")),
    "meter_outbox": ("identifier", ("error",)),
}
_JSON_COLUMNS = frozenset({"payload", "snapshot", "previous"})
# The clients the customer granted access to (the grants name them by id only).
_CLIENTS_EXPORT_COLUMNS = ("client_id", "kind", "client_name", "created_at", "last_used_at", "revoked_at")
_CLIENTS_EXPORT = (
    f"SELECT {', '.join(_CLIENTS_EXPORT_COLUMNS)} FROM oauth_clients"
    " WHERE client_id IN (SELECT client_id FROM oauth_authorizations WHERE customer_id = ?) ORDER BY client_id"
)
_WEBHOOK_EXPORT = "SELECT event_id, type, created, status, received_at, processed_at, payload FROM webhook_events"
_UNSENT = "SELECT count(*) FROM meter_outbox WHERE customer_id = ? AND status = 'pending'"
_STAGED = "SELECT min(staged_seq) FROM meter_push_state"
# A call still running (interrupted, admitted within the in-flight window) may yet end ok: billable.
_UNSTAGED = (
    "SELECT count(*) FROM usage_events WHERE customer_id = ? AND seq > ? AND tier IN ({})"
    " AND (status = 'ok' OR (status = 'interrupted' AND ts > ?))"
)
#: Tables whose old rows erase leaves behind until they are reclaimed (PostgreSQL's VACUUM list).
TOUCHED = (*CUSTOMER_TABLES, *_TEXT, "erasure_log")


class LedgerStore:
    """The ledger's tables (module docstring). Thread-safe as the ledger is."""

    name = "ledger"
    holdings = LEDGER_HOLDINGS

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def _rows(self, sql: str, params: Any = ()) -> list[tuple]:
        with self.ledger.snapshot() as conn:
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]

    def _mentioning(self, conn: LedgerConnection, table: str, subject: Subject) -> list[tuple]:
        """Rows of a text-scanned table that mention the subject: (key, {column: text})."""
        key, columns = _TEXT[table]
        where, params = like_any(columns, subject.needles())
        found = []
        for row in conn.execute(f"SELECT {key}, {', '.join(columns)} FROM {table} WHERE {where}", params).fetchall():
            texts = {c: v for c, v in zip(columns, row[1:], strict=True) if isinstance(v, str)}
            if any(subject.mentions(v) for v in texts.values()):
                found.append((row[0], texts))
        return found

    # -- the store ------------------------------------------------------------------------------

    def terms(self, customer_id: str) -> set[str]:
        found = {r[0] for r in self._rows("SELECT email FROM customers WHERE customer_id = ?", (customer_id,)) if r[0]}
        subject = Subject(customer_id, None)
        with self.ledger.snapshot() as conn:
            for table in ("webhook_events", "subscriptions"):
                for _, texts in self._mentioning(conn, table, subject):
                    for column, text in texts.items():
                        if column in _JSON_COLUMNS and subject.names_id(text):
                            found.update(identifiers(_parsed(text)))
        return found

    def find(self, subject: Subject) -> Counts:
        counts: Counts = {}
        with self.ledger.snapshot() as conn:
            for table in CUSTOMER_TABLES:
                n = conn.execute(f"SELECT count(*) FROM {table} WHERE customer_id = ?", (subject.customer_id,)).fetchone()[0]
                counts[table] = counts.get(table, 0) + int(n)
            for table in _TEXT:
                mentioned = len(self._mentioning(conn, table, subject))
                counts[table] = max(counts.get(table, 0), mentioned)
        return {k: v for k, v in counts.items() if v}

    def export(self, subject: Subject, sink: Sink) -> None:
        with self.ledger.snapshot() as conn:
            for table, columns in _EXPORT.items():
                order = _ORDER.get(table, columns.split(",")[0])
                cur = conn.execute(f"SELECT {columns} FROM {table} WHERE customer_id = ? ORDER BY {order}",
                                   (subject.customer_id,))
                sink.rows(self.name, table, [c.strip() for c in columns.split(",")], cur.fetchall())
            clients = conn.execute(_CLIENTS_EXPORT, (subject.customer_id,)).fetchall()
            sink.rows(self.name, "oauth_clients", _CLIENTS_EXPORT_COLUMNS, clients)
            where, params = like_any(["payload"], [subject.customer_id])
            rows = conn.execute(f"{_WEBHOOK_EXPORT} WHERE {where} ORDER BY created, event_id", params).fetchall()
        sink.objects(self.name, "webhook_events", [
            {"event_id": r[0], "type": r[1], "created": r[2], "status": r[3], "received_at": r[4],
             "processed_at": r[5], "payload": _parsed(r[6])} for r in rows if subject.names_id(r[6])
        ])

    def unbilled(self, customer_id: str, *, billable_tiers: Collection[str]) -> int:
        """The customer's billable calls not yet reported to Stripe: pending meter events, and
        (when usage billing runs: a push state exists) billable calls not staged yet, counting
        calls still running (``unifiedmcp._usage_status``)."""
        with self.ledger.snapshot() as conn:
            pending = int(conn.execute(_UNSENT, (customer_id,)).fetchone()[0])
            staged = conn.execute(_STAGED).fetchone()[0]
            if staged is None or not billable_tiers:
                return pending
            marks = ", ".join("?" for _ in billable_tiers)
            sql = _UNSTAGED.format(marks)
            params = (customer_id, staged, *sorted(billable_tiers), in_flight_cutoff())
            return pending + int(conn.execute(sql, params).fetchone()[0])

    def erase(self, subject: Subject, *, within: Callable[[LedgerConnection, Counts], None] | None = None) -> Counts:
        """Erase (module docstring) in one transaction; ``within`` runs last inside it, with the
        counts (the erasure log marks its step there, so the mark and the changes commit together)."""
        c, p = subject.customer_id, subject.pseudonym
        params = {"c": c, "p": p, "now": utc_text()}
        counts: Counts = {}
        self.ledger.secure_delete()
        with self.ledger.transaction() as conn:
            for table, sql in _DELETE.items():
                counts[table] = conn.execute(sql, {"c": c}).rowcount
            for table, sql in _MOVE.items():
                counts[table] = conn.execute(sql, {"c": c, "p": p}).rowcount
            for table, (merge, remove) in _MERGE.items():
                conn.execute(merge, {"c": c, "p": p})
                counts[table] = conn.execute(remove, {"c": c}).rowcount
            for table in _TEXT:
                counts[table] = max(counts.get(table, 0), self._scrub(conn, table, subject))
            counts["customers"] = conn.execute(_CUSTOMER[0], params).rowcount
            counts["customers"] += conn.execute(_CUSTOMER[1], {"c": c}).rowcount
            counts = {k: v for k, v in counts.items() if v}
            if within is not None:
                within(conn, counts)
        return counts

    def _scrub(self, conn: LedgerConnection, table: str, subject: Subject) -> int:
        key, _ = _TEXT[table]
        rows = self._mentioning(conn, table, subject)
        for key_value, texts in rows:
            new = {column: _scrubbed(column, text, subject) for column, text in texts.items()}
            assignments = ", ".join(f"{column} = :{column}" for column in new)
            conn.execute(f"UPDATE {table} SET {assignments} WHERE {key} = :key", {**new, "key": key_value})
        return len(rows)

    def reclaim(self) -> None:
        self.ledger.reclaim(TOUCHED)


def _parsed(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def _scrubbed(column: str, text: str, subject: Subject) -> str:
    if column in _JSON_COLUMNS:
        value = _parsed(text)
        if not isinstance(value, str):
            return json.dumps(scrub_json(value, subject), separators=(",", ":"))
    return subject.scrub_text(text)
