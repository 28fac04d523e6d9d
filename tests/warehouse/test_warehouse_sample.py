"""The committed sample in data/sample loads cleanly, in both API shapes, and reports sensible numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from unifiedmcp import metrics, warehouse

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@pytest.mark.skipif(not (SAMPLE / "customers.jsonl.gz").exists(), reason="no committed sample")
def test_sample_loads_and_has_a_history(tmp_path: Path) -> None:
    """Every line loads (gzip JSON Lines), old-shape invoices included; the months show revenue and usage."""
    db = tmp_path / "w.duckdb"
    loaded = warehouse.load_stripe(db, SAMPLE)
    assert loaded.rejected == 0 and loaded.loaded > 1_000
    usage = warehouse.load_usage(db, SAMPLE / "usage.csv")
    assert usage.malformed == 0 and usage.duplicates == 0 and usage.loaded > 1_000
    con = warehouse.connect(db, read_only=True)
    try:
        shapes = dict(con.execute("SELECT api_shape, count(*) FROM invoice_lines GROUP BY 1").fetchall())
    finally:
        con.close()
    assert shapes.get("old", 0) > 0 and shapes.get("current", 0) > 0
    months = metrics.data_months(db)
    frame = metrics.report_frame(db, months[0], months[-1])
    assert frame["mrr_end"].max() > 0 and frame["usage_calls"].sum() == usage.loaded
    assert (frame["subscribers_end"] == frame["subscribers_start"] + frame["subscribers_new"]
            + frame["subscribers_reactivated"] - frame["subscribers_churned"]).all()
