"""The benchmark's generator and pandas baseline at a tiny size: the two implementations agree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from unifiedmcp import metrics, warehouse

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_metrics.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_metrics", BENCH)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_generator_loads_and_pandas_agrees_with_duckdb(tmp_path: Path) -> None:
    """Synthetic export (both API shapes) + usage load cleanly; DuckDB and pandas give the same month."""
    bench = _bench()
    counts = bench.generate(tmp_path / "export", customers=300, months=12, usage_events=20_000)
    assert counts["invoices"] == 300 * 12 and counts["charges"] == 300 * 12 + 300 * 12 // 4
    db = tmp_path / "w.duckdb"
    loaded = warehouse.load_stripe(db, tmp_path / "export")
    assert loaded.rejected == 0 and loaded.truncated == 0
    assert warehouse.load_usage(db, counts["usage"]).malformed == 0
    report = metrics.monthly(db, bench.MONTH)
    start = pd.Timestamp(f"{bench.MONTH}-01")
    baseline = bench.pandas_month(bench.pandas_frames(db), start, start + pd.DateOffset(months=1),
                                  included={"free": 100, "pro": 10_000, "enterprise": 100_000})
    assert {k: round(float(v), 2) for k, v in baseline["mrr"].items()} == {k: float(v) for k, v in report["mrr"].items()}
    assert baseline["subscribers"] == report["subscribers"]
    assert baseline["usage"] == report["usage"]
    assert baseline["overages"] == len(report["overages"])  # each call on its own tier (§6 v2)
    assert report["mrr"]["end"] > 0 and report["subscribers"]["churned"] > 0
