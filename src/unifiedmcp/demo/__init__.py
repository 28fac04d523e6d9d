"""The demo: a believable SaaS history built on the local sandbox and synced into the warehouse.

    from unifiedmcp.demo import build_demo
    result = build_demo(warehouse=Path("data/warehouse.duckdb"), usage_file=Path("data/demo/usage.csv"),
                        customers=60, months=6, seed=7)

Public API:
- ``build_demo(*, warehouse, usage_file, customers=60, months=6, seed=7, first_month=None,
  replace=False, progress=False, on_stage=...) -> DemoResult``
- ``DemoResult``: warehouse, usage_file, customers, months (list of "YYYY-MM"), usage_events,
  seconds, skipped_actions, sync_requests, stages.
- ``python -m unifiedmcp.demo.sample`` regenerates the committed sample in ``data/sample/``.

From a shell: ``unifiedmcp demo build [--customers N] [--months M] [--seed S] [--replace]``.
"""

from ._build import DemoResult, build_demo

__all__ = ["DemoResult", "build_demo"]
