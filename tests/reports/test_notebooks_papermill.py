"""Each report notebook run by papermill with non-default parameters into a temporary folder: the
parameters reach the notebook and change what it shows, and its headline agrees with the package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
import report_dataset

from unifiedmcp import metrics, reports
from unifiedmcp.errors import InvalidInput
from unifiedmcp.reports import default_notebooks_dir, money, percent, run_notebook


def _run(name: str, tmp_path: Path, **parameters: object) -> nbformat.NotebookNode:
    out = tmp_path / f"{name}.ipynb"
    run_notebook(default_notebooks_dir() / f"{name}.ipynb", out, parameters=parameters)
    return nbformat.read(out, as_version=4)


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append(o["text"])
        elif "data" in o and "text/plain" in o["data"]:
            parts.append(o["data"]["text/plain"])
    return "\n".join(parts)


def _headline(nb: nbformat.NotebookNode) -> str:
    cells = [c for c in nb.cells if c.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in c.source]
    assert len(cells) == 1
    return _text(cells[0])


def _kpi(head: str, label: str) -> str:
    """The value printed next to ``label`` in a KPIs block."""
    for line in head.splitlines():
        if line.strip().startswith(label + "  "):
            return line.strip()[len(label):].strip()
    raise AssertionError(f"no {label!r} in:\n{head}")


def _all_text(nb: nbformat.NotebookNode) -> str:
    return "\n".join(_text(c) for c in nb.cells if c.cell_type == "code")


def test_usage_for_another_month_and_top_n(export_dir: Path, tmp_path: Path) -> None:
    """usage with month=2026-10 and top_n=3: the headline is October's and the table has 3 rows."""
    nb = _run("usage", tmp_path, month="2026-10", warehouse=str(export_dir), top_n=3)
    r = metrics.monthly(reports.connect_data(export_dir), "2026-10")
    head = _headline(nb)
    assert "Usage, 2026-10" in head and _kpi(head, "calls") == f"{r['usage']['calls']:,}"
    assert nb.metadata.papermill.parameters["top_n"] == 3
    top_table = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("reports.table(top")][0]
    assert _text(top_table).count("cus_r") == 3


def test_revenue_churn_with_chartmogul_convention(export_dir: Path, tmp_path: Path) -> None:
    """revenue_churn with convention=chartmogul shows metrics' chartmogul churn rate, not stripe's."""
    nb = _run("revenue_churn", tmp_path, month="2026-10", warehouse=str(export_dir), convention="chartmogul", history_months=2)
    con = reports.connect_data(export_dir)
    cm = metrics.monthly(con, "2026-10", convention="chartmogul")
    st = metrics.monthly(con, "2026-10", convention="stripe")
    assert cm["subscriber_churn_rate"] != st["subscriber_churn_rate"]  # the data tells them apart
    head = _headline(nb)
    assert "chartmogul convention" in head
    assert _kpi(head, "subscriber churn rate") == percent(cm["subscriber_churn_rate"])
    assert money(cm["mrr"]["end"]) in head


def test_payments_alerts_below_a_stricter_success_threshold(export_dir: Path, tmp_path: Path) -> None:
    """payments with min_success_rate=0.99 raises its alert (the default 0.9 would not, at 81.5%...
    any rate under 99% does)."""
    nb = _run("payments", tmp_path, month="2026-10", warehouse=str(export_dir), min_success_rate=0.99)
    rate = metrics.monthly(reports.connect_data(export_dir), "2026-10")["payments"]["success_rate"]
    assert rate < 0.99
    assert f"ALERT: success rate {percent(rate)} is below 99.0%" in _all_text(nb)
    assert _kpi(_headline(nb), "success rate") == percent(rate)


