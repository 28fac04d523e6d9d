"""Prometheus metrics of a ``serve`` process (``prometheus_client``), one registry per process.

``/metrics`` on the server's own port answers operator keys only (``Authorization: Bearer`` an
operator key); ``serve --metrics-port P`` also serves them without a key on a port of their own
(for a scraper inside the private network). Every replica exports its own figures: sum them
across replicas in PromQL. Labels never carry a customer id or anything secret.

=========================================  =====================================================
metric                                     meaning
=========================================  =====================================================
``unifiedmcp_calls_total``                 metered tool calls by ``tier``, ``tool``, ``outcome``:
                                           ``admitted`` (ran, succeeded), ``errored`` (ran, failed:
                                           Stripe or the tool), ``rejected`` (past a hard limit),
                                           ``unmetered`` (the ledger could not meter it, so it was
                                           refused: fail closed), ``unknown_customer`` (refused:
                                           not in the ledger, or deleted); ``tier`` is ``unknown``
                                           for these two
``unifiedmcp_metering_seconds``            time to admit and record one call (histogram)
``unifiedmcp_webhook_events_total``        webhook deliveries by ``type`` and ``outcome``
                                           (``applied``, ``ignored``, ``duplicate``, ``failed``);
                                           refused deliveries have ``type="unverified"`` and the
                                           reason as outcome (``bad_signature``, ...)
``unifiedmcp_stripe_errors_total``         Stripe errors of tool calls by ``code`` (Stripe's error
                                           code, else the error class, e.g. ``APIConnectionError``)
``unifiedmcp_open_sessions``               open MCP sessions (streamable HTTP, the 2025 protocol
                                           versions: a 2026-07-28 client holds none)
``unifiedmcp_usage_push_lag_seconds``      age of the oldest billable usage not yet accepted by
                                           Stripe (0 when everything is sent), set after each run of
                                           the usage pusher (``serve`` without ``--no-push-usage``)
=========================================  =====================================================
"""

from __future__ import annotations

import weakref
from contextlib import AbstractContextManager
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    start_http_server,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = [
    "REGISTRY",
    "count_call",
    "count_stripe_error",
    "count_webhook",
    "metering_timer",
    "metrics_endpoint",
    "serve_metrics",
    "set_push_lag",
    "watch_sessions",
]

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

_CALLS = Counter(
    "unifiedmcp_calls", "Metered tool calls by tier, tool and outcome.", ["tier", "tool", "outcome"], registry=REGISTRY
)
_METERING = Histogram(
    "unifiedmcp_metering_seconds",
    "Time to admit and record one metered call in the ledger.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
_WEBHOOKS = Counter(
    "unifiedmcp_webhook_events", "Webhook deliveries by event type and outcome.", ["type", "outcome"], registry=REGISTRY
)
_STRIPE_ERRORS = Counter("unifiedmcp_stripe_errors", "Stripe errors of tool calls by code.", ["code"], registry=REGISTRY)


class _Sessions(Protocol):
    @property
    def sessions_open(self) -> int: ...


_managers: weakref.WeakSet[_Sessions] = weakref.WeakSet()
_OPEN_SESSIONS = Gauge("unifiedmcp_open_sessions", "Open MCP sessions (streamable HTTP).", registry=REGISTRY)
_OPEN_SESSIONS.set_function(lambda: sum(m.sessions_open for m in list(_managers)))


_PUSH_LAG = Gauge(
    "unifiedmcp_usage_push_lag_seconds",
    "Age of the oldest billable usage not yet accepted by Stripe (0: all sent).",
    registry=REGISTRY,
)


def set_push_lag(seconds: float) -> None:
    _PUSH_LAG.set(seconds)


def watch_sessions(manager: _Sessions) -> None:
    """Count ``manager``'s open sessions in ``unifiedmcp_open_sessions`` for as long as it lives."""
    _managers.add(manager)


def count_call(*, tier: str | None, tool: str, outcome: str) -> None:
    _CALLS.labels(tier=tier or "unknown", tool=tool, outcome=outcome).inc()


def metering_timer() -> AbstractContextManager[object]:
    """A context manager timing one metering step into ``unifiedmcp_metering_seconds``."""
    return _METERING.time()


def count_webhook(event_type: str, outcome: str) -> None:
    _WEBHOOKS.labels(type=event_type, outcome=outcome).inc()


def count_stripe_error(code: str) -> None:
    _STRIPE_ERRORS.labels(code=code).inc()


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics`` for operator keys (the app's bearer authentication has run)."""
    scopes = getattr(request.auth, "scopes", [])
    if "operator" not in scopes:
        status = 403 if scopes else 401
        return JSONResponse({"error": "the metrics need an operator key (Authorization: Bearer)"}, status_code=status)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def serve_metrics(*, host: str, port: int) -> None:
    """Serve the metrics without a key on ``host:port`` (a daemon thread)."""
    start_http_server(port, addr=host, registry=REGISTRY)
