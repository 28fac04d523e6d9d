"""A tiny webhook receiver (threaded HTTP server on 127.0.0.1) for tests and notebooks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["WebhookReceiver", "Received"]


@dataclass(frozen=True)
class Received:
    """One delivery as the receiver saw it (raw body and headers, for signature checks)."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def signature(self) -> str:
        return self.headers.get("stripe-signature", "")


class WebhookReceiver:
    """Records every POST; answers 200 unless told to fail (``fail_next(n, status)``).

    ``url`` is where to point a webhook endpoint. Use as a context manager or call ``close()``.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.received: list[Received] = []
        self._fail: list[int] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver._cond:
                    status = receiver._fail.pop(0) if receiver._fail else 200
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, status)
                    )
                    receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://{host}:{self._httpd.server_address[1]}/webhooks/stripe"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def fail_next(self, n: int, *, status: int = 500) -> None:
        """Answer the next ``n`` deliveries with ``status``."""
        with self._cond:
            self._fail.extend([status] * n)

    def events(self, *, accepted_only: bool = False) -> list[dict[str, Any]]:
        with self._cond:
            return [r.event for r in self.received if not accepted_only or 200 <= r.status < 300]

    def wait_for(self, predicate: Callable[[list[Received]], bool], *, timeout: float = 10.0) -> list[Received]:
        """Wait until ``predicate(received)`` holds; returns the deliveries so far."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.received):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"webhook condition not met; got {[r.event.get('type') for r in self.received]}")
                self._cond.wait(left)
            return list(self.received)

    def wait_for_types(self, *types: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until an event of each given type has been received; returns all events."""
        def ok(rs: list[Received]) -> bool:
            seen = {r.event.get("type") for r in rs}
            return all(t in seen for t in types)

        self.wait_for(ok, timeout=timeout)
        return self.events()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