def test_overages_with_a_lower_near_threshold(export_dir: Path, tmp_path: Path) -> None:
    """overages with near_threshold=0.5 counts as "near" every customer at 50% or more, neither over
    nor an upgrade candidate (free customers with rejected calls are counted as those); it shows
    the overage billed (metered invoice lines) beside the overage computed from usage."""
    nb = _run("overages", tmp_path, month="2026-10", warehouse=str(export_dir), near_threshold=0.5)
    con = reports.connect_data(export_dir)
    per = metrics.usage_by_customer(con, "2026-10")
    near = int(((per["over"] == 0) & (per["utilisation"] >= 0.5) & ~per["upgrade_candidate"]).sum())
    near_default = int((reports.usage_watchlist(con, "2026-10")["status"] == "near").sum())
    assert near != near_default
    head = _headline(nb)
    assert _kpi(head, "near their limit (>= 50%)") == str(near)
    assert _kpi(head, "customers over their limit") == str(int((per["over"] > 0).sum()))
    assert _kpi(head, "upgrade candidates") == str(int(per["upgrade_candidate"].sum()))
    r = metrics.monthly(con, "2026-10")
    assert r["overage_expected"] > 0
    assert _kpi(head, "overage billed (invoiced)") == money(r["overage_revenue"])
    assert _kpi(head, "overage computed (ledger)") == money(r["overage_expected"])


def test_ops_reads_the_ledger_and_alerts_on_failures(export_dir: Path, ledger_file: Path, tmp_path: Path) -> None:
    """ops with a ledger and max_failed_events=1: the webhook counts are the ledger's and the alert
    names the 3 failed events."""
    nb = _run("ops", tmp_path, month="2026-10", warehouse=str(export_dir), ledger=str(ledger_file), max_failed_events=1)
    head = _headline(nb)
    expected = {"received": "20", "failed": "3", "replayed": "1", "rejected (all time)": "4",
                "hours since last success": "348"}  # last applied event 2026-10-17 12:00, as of 11-01
    assert {k: _kpi(head, k) for k in expected} == expected
    assert "ALERT: 3 webhook event(s) failed (threshold 1)" in _all_text(nb)


def test_ops_reads_a_postgresql_ledger_and_never_writes_its_url(
    export_dir: Path, tmp_path: Path, postgres_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_reports with a PostgreSQL ledger URL (with a password): the ops report shows the same
    webhook counts as from a SQLite ledger, and neither the URL nor its password is in any
    published notebook or page (the runner gives the notebook "" and it reads the configured URL)."""
    url = report_dataset.build_ledger(postgres_cluster.create_database()) + "?password=pw-marker-5f2c"
    monkeypatch.setenv("UNIFIEDMCP_LEDGER", url)
    run = reports.run_reports("2026-10", out_dir=tmp_path / "out", warehouse=export_dir, ledger=url,
                              reports=["ops"], parameters={"ops": {"max_failed_events": 1}})
    nb = nbformat.read(run.directory / "notebooks" / "ops.ipynb", as_version=4)
    head = _headline(nb)
    expected = {"received": "20", "failed": "3", "replayed": "1", "rejected (all time)": "4"}
    assert {k: _kpi(head, k) for k in expected} == expected
    published = [p for p in run.directory.rglob("*") if p.is_file() and p.suffix in (".ipynb", ".html", ".log")]
    assert published and not [p for p in published if "pw-marker-5f2c" in p.read_text(errors="replace")
                              or "postgresql://" in p.read_text(errors="replace")]


def test_a_failing_notebook_is_named_with_its_cell(tmp_path: Path) -> None:
    """A notebook that raises: ReportFailed names the notebook, the failing cell and the error, and
    keeps the executed notebook."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("y = x + 1"),
        nbformat.v4.new_code_cell("raise ValueError('broken on purpose')"),
    ])
    nb.metadata["kernelspec"] = {"name": "unifiedmcp", "display_name": "UnifiedMCP", "language": "python"}
    source = tmp_path / "broken.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(reports.ReportFailed) as info:
        run_notebook(source, tmp_path / "out.ipynb", parameters={"x": 2})
    err = info.value
    assert err.notebook == "broken"
    assert err.cell == 3  # papermill's injected parameters cell comes first
    assert "ValueError: broken on purpose" in err.error
    assert err.output == (tmp_path / "out.ipynb").resolve() and err.output.exists()
    assert "broken" in str(err) and "cell 3" in str(err)


def test_secret_looking_parameters_are_refused(tmp_path: Path) -> None:
    """A parameter value shaped like a Stripe key is refused before any notebook runs (papermill
    would store it in the output notebook twice)."""
    with pytest.raises(InvalidInput) as info:
        run_notebook(default_notebooks_dir() / "usage.ipynb", tmp_path / "x.ipynb",
                     parameters={"warehouse": "sk_test_123"})
    assert "looks like a secret" in str(info.value)
    assert not (tmp_path / "x.ipynb").exists()
