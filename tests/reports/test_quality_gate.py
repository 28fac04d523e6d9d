"""The data-quality gate before publishing: each broken-data case refuses to publish (exit 1, or 2
with --strict for warnings) with a line that says what is wrong, or publishes with a banner."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from unifiedmcp import reports
from unifiedmcp.reports import DataQualityError, check_data

ALL = list(reports.REPORTS)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst) if src.is_dir() else shutil.copyfile(src, dst)
    return dst


def test_a_missing_table_is_an_error_naming_it(cli, warehouse_file: Path, isolated_env: Path) -> None:
    """usage_events dropped from the warehouse: exit 1 naming the table and the reports that need
    it (the report used to say "MCP calls 0"); nothing is published."""
    broken = _copy(warehouse_file, isolated_env / "broken.duckdb")
    con = duckdb.connect(str(broken))
    con.execute("DROP TABLE usage_events")
    con.close()
    code, _, err = cli("report", "--month", "2026-10", "--warehouse", str(broken), "--out", str(isolated_env / "out"))
    assert code == 1
    assert f"error: cannot publish: table usage_events is missing from {broken}; needed by usage, overages" in err
    assert not (isolated_env / "out" / "2026-10").exists()


def test_only_the_reports_asked_for_need_their_tables(warehouse_file: Path, tmp_path: Path) -> None:
    """Without usage_events, payments and revenue can still be published (--only)."""
    broken = _copy(warehouse_file, tmp_path / "broken.duckdb")
    con = duckdb.connect(str(broken))
    con.execute("DROP TABLE usage_events")
    con.close()
    with reports.open_data(warehouse_file) as data:  # the gate reads tables from the file itself
        check = check_data(broken, data, "2026-10", reports=["payments", "revenue_churn"],
                           now=datetime(2026, 12, 1, tzinfo=UTC))
    assert check.warnings == ()


def test_an_export_directory_without_a_usage_file_names_table_and_file(export_dir: Path, tmp_path: Path) -> None:
    exports = _copy(export_dir, tmp_path / "exports")
    (exports / "usage.csv").unlink()
    with pytest.raises(DataQualityError) as info, reports.open_data(exports) as data:
        check_data(exports, data, "2026-10", reports=ALL, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert info.value.tables == ("usage_events",)
    assert "table usage_events is missing in" in str(info.value) and "(no a usage file" in str(info.value)


def _corrupt_invoices(exports: Path, share: int) -> int:
    """Replace every ``share``-th line of invoices.jsonl with a broken one; return how many."""
    path = exports / "invoices.jsonl"
    lines = path.read_text().splitlines()
    broken = 0
    for i in range(0, len(lines), share):
        lines[i] = lines[i][: len(lines[i]) // 2]  # cut in half: invalid JSON
        broken += 1
    path.write_text("\n".join(lines) + "\n")
    return broken


def test_rejected_lines_are_a_warning_and_strict_refuses_with_exit_2(
    cli, export_dir: Path, isolated_env: Path
) -> None:
    """10 % of invoices.jsonl broken: with --strict the run stops before any notebook, exit 2,
    saying how many invoice objects were rejected."""
    exports = _copy(export_dir, isolated_env / "exports")
    broken = _corrupt_invoices(exports, 10)
    code, _, err = cli("report", "--month", "2026-10", "--warehouse", str(exports), "--strict",
                       "--out", str(isolated_env / "out"))
    assert code == 2
    assert "error: data-quality warning(s) refused by --strict:" in err
    assert f"{broken:,} of " in err and "invoice objects were rejected by the loader" in err
    assert not (isolated_env / "out" / "2026-10" / "index.html").exists()


def test_rejected_lines_without_strict_publish_with_a_banner(cli, export_dir: Path, isolated_env: Path) -> None:
    """The same data without --strict: published (exit 0), the warning in a banner on the index
    and on the page, and on stderr."""
    exports = _copy(export_dir, isolated_env / "exports")
    _corrupt_invoices(exports, 10)
    out = isolated_env / "out"
    code, _, err = cli("report", "--month", "2026-10", "--warehouse", str(exports), "--only", "payments",
                       "--out", str(out))
    assert code == 0 and "warning:" in err and "invoice objects were rejected" in err
    for page in ("index.html", "payments.html"):
        text = (out / "2026-10" / page).read_text()
        assert 'class="umcp-banner"' in text and "invoice objects were rejected by the loader" in text, page
    assert not (out / "2026-10" / "usage.html").exists()  # --only


def test_a_small_share_of_rejected_rows_is_within_the_limit(export_dir: Path, tmp_path: Path) -> None:
    """One broken line among 80 invoices (1.2 %) is above the default limit (0.1 %), a warning;
    under --max-rejected-share 0.02, none."""
    exports = _copy(export_dir, tmp_path / "exports")
    path = exports / "invoices.jsonl"
    path.write_text(path.read_text() + "{not json\n")
    with reports.open_data(exports) as data:
        strict = check_data(exports, data, "2026-10", reports=ALL, now=datetime(2026, 12, 1, tzinfo=UTC))
        relaxed = check_data(exports, data, "2026-10", reports=ALL, max_rejected_share=0.02,
                             now=datetime(2026, 12, 1, tzinfo=UTC))
    assert len(strict.warnings) == 1 and relaxed.warnings == ()


def test_the_current_month_is_refused_unless_partial_months_are_allowed(export_dir: Path, tmp_path: Path) -> None:
    """On 2026-10-20, October has not ended: refused; allowed, every page says "partial month"."""
    now = datetime(2026, 10, 20, 12, tzinfo=UTC)
    with reports.open_data(export_dir) as data:
        with pytest.raises(DataQualityError, match="2026-10 has not ended .* pass --allow-partial"):
            check_data(export_dir, data, "2026-10", reports=ALL, now=now)
        with pytest.raises(DataQualityError, match="2026-11 has not begun"):
            check_data(export_dir, data, "2026-11", reports=ALL, allow_partial=True, now=now)
    run = reports.run_reports("2026-10", out_dir=tmp_path / "out", warehouse=export_dir, reports=["usage"],
                              allow_partial=True, now=now)
    assert run.check.partial
    for page in ("index.html", "usage.html"):
        assert "<strong>partial month</strong>: the month has not ended" in (run.directory / page).read_text()


def test_the_current_month_from_the_command_line(cli, warehouse_file: Path) -> None:
    """Today's month, without --allow-partial: exit 1 with the way out in the message."""
    code, _, err = cli("report", "--month", datetime.now(UTC).strftime("%Y-%m"), "--warehouse", str(warehouse_file))
    assert code == 1 and "has not ended" in err and "--allow-partial" in err


