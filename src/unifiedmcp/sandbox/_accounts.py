"""Every account of one sandbox server: their keys, Connect client ids and connections.

This is the one place that maps an API key to an account. Each secret key belongs to exactly one
account; a secret key the server accepts but has never seen gets an account of its own (the first
one claims the *primary* account, the one ``serve_in_thread``'s key and ``--forward-to`` belong
to). Keys the sandbox mints itself (new accounts' keys, restricted keys, OAuth access tokens) are
recorded here, so they are accepted even when the server accepts only a fixed set of keys.

Connect: an account (the platform) is *connected* to another through the OAuth flow of
:mod:`._oauth`, with a scope (``read_write`` or ``read_only``). Access tokens and refresh tokens
are tied to their connection and die with it (deauthorization).

Everything here persists with the objects (kv ``accounts``, ``keys``, ``connections``,
``refresh_tokens``, ``primary``); the short-lived OAuth codes do not.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._objects import new_account_id, new_id
from ._settings import SandboxSettings
from ._state import Sandbox, Shared
from ._store import Database, Store

__all__ = ["Accounts", "Credential", "SECRET", "RESTRICTED", "OAUTH"]

Obj = dict[str, Any]

SECRET = "secret"  # an account's own secret key
RESTRICTED = "restricted"  # an rk_test_ key with permissions
OAUTH = "oauth"  # an access token issued to a platform for a connected account


@dataclass(frozen=True)
class Credential:
    """What an API key is: whose it is, its kind, and what it may do."""

    key: str = field(repr=False)
    account: str
    kind: str
    permissions: frozenset[str] | None = None  # restricted keys only
    platform: str | None = None  # OAuth access tokens: the platform they were issued to
    scope: str | None = None  # OAuth access tokens: read_write or read_only


def _secret_key() -> str:
    return "sk_test_" + new_id("x", 40)[2:]


class Accounts:
    """The registry of one server. Every method runs under ``db.lock`` (the callers hold it)."""

    def __init__(self, *, db_path: Path | str | None = None) -> None:
        self.db = Database(path=db_path)
        kv = self.db.kv
        self.settings = SandboxSettings()
        self.settings.update(kv.get("settings", {}))
        self.shared = Shared(self.settings)
        self._records: dict[str, Obj] = kv.get("accounts", {})
        self._keys: dict[str, Obj] = kv.get("keys", {})
        self._connections: dict[str, dict[str, str]] = kv.get("connections", {})  # connected -> {platform: scope}
        self._refresh: dict[str, Obj] = kv.get("refresh_tokens", {})
        self._creds = {key: self._credential(key, rec) for key, rec in self._keys.items()}
        self._by_client_id = {rec["client_id"]: acct for acct, rec in self._records.items()}
        self._sandboxes: dict[str, Sandbox] = {}
        for acct in self._records:
            self._open(acct)
        self.primary: str = kv.get("primary") or kv.get("account_id") or new_account_id()
        if self.primary not in self._records:
            self._add(self.primary, email="sandbox@unifiedmcp.invalid", business_name="UnifiedMCP Sandbox", created=1704067200)
            self.db.set_kv("primary", self.primary)
        for acct, kind, obj in self.db.loaded():
            sb = self._sandboxes.get(acct) or self._sandboxes[self._add(acct)]
            sb.store.load(obj, kind)

    # -- accounts -------------------------------------------------------------------------------
    def _open(self, acct: str) -> None:
        self._sandboxes[acct] = Sandbox(store=Store(self.db, acct), profile=self._records[acct], shared=self.shared)

    def _add(self, acct: str, *, email: str | None = None, business_name: str | None = None, created: int | None = None) -> str:
        client_id = "ca_" + new_id("x", 32)[2:]
        self._records[acct] = {"email": email, "business_name": business_name,
                               "created": int(time.time()) if created is None else created, "client_id": client_id}
        self._by_client_id[client_id] = acct
        self.db.set_kv("accounts", self._records)
        self._open(acct)
        return acct

    def create(self, *, email: str | None = None, business_name: str | None = None) -> tuple[str, str]:
        """A new independent account and its secret key: ``(account id, sk_test_ key)``."""
        acct = self._add(new_account_id(), email=email, business_name=business_name)
        key = _secret_key()
        self._remember(key, {"account": acct, "kind": SECRET})
        return acct, key

    def sandbox(self, acct: str) -> Sandbox | None:
        return self._sandboxes.get(acct)

    def __iter__(self) -> Iterator[Sandbox]:
        return iter(list(self._sandboxes.values()))

    def client_id(self, acct: str) -> str:
        """The account's Connect client id (``ca_``), used when it acts as a platform."""
        return self._records[acct]["client_id"]

    def by_client_id(self, client_id: str) -> str | None:
        return self._by_client_id.get(client_id)

    def publishable_key(self, acct: str) -> str:
        """The account's ``pk_test_`` key (given to platforms; the sandbox's API does not accept it)."""
        rec = self._records[acct]
        if "publishable_key" not in rec:
            rec["publishable_key"] = "pk_test_" + new_id("x", 40)[2:]
            self.db.set_kv("accounts", self._records)
        return rec["publishable_key"]

    def save_settings(self) -> None:
        self.db.set_kv("settings", self.settings.to_dict())

    # -- keys -----------------------------------------------------------------------------------
    @staticmethod
    def _credential(key: str, rec: Obj) -> Credential:
        perms = rec.get("permissions")
        return Credential(key, rec["account"], rec["kind"], frozenset(perms) if perms is not None else None,
                          rec.get("platform"), rec.get("scope"))

    def _remember(self, key: str, rec: Obj) -> Credential:
        self._keys[key] = rec
        self.db.set_kv("keys", self._keys)
        cred = self._creds[key] = self._credential(key, rec)
        return cred

    def credential(self, key: str) -> Credential | None:
        return self._creds.get(key)

    def adopt(self, key: str) -> Credential:
        """A secret key seen for the first time: the primary account's if nobody claimed it yet,
        else a new account's."""
        acct = self.primary if not self._has_secret(self.primary) else self._add(new_account_id())
        return self._remember(key, {"account": acct, "kind": SECRET})

    def primary_key(self, key: str | None) -> str:
        """The key ``serve_in_thread`` hands out: ``key`` (made the primary account's if new) or,
        without one, the primary account's first secret key (a new one if it has none)."""
        if key is None:
            key = next((k for k, r in self._keys.items() if r["account"] == self.primary and r["kind"] == SECRET), None)
            if key is not None:
                return key
            key = _secret_key()
        known = self._creds.get(key)
        if known is None:
            self._remember(key, {"account": self.primary, "kind": SECRET})
        elif known.account != self.primary:
            self.primary = known.account
            self.db.set_kv("primary", self.primary)
        return key

    def _has_secret(self, acct: str) -> bool:
        return any(r["account"] == acct and r["kind"] == SECRET for r in self._keys.values())

    def mint_restricted(self, acct: str, permissions: frozenset[str], *, name: str | None) -> tuple[str, str]:
        """A restricted key of ``acct``: ``(object id, rk_test_ key)``."""
        key = "rk_test_" + new_id("x", 40)[2:]
        rid = new_id("rk", 24)
        self._remember(key, {"account": acct, "kind": RESTRICTED, "permissions": sorted(permissions), "id": rid, "name": name})
        return rid, key

    # -- Connect ----------------------------------------------------------------------------------
    def platforms_of(self, acct: str) -> dict[str, str]:
        """The platforms ``acct`` is connected to, with each connection's scope."""
        return self._connections.get(acct) or {}

    def scope(self, platform: str, acct: str) -> str | None:
        """The scope of the connection ``platform`` -> ``acct`` (``None``: not connected)."""
        return self.platforms_of(acct).get(platform)

    def connect(self, platform: str, acct: str, scope: str) -> tuple[str, str]:
        """Connect ``acct`` to ``platform``; returns a new ``(access token, refresh token)``."""
        self._connections.setdefault(acct, {})[platform] = scope
        self.db.set_kv("connections", self._connections)
        refresh = "rt_" + new_id("x", 40)[2:]
        self._refresh[refresh] = {"platform": platform, "account": acct, "scope": scope}
        self.db.set_kv("refresh_tokens", self._refresh)
        return self.access_token(platform, acct, scope), refresh

    def access_token(self, platform: str, acct: str, scope: str) -> str:
        key = _secret_key()
        self._remember(key, {"account": acct, "kind": OAUTH, "platform": platform, "scope": scope})
        return key

    def refresh_grant(self, platform: str, token: str) -> Obj | None:
        """The connection a refresh token of ``platform`` stands for (``None``: unknown to it)."""
        rec = self._refresh.get(token)
        return rec if rec is not None and rec["platform"] == platform else None

    def disconnect(self, platform: str, acct: str) -> None:
        """End the connection and revoke every token issued for it."""
        links = self._connections.get(acct, {})
        links.pop(platform, None)
        if not links:
            self._connections.pop(acct, None)
        self.db.set_kv("connections", self._connections)
        for rt in [t for t, r in self._refresh.items() if r["platform"] == platform and r["account"] == acct]:
            del self._refresh[rt]
        self.db.set_kv("refresh_tokens", self._refresh)
        for key in [k for k, c in self._creds.items() if c.kind == OAUTH and c.platform == platform and c.account == acct]:
            del self._keys[key], self._creds[key]
        self.db.set_kv("keys", self._keys)
