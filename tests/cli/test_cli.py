"""The ``unifiedmcp`` command: help everywhere, one-line errors, and bad input that changes nothing."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from unifiedmcp import __version__
from unifiedmcp.cli import app


def _all_commands() -> list[list[str]]:
    """Every command path of the CLI, groups included."""
    paths: list[list[str]] = []

    def walk(cmd, prefix: list[str]) -> None:
        paths.append(prefix)
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_every_command_has_help(run) -> None:
    """--help works on the root and on every group and command, and describes it."""
    paths = _all_commands()
    assert ["keys", "create"] in paths and ["ledger", "export-usage"] in paths
    for path in paths:
        r = run(*path, "--help")
        assert r.code == 0, (path, r.err)
        assert "Usage:" in r.out


def test_help_shows_settings_sections_in_square_brackets(run) -> None:
    """A help text that names a settings section ([retention], [alerts]) shows it, in the group's
    help and in the root's list: Rich would otherwise take it for a style tag and print nothing."""
    for group in ("retention", "alerts"):
        assert f"[{group}]" in run(group, "--help").out, group
        assert f"[{group}]" in run("--help").out, group


def test_usage_errors_exit_2_with_a_message(run) -> None:
    """An unknown option is a usage error (exit 2) that names the option."""
    r = run("usage", "show", "--bogus")
    assert r.code == 2 and "--bogus" in r.err


