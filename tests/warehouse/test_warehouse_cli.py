"""``unifiedmcp warehouse``: load commands print counts and line numbers; errors are one line."""

from __future__ import annotations

import json
from pathlib import Path

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
