"""Reading a text file as numbered lines with DuckDB's parallel CSV reader.

The file is read as one VARCHAR column with a delimiter (U+0001) that valid JSON never contains
unescaped, so every physical line becomes one row and table insertion order gives line numbers.
Lines the reader refuses (too long, or containing a raw U+0001) are reported with their numbers.
Also here: opening an input file that may be gzip-compressed, measuring its last line, and naming
the line when the reader cannot split a file into lines at all.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import duckdb

from ..errors import WarehouseError

__all__ = ["read_lines", "MAX_LINE_BYTES", "open_input", "last_line_longer_than", "split_into_lines"]

MAX_LINE_BYTES = 256 * 1024 * 1024

READ_LINES_SQL = """
CREATE OR REPLACE TEMP TABLE {target}_physical AS
SELECT line
FROM read_csv($path, columns = {{'line': 'VARCHAR'}}, delim = chr(1), quote = '', escape = '',
              header = false, auto_detect = false, max_line_size = {max_line},
              ignore_errors = true, store_rejects = true,
              rejects_table = '{target}_rej', rejects_scan = '{target}_rej_scan')
"""

# Rows keep insertion order, and their rowids are consecutive (inside a transaction they start at
# a large offset, hence `rowid - min(rowid)`).
# Accepted row r (0-based insertion order) is physical line r + 1 + m, where m counts the refused
# lines R_j (sorted, j 1-based) with R_j - j <= r.
NUMBER_LINES_SQL = """
CREATE OR REPLACE TEMP TABLE {target} AS
WITH refused AS (
    SELECT line AS line_no, row_number() OVER (ORDER BY line) AS j
    FROM (SELECT DISTINCT line FROM {target}_rej)
)
SELECT r + 1 + (SELECT count(*) FROM refused WHERE refused.line_no - refused.j <= p.r) AS line_no, line
FROM (SELECT rowid - (SELECT min(rowid) FROM {target}_physical) AS r, line FROM {target}_physical) p
"""

NUMBER_LINES_FAST_SQL = """
CREATE OR REPLACE TEMP TABLE {target} AS
SELECT rowid - (SELECT min(rowid) FROM {target}_physical) + 1 AS line_no, line FROM {target}_physical
"""


def read_lines(con: duckdb.DuckDBPyConnection, path: Path, *, target: str) -> list[tuple[int, str]]:
    """Fill temp table ``target(line_no BIGINT, line VARCHAR)``; return the refused (line, reason).

    Blank lines are kept (``line`` NULL or empty) so numbering stays physical; callers skip them.
    """
    with split_into_lines(path):
        con.execute(READ_LINES_SQL.format(target=target, max_line=MAX_LINE_BYTES), {"path": str(path)})
    refused = con.execute(
        f"SELECT line, any_value(error_type) FROM {target}_rej GROUP BY line ORDER BY line"
    ).fetchall()
    sql = NUMBER_LINES_SQL if refused else NUMBER_LINES_FAST_SQL
    con.execute(sql.format(target=target))
    con.execute(f"DROP TABLE {target}_physical; DROP TABLE {target}_rej; DROP TABLE {target}_rej_scan")
    return [(int(line), str(kind).lower().replace("_", " ")) for line, kind in refused]


def open_input(path: Path, mode: str = "rb", **kwargs: Any) -> IO[Any]:
    """Open ``path`` for reading, decompressing it when its name ends in ``.gz`` (as DuckDB does)."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, mode, **kwargs)  # type: ignore[return-value]
    return open(path, mode, **kwargs)


def last_line_longer_than(path: Path, limit: int) -> bool:
    """Whether the file's last non-blank line may be longer than ``limit`` bytes.

    Only the last ``2 * limit`` bytes are looked at (a gzip file is decompressed to get there): a
    line starting before them, or that many bytes of trailing line breaks, count as longer.
    """
    window = 2 * limit
    with open_input(path) as fh:
        if isinstance(fh, gzip.GzipFile):
            tail = b""
            while chunk := fh.read(1 << 24):
                tail = (tail + chunk)[-window:]
        else:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - window))
            tail = fh.read()
    body = tail.rstrip(b"\r\n")
    start = body.rfind(b"\n") + 1  # a lone \r does not end the line here: the estimate errs long
    if start == 0 and len(tail) == window:
        return True
    return len(body) - start > limit


_LONE_CR = re.compile(rb"\r(?!\n)")


@contextmanager
def split_into_lines(path: Path) -> Iterator[None]:
    """Around a DuckDB read of ``path``: if it fails and the file holds a carriage return outside a
    ``\\r\\n`` line break, a WarehouseError naming that line instead. DuckDB's reader cannot split
    such a file into lines, ignore_errors or not, and says only "The CSV Parser state machine
    reached an invalid state" (for JSON Lines too). Other errors pass unchanged.
    """
    try:
        yield
    except duckdb.InvalidInputException:
        line = _lone_carriage_return(path)
        if line is None:
            raise
        raise WarehouseError(
            f"cannot read {path} as lines: line {line} holds a carriage return (\\r) that is not part of "
            "a line break (\\n or \\r\\n)",
            path=path,
        ) from None


def _lone_carriage_return(path: Path) -> int | None:
    """The number of the first line holding a \\r not followed by \\n, or None."""
    line, held = 1, b""
    with open_input(path) as fh:
        while chunk := fh.read(1 << 24):
            data = held + chunk
            held = data[-1:] if data.endswith(b"\r") else b""  # its \n may begin the next chunk
            data = data[: len(data) - len(held)]
            found = _LONE_CR.search(data)
            if found:
                return line + data.count(b"\n", 0, found.start())
            line += data.count(b"\n")
    return line if held else None