def test_each_invocation_reads_the_environment_afresh(run, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second main() in one process sees the current environment (settings are not kept)."""
    assert run("customers", "add", "cus_a").code == 0
    monkeypatch.setenv("UNIFIEDMCP_DATA_DIR", str(isolated_env / "other"))
    assert "cus_a" not in run("customers", "list").out
    assert (isolated_env / "other" / "ledger.sqlite3").exists()


def test_version(run) -> None:
    r = run("--version")
    assert (r.code, r.out.strip()) == (0, f"unifiedmcp {__version__}")


def test_key_lifecycle_shows_the_token_once(run) -> None:
    assert run("customers", "add", "cus_1", "--tier", "pro").code == 0
    created = run("keys", "create", "--customer", "cus_1", "--name", "ci")
    token = created.out.strip().splitlines()[-1]
    assert created.code == 0 and token.startswith("umk_")
    listed = run("keys", "list")
    assert token not in listed.out and token.split("_")[1] in listed.out
    key_id = "umk_" + token.split("_")[1]
    assert run("keys", "revoke", key_id).code == 0
    assert "revoked" in run("keys", "list", "--customer", "cus_1").out


def _ledger_digest(root: Path) -> str:
    path = root / "data" / "ledger.sqlite3"
    if not path.exists():
        return "absent"
    import sqlite3

    return hashlib.sha256("\n".join(sqlite3.connect(path).iterdump()).encode()).hexdigest()


@pytest.mark.parametrize(
    "args, message",
    [
        (["keys", "create", "--customer", "cus_nobody"], "unknown customer 'cus_nobody'"),
        (["usage", "show", "--customer", "cus_nobody"], "unknown customer 'cus_nobody'"),
        (["usage", "show", "--month", "2026-13"], "invalid month 2026-13"),
        (["ledger", "export-usage", "--month", "2026-13"], "invalid month 2026-13"),
        (["keys", "revoke", "umk_000000000000"], "API key not found"),
        (["connections", "add", "--customer", "cus_1", "--provider", "google"], "the most tier free allows"),
        (["connections", "add", "--customer", "cus_1", "--provider", "stripe"], "needs --api-key-env VAR"),
        (["connections", "add", "--customer", "cus_1", "--provider", "stripe", "--api-key-env", "NOT_SET_ANYWHERE"],
         "NOT_SET_ANYWHERE is not set"),
        (["connections", "connect", "--customer", "cus_1"], "UNIFIEDMCP_SECRET_KEY is not set"),
        (["connections", "rotate-keys"], "UNIFIEDMCP_SECRET_KEY is not set"),
        (["keys", "create"], "give --customer CUSTOMER"),
        (["keys", "create", "--customer", "cus_1", "--operator"], "give --customer CUSTOMER"),
        (["customers", "add", "cus_2", "--tier", "platinum"], "unknown tier 'platinum'"),
        (["ledger", "export-usage", "--month", "2026-10", "--format", "xml"], "unknown format 'xml'"),
    ],
)
def test_bad_input_gives_one_line_and_changes_nothing(run, isolated_env: Path, args: list[str], message: str) -> None:
    """Each error is one 'error: …' line on stderr, exit code 1, and the ledger is byte-for-byte unchanged."""
    run("customers", "add", "cus_1")
    run("connections", "add", "--customer", "cus_1", "--provider", "github")
    before = _ledger_digest(isolated_env)
    r = run(*args)
    assert r.code == 1
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.err
    assert _ledger_digest(isolated_env) == before


def test_malformed_tier_file_is_one_line(run, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated_env / "tiers.toml").write_text("[tiers.free\n")
    monkeypatch.setenv("UNIFIEDMCP_TIERS_FILE", str(isolated_env / "tiers.toml"))
    r = run("usage", "show")
    assert r.code == 1 and r.err.startswith("error: malformed tier file") and len(r.err.strip().splitlines()) == 1


def test_unwritable_ledger_path_is_one_line(run, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated_env / "blocker").write_text("a file, not a directory")
    monkeypatch.setenv("UNIFIEDMCP_LEDGER", str(isolated_env / "blocker" / "ledger.sqlite3"))
    r = run("customers", "list")
    assert r.code == 1 and r.err.startswith("error: cannot open ledger")


def test_debug_shows_the_traceback(run) -> None:
    """--debug prints the whole traceback (masked, like every line) instead of the one error line."""
    r = run("--debug", "usage", "show", "--month", "2026-13")
    assert r.code == 1 and r.err.startswith("Traceback (most recent call last)")
    assert r.err.rstrip().endswith("unifiedmcp.errors.InvalidInput: invalid month 2026-13: expected YYYY-MM with MM "
                                   "from 01 to 12")


def test_installed_entry_point_exits_non_zero_on_error(isolated_env: Path) -> None:
    """The console script itself (not only main()) turns an error into exit code 1."""
    exe = Path(sys.executable).with_name("unifiedmcp")
    r = subprocess.run([str(exe), "usage", "show", "--month", "2026-13"], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.startswith("error: invalid month")


def test_export_usage_writes_the_requested_format(run, isolated_env: Path) -> None:
    run("customers", "add", "cus_1", "--tier", "pro")
    run("ledger", "demo", "--month", "2026-10")
    out = isolated_env / "oct.parquet"
    r = run("ledger", "export-usage", "--month", "2026-10", "--format", "parquet", "--out", str(out))
    assert r.code == 0 and out.exists()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_unwritable_out_path_is_named_with_the_reason(run, isolated_env: Path, fmt: str) -> None:
    """export-usage --out into a missing folder, onto a directory, or under a file, and report --out
    under a file: one line naming the path and why it cannot be written, not a bare OSError."""
    run("customers", "add", "cus_1")
    (isolated_env / "plain").write_text("a file")
    (isolated_env / "folder").mkdir()
    cases = {
        isolated_env / "missing" / f"u.{fmt}": f"its folder {isolated_env / 'missing'} does not exist",
        isolated_env / "folder": "it is a directory",
        isolated_env / "plain" / f"u.{fmt}": "a part of the path is not a directory",
    }
    for out, why in cases.items():
        r = run("ledger", "export-usage", "--month", "2026-10", "--format", fmt, "--out", str(out))
        assert r.code == 1 and r.err == f"error: cannot write {out}: {why}\n", r.err
    r = run("report", "--month", "2026-09", "--out", str(isolated_env / "plain" / "reports"))
    assert r.code == 1
    assert r.err == f"error: cannot write {isolated_env / 'plain' / 'reports'}: a part of the path is not a directory\n"


def test_control_characters_and_markup_from_the_data_reach_the_terminal_inert(run, isolated_env: Path) -> None:
    """An e-mail holding ANSI escapes and rich markup (as a customer may set through Stripe, and the
    webhook copies into the ledger) is shown as text in tables, lines and error lines: escapes made
    visible (\\x1b), markup printed as typed, nothing the terminal would act on."""
    email = "a\x1b[31mred\x1b]0;title\x07\u202e[link=https://evil.example]b[/link]@x.io"
    assert run("customers", "add", "cus_esc", "--email", email).code == 0
    r = run("customers", "list")
    visible = "a\\x1b[31mred\\x1b]0;title\\x07\\u202e[link=https://evil.example]b[/link]@x.io"
    assert r.code == 0 and visible in r.out
    assert not any(c in r.out for c in "\x1b\x07\u202e"), repr(r.out)
    r = run("warehouse", "load-usage", str(isolated_env / "x\x1b[2Jy.csv"))
    assert r.code == 1 and r.err == f"error: no such file: {isolated_env}/x\\x1b[2Jy.csv\n"
    r = run("--debug", "warehouse", "load-usage", str(isolated_env / "x\x1b[2Jy.csv"))
    assert r.code == 1 and "Traceback" in r.err and "\x1b" not in r.err and "x\\x1b[2Jy.csv" in r.err