@pytest.mark.parametrize(("month", "message"), [
    ("2026-01", "2026-01 is before the data, which starts 2026-07-01"),
    ("2026-11", None),  # renewals on 2026-11-01: data in the month, so past the gate's range check
])
def test_a_month_before_any_data_is_refused(cli, warehouse_file: Path, month: str, message: str | None) -> None:
    with reports.open_data(warehouse_file) as data:
        if message is None:
            check_data(warehouse_file, data, month, reports=["payments"], now=datetime(2026, 12, 2, tzinfo=UTC))
            return
    code, _, err = cli("report", "--month", month, "--warehouse", str(warehouse_file))
    assert code == 1 and f"error: cannot publish: {message}" in err


def test_a_month_after_the_data_and_stale_data(warehouse_file: Path) -> None:
    """2027-02 lies after all the data: refused. November holds only the 1 Nov renewals, so its
    pages would warn that the data stops short of the month's end, and that it has no usage."""
    now = datetime(2027, 3, 15, tzinfo=UTC)
    with reports.open_data(warehouse_file) as data:
        with pytest.raises(DataQualityError, match="2027-02 is after the data, which runs to 2026-11-01"):
            check_data(warehouse_file, data, "2027-02", reports=ALL, now=now)
        november = check_data(warehouse_file, data, "2026-11", reports=ALL, now=now)
    assert any(w.startswith("the Stripe data runs to 2026-11-01") for w in november.warnings)
    assert "no usage events in 2026-11 (table usage_events)" in november.warnings


def test_truncated_lists_are_a_warning(export_dir: Path, tmp_path: Path) -> None:
    """An invoice whose lines list has has_more: its lines are incomplete, and the page says so."""
    exports = _copy(export_dir, tmp_path / "exports")
    path = exports / "invoices.jsonl"
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["lines"]["has_more"] = True
    lines[0] = json.dumps(first)
    with gzip.open(exports / "invoices.jsonl.gz", "wt") as fh:  # the loader takes either; keep one
        fh.write("\n".join(lines) + "\n")
    path.unlink()
    with reports.open_data(exports) as data:
        check = check_data(exports, data, "2026-10", reports=ALL, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert check.warnings == ("1 invoice or subscription list(s) were cut short (has_more): re-export them in "
                              "full; MRR built on them is low",)
