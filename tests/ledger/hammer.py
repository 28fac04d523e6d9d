"""A load process for the concurrency tests: N metered calls for one customer, counting outcomes.

Usage: python hammer.py LEDGER CUSTOMER CALLS  → prints "admitted rejected"
LEDGER is a SQLite file or a PostgreSQL URL.
"""

import sys

from unifiedmcp import QuotaExceeded
from unifiedmcp.ledger import Ledger

target, customer, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
admitted = rejected = 0
with Ledger(target) as ledger:
    for _ in range(calls):
        try:
            ledger.check_and_record(customer, "hammer")
            admitted += 1
        except QuotaExceeded:
            rejected += 1
print(admitted, rejected, flush=True)
