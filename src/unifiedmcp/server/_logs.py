"""JSON logs for ``serve --log-format json``: one object per line on stderr, for log shippers.

Each line holds ``ts`` (UTC, the ledger's time text), ``level``, ``logger``, ``message`` and, for
an exception, ``exc`` (its traceback). Messages are the toolkit's own, which never hold a secret.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from .._times import utc_text

__all__ = ["JsonFormatter", "use_json_logs"]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": utc_text(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def use_json_logs(*, level: int = logging.INFO) -> None:
    """Send every logger (uvicorn's too, when it is given ``log_config=None``) to stderr as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
