"""``unifiedmcp warehouse``: load commands print counts and line numbers; errors are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unifiedmcp.warehouse import shapes


def test_load_stripe_prints_counts_and_is_idempotent(cli, tmp_path: Path) -> None:
    """load-stripe prints loaded/replaced/rejected; the second run replaces instead of adding."""
    export = tmp_path / "export"
    shapes.write_jsonl(export, [shapes.customer("cus_1", created=1), shapes.customer("cus_2", created=2)])
    with (export / "customers.jsonl").open("a") as fh:
        fh.write("garbage\n")
    code, out, err = cli("warehouse", "load-stripe", str(export))
    assert code == 0 and "loaded 2, replaced 0, rejected 1" in out
    assert "customers.jsonl:3: invalid JSON" in err
    code, out, _ = cli("warehouse", "load-stripe", str(export), "--json")
    assert (json.loads(out)["loaded"], json.loads(out)["replaced"]) == (0, 2)


def test_load_usage_reports_malformed_lines(cli, tmp_path: Path) -> None:
    """load-usage prints each malformed row's line and the totals."""
    usage = tmp_path / "u.csv"
    usage.write_text("event_id,customer_id,tool_name,timestamp\n"
                     "e1,cus_1,t,2026-10-01T00:00:00Z\ne2,cus_1,t,whenever\ne1,cus_1,t,2026-10-01T00:00:00Z\n")
    code, out, err = cli("warehouse", "load-usage", str(usage))
    assert code == 0 and "loaded 1, duplicates 1, malformed 1" in out
    assert "u.csv:3: invalid timestamp" in err


def test_missing_inputs_are_one_line_errors(cli, tmp_path: Path) -> None:
    """A missing directory, file or ledger exits 1 with one line."""
    for args in (("load-stripe", str(tmp_path / "none")), ("load-usage", str(tmp_path / "none.csv")),
                 ("pull-usage", "--ledger", str(tmp_path / "none.sqlite3"))):
        code, _, err = cli("warehouse", *args)
        assert code == 1 and len(err.strip().splitlines()) == 1 and err.startswith("error:"), args


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_an_input_that_is_a_directory_or_a_device_is_named_as_such(cli, tmp_path: Path) -> None:
    """A directory or /dev/zero given as the usage file (or a Stripe export file) is called what
    it is, not "no such file"."""
    folder = tmp_path / "usage.csv"
    folder.mkdir()
    code, _, err = cli("warehouse", "load-usage", str(folder))
    assert code == 1 and _one_error_line(err) == f"error: {folder} is a directory, not a file"
    code, _, err = cli("warehouse", "load-usage", "/dev/zero", "--format", "csv")
    assert code == 1 and _one_error_line(err) == "error: /dev/zero is not a regular file (a character device)"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_carriage_return_inside_a_line_is_named_with_its_line(cli, tmp_path: Path, fmt: str) -> None:
    """Garbage with a lone carriage return (after the good lines and a blank one), which DuckDB's
    reader cannot split into lines, is reported as that, with its line, not as DuckDB's "CSV Parser" text."""
    path = tmp_path / f"usage.{fmt}"
    good = ('{"event_id": "e1", "customer_id": "c", "tool_name": "t", "timestamp": "2026-10-01"}\n' if fmt == "jsonl"
            else "event_id,customer_id,tool_name,timestamp\ne1,c,t,2026-10-01\n")
    path.write_bytes(good.encode() + b"\n" + b"\x8f\x00garbage\rmore\x07\n")
    code, _, err = cli("warehouse", "load-usage", str(path))
    line = _one_error_line(err)
    assert code == 1 and "CSV Parser" not in line
    assert line == (f"error: cannot read {path} as lines: line {good.count(chr(10)) + 2} holds a carriage return (\\r) "
                    "that is not part of a line break (\\n or \\r\\n)")
