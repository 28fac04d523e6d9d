"""Regenerate the committed sample in ``data/sample/`` (deterministic): ``python -m unifiedmcp.demo.sample``.

The sample is a demo history (fixed seed and months) exported from the warehouse as Stripe JSON
Lines, gzip-compressed (``<type>s.jsonl.gz``, current API shape, exactly as the API returned
them), with a few invoices rewritten in the pre-2025 shape, plus a usage log (``usage.csv``) at
``USAGE_SCALE`` of the demo's volume, so that the whole stays under 2 MB (the sample shows usage
by tier and tool, not overages). Load it with::

    unifiedmcp warehouse load-stripe data/sample && unifiedmcp warehouse load-usage data/sample/usage.csv
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import tempfile
from pathlib import Path

import duckdb

from .. import warehouse as wh
from ..months import Month
from ..warehouse import STRIPE_TYPES
from ..warehouse.shapes import to_old_invoice
from ._build import build_demo

__all__ = ["build_sample", "SAMPLE_CUSTOMERS", "SAMPLE_MONTHS", "SAMPLE_FIRST_MONTH", "SAMPLE_SEED", "USAGE_SCALE"]

SAMPLE_CUSTOMERS = 240
SAMPLE_MONTHS = 6
SAMPLE_FIRST_MONTH = "2026-04"
SAMPLE_SEED = 2026
OLD_SHAPE_INVOICES = 12  # rewritten in the pre-2025 shape
USAGE_SCALE = 0.0015  # of the demo's calls: about 15k events
EXPORTED = ("product", "price", "customer", "subscription", "invoice", "charge", "payment_intent", "refund")

# The sandbox's ids are random (prefix + 14 to 24 base62 characters), and so are invoice number
# prefixes; the sample renames them in order of first appearance, and dates the catalog (made at
# wall-clock time, off the test clock) at the history's start, so the committed files are
# byte-for-byte the same for the same history.
_ID = re.compile(r"(?<![A-Za-z0-9])([a-z]+)_((?=[A-Za-z0-9]*[A-Z0-9])[A-Za-z0-9]{14,24})(?![A-Za-z0-9])")
_PREFIX = re.compile(r'"invoice_prefix":"([A-Z0-9]{8})"')
_RANDOM_VALUES = re.compile(r'(?<="fingerprint":")[0-9a-f]{16}(?=")|(?<=_secret_)[A-Za-z0-9_-]+(?=")')


class _Renamer:
    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        for prefix in _PREFIX.findall(text):
            if prefix not in self.names:
                self.names[prefix] = f"S{len(self.names):07d}"[-8:]
        text = re.sub(r"(?<![A-Za-z0-9])([A-Z0-9]{8})(?=-\d{4}\"|\")",
                      lambda m: self.names.get(m.group(1), m.group(1)), text)
        text = _RANDOM_VALUES.sub(self._value, text)  # first: secrets may contain id-like runs
        return _ID.sub(self._one, text)

    def _value(self, m: re.Match[str]) -> str:
        token = m.group(0)
        if token not in self.names:
            self.names[token] = f"{len(self.names):0{len(token)}d}"[-len(token):]
        return self.names[token]

    def _one(self, m: re.Match[str]) -> str:
        token = m.group(0)
        if token not in self.names:
            self.names[token] = f"{m.group(1)}_sample{len(self.names):018d}"
        return self.names[token]


def _date_catalog(node: object, when: int) -> None:
    """Products, prices and plans (embedded anywhere) are dated ``when``: the sandbox made them at
    wall-clock time, off the test clock."""
    if isinstance(node, dict):
        if node.get("object") in ("product", "price", "plan"):
            for key in ("created", "updated"):
                if key in node:
                    node[key] = when
        for v in node.values():
            _date_catalog(v, when)
    elif isinstance(node, list):
        for v in node:
            _date_catalog(v, when)


def _masked(text: str) -> str:
    return _ID.sub(lambda m: m.group(1) + "_", text)


def build_sample(out: Path, *, customers: int = SAMPLE_CUSTOMERS, months: int = SAMPLE_MONTHS,
                 first_month: str = SAMPLE_FIRST_MONTH, seed: int = SAMPLE_SEED) -> dict[str, int]:
    """Write the sample into ``out``; return the number of objects per file."""
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="unifiedmcp-sample-") as tmp:
        db = Path(tmp) / "w.duckdb"
        build_demo(warehouse=db, usage_file=out / "usage.csv", customers=customers, months=months, seed=seed,
                   first_month=first_month, usage_scale=USAGE_SCALE)
        rename = _Renamer()
        con = wh.connect(db, read_only=True)
        try:
            start = int(Month.parse(first_month).start.timestamp())
            prices = {r[0]: json.loads(r[1]) for r in con.execute("SELECT id, data FROM raw_prices").fetchall()}
            _date_catalog(prices, start)
            for object_type in EXPORTED:
                name, raw, _ = STRIPE_TYPES[object_type]
                objs = [json.loads(r[1]) for r in con.execute(f"SELECT created, data FROM {raw}").fetchall()]
                _date_catalog(objs, start)
                texts = [json.dumps(o, separators=(",", ":"), sort_keys=True) for o in objs]
                # Stable order: by created (from the clock), then by content with the random ids masked.
                texts.sort(key=lambda t: (json.loads(t).get("created") or 0, _masked(t)))
                with open(out / (name + ".gz"), "wb") as raw_fh, \
                        gzip.GzipFile(filename="", mode="wb", fileobj=raw_fh, compresslevel=9, mtime=0) as fh:
                    for i, text in enumerate(texts):
                        if object_type == "invoice" and i % max(1, len(texts) // OLD_SHAPE_INVOICES) == 0 \
                                and counts.get("old_shape_invoices", 0) < OLD_SHAPE_INVOICES:
                            text = json.dumps(to_old_invoice(json.loads(text), prices=prices),
                                              separators=(",", ":"), sort_keys=True)
                            counts["old_shape_invoices"] = counts.get("old_shape_invoices", 0) + 1
                        fh.write((rename(text) + "\n").encode("utf-8"))
                counts[name] = len(texts)
        finally:
            con.close()
        usage = out / "usage.csv"
        usage.write_text(rename(usage.read_text(encoding="utf-8")), encoding="utf-8")
        check = duckdb.connect()
        try:
            counts["usage.csv"] = check.execute("SELECT count(*) FROM read_csv($p)",
                                                {"p": str(out / "usage.csv")}).fetchall()[0][0]
        finally:
            check.close()
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("data/sample"))
    args = ap.parse_args()
    counts = build_sample(args.out)
    size = sum(p.stat().st_size for p in args.out.iterdir()) / 1e6
    print(json.dumps(counts), f"{size:.2f} MB in {args.out}")


if __name__ == "__main__":
    main()
