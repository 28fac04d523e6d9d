"""What the privacy tests share besides fixtures: the demo's distinctive customer, running the
CLI in this process, byte searches, file hashes and table dumps."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from unifiedmcp._times import utc_text
from unifiedmcp.ledger import Ledger, NewOAuthToken
from unifiedmcp.ledger._tokens import hex_hash, new_oauth_token

PSEUDONYM_KEY = "privacy-tests-pseudonym-key-0123456789abcdef"
EMAIL = "zoe.quintessa+erasure@example.org"
NAME = "Zoë Ångström-Quintessa"
FIRST, MONTHS = "2026-03", 2


@dataclass(frozen=True)
class Demo:
    """A demo data directory: ``customer`` now carries ``EMAIL`` and ``NAME``; it was created with
    ``old_email`` and ``old_name``, which the demo's history still holds."""

    data: Path
    months: tuple[str, ...]
    customer: str
    old_email: str
    old_name: str

    @property
    def ledger(self) -> Path:
        return self.data / "ledger.sqlite3"

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"

    @property
    def usage_log(self) -> Path:
        return self.data / "demo" / "usage.parquet"

    def traces(self) -> list[str]:
        """Everything that identifies the customer."""
        return [self.customer, EMAIL, NAME, self.old_email, self.old_name]

    def copy_to(self, data: Path) -> Demo:
        shutil.copytree(self.data, data)
        return Demo(data, self.months, self.customer, self.old_email, self.old_name)


def grant(ledger: Ledger, customer: str, *, label: str) -> str:
    """``customer`` approved an MCP client (the OAuth server's consent page) and the client holds
    an access token; the client, state and redirect URI carry ``label``. Returns the token's id."""
    later = utc_text(datetime.now(UTC) + timedelta(hours=1))
    ledger.oauth.put_client(f"client-{label}", kind="dcr", client_name=f"{label}'s client", metadata="{}")
    ledger.oauth.begin_authorization(client_id=f"client-{label}", request_hash=hex_hash(f"consent-{label}"),
                                     scopes=["mcp:read"], code_challenge="c", redirect_uri=f"http://127.0.0.1/{label}",
                                     redirect_uri_explicit=True, resource="http://127.0.0.1/mcp", state=f"{label}-state",
                                     expires_at=later)
    decided = ledger.oauth.decide_authorization(hex_hash(f"consent-{label}"), customer_id=customer,
                                                scopes=["mcp:read"], code_hash=hex_hash(f"code-{label}"),
                                                code_expires_at=later)
    assert decided is not None
    token_id, _, digest = new_oauth_token("at")
    assert ledger.oauth.redeem_code(decided.auth_id, [NewOAuthToken(token_id, "access", digest, later, ("mcp:read",))])
    return token_id


def run_cli(*args: str) -> tuple[int, str]:
    """``unifiedmcp ARGS`` in this process, in the current environment: (exit code, stdout)."""
    from unifiedmcp.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


def files_under(*roots: Path) -> list[Path]:
    return sorted(p for root in roots if root.exists() for p in root.rglob("*") if p.is_file())


def byte_search(roots: list[Path], words: list[str]) -> dict[str, list[str]]:
    """word -> files under ``roots`` whose bytes hold it, as UTF-8 or escaped in a JSON string."""
    found: dict[str, list[str]] = {}
    for path in files_under(*roots):
        data = path.read_bytes()
        for word in words:
            if any(form in data for form in {word.encode(), json.dumps(word)[1:-1].encode()}):
                found.setdefault(word, []).append(str(path))
    return found


def hashes(*roots: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files_under(*roots)}


def ledger_rows(ledger: Ledger) -> dict[str, list[tuple]]:
    """Every row of every ledger table, on either backend."""
    with ledger.transaction() as conn:
        sql = ("SELECT name FROM sqlite_master WHERE type = 'table'" if ledger.backend == "sqlite" else
               "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        names = sorted(r[0] for r in conn.execute(sql).fetchall())
        return {n: sorted((tuple(r) for r in conn.execute(f"SELECT * FROM {n}").fetchall()), key=repr) for n in names}


def renamed(report: dict, customer: str, pseudonym: str) -> dict:
    """A metrics report with ``customer`` called ``pseudonym``, its lists in the §7 order again."""
    out = json.loads(json.dumps(report).replace(json.dumps(customer), json.dumps(pseudonym)))
    for key in ("overages", "near_limit", "upgrade_candidates"):
        out[key].sort(key=lambda r: (-r["overage_amount"], r["customer"]))
    return out
