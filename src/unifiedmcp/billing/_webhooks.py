"""The webhook receiver: an ASGI (Starlette) app with ``POST /webhooks/stripe`` and ``GET /healthz``.

    app = create_webhook_app(settings=settings, ledger=ledger)     # uvicorn.run(app, port=8788)

A delivery is verified before anything is stored: body at most 1 MiB (else 413), a
``Stripe-Signature`` matching one of ``settings.webhook_secrets`` (several during rotation) with
a timestamp at most 300 s old, a JSON body that is an event (else 400). A refused delivery is
stored nowhere; it is only counted by reason, in memory, and the counts reach the ledger's
``webhook_rejections`` in batches (``_rejections``: within a second, and at shutdown), so a flood
of forged deliveries costs no ledger write per request. A verified event goes to
:class:`EventProcessor`: 200 when applied, ignored or a duplicate; 500 when its handler failed or
the ledger cannot take it (Stripe then retries).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import stripe
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..config import Settings, TierTable
from ..errors import LedgerError
from ..ledger import Ledger
from ._errors import StripeNotConfigured, WebhookRejected
from ._events import EventOutcome, EventProcessor
from ._rejections import DEFAULT_FLUSH_INTERVAL, RejectionCounter

__all__ = [
    "DEFAULT_TOLERANCE",
    "MAX_BODY_BYTES",
    "WEBHOOK_PATH",
    "WebhookReceiver",
    "create_webhook_app",
    "verify_delivery",
]

log = logging.getLogger("unifiedmcp.billing.webhooks")

WEBHOOK_PATH = "/webhooks/stripe"
DEFAULT_TOLERANCE = 300
MAX_BODY_BYTES = 1024 * 1024
# The last second a datetime can hold (9999-12-31T23:59:59Z); also keeps `created` an SQLite INTEGER.
LAST_CREATED = 253_402_300_799


def verify_delivery(
    body: bytes,
    signature: str | None,
    secrets: Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
) -> dict[str, Any]:
    """The event in ``body`` if ``signature`` is valid for one of ``secrets``; else WebhookRejected.

    Reasons: ``missing_signature``, ``malformed_signature``, ``bad_signature``, ``stale_timestamp``,
    ``invalid_body`` (not UTF-8 / not JSON), ``too_deep`` (JSON nested past the parser's recursion
    limit), ``invalid_event`` (JSON but not an event, or ``created`` not a time from 1970 to 9999).
    A signed body can still be hostile (a leaked secret, a compromised sender): these are refused
    here rather than failing later, unrecorded.
    """
    if not signature:
        raise WebhookRejected("missing_signature")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected("invalid_body") from None
    stale = False
    verified = False
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, signature, secret, tolerance)
        except stripe.SignatureVerificationError as exc:
            message = str(exc)
            if message.startswith("Timestamp outside"):
                stale = True
            elif message.startswith(("Unable to extract", "No signatures found with expected")):
                raise WebhookRejected("malformed_signature") from None
            continue
        verified = True
        break
    if not verified:
        raise WebhookRejected("stale_timestamp" if stale else "bad_signature")
    try:
        event = json.loads(text)
    except ValueError:
        raise WebhookRejected("invalid_body") from None
    except RecursionError:
        raise WebhookRejected("too_deep") from None
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and event["id"]
        and isinstance(event.get("type"), str)
        and isinstance(event.get("created"), int)
        and 0 <= event["created"] <= LAST_CREATED
        and isinstance((event.get("data") or {}).get("object"), dict)
    ):
        raise WebhookRejected("invalid_event")
    return event


class WebhookReceiver:
    """The request handlers; :func:`create_webhook_app` wraps them in a Starlette app.

    Mount :attr:`routes` in another Starlette app (e.g. next to the MCP endpoint) to serve both
    on one port, and run :meth:`lifespan` in that app's lifespan (it writes the last counts of
    refused deliveries at shutdown).
    """

    def __init__(
        self,
        *,
        settings: Settings,
        ledger: Ledger,
        client: stripe.StripeClient | None = None,
        tiers: TierTable | None = None,
        path: str = WEBHOOK_PATH,
        tolerance: int = DEFAULT_TOLERANCE,
        max_body_bytes: int = MAX_BODY_BYTES,
        before_apply: Callable[[Mapping[str, Any]], None] | None = None,
        on_outcome: Callable[[str, str], None] | None = None,
        rejection_flush_interval: float = DEFAULT_FLUSH_INTERVAL,
    ) -> None:
        self.secrets = settings.webhook_secrets
        if not self.secrets:
            raise StripeNotConfigured("STRIPE_WEBHOOK_SECRET is not set; the receiver cannot verify deliveries")
        self.ledger = ledger
        self.tolerance = tolerance
        self.max_body_bytes = max_body_bytes
        self.on_outcome = on_outcome
        self.processor = EventProcessor(ledger, tiers=tiers, client=client, before_apply=before_apply)
        self.rejections = RejectionCounter(ledger, interval=rejection_flush_interval)
        self.routes = [
            Route(path, self.receive, methods=["POST"]),
            Route("/healthz", self.healthz, methods=["GET"]),
        ]

    def __repr__(self) -> str:  # never the secrets
        return f"WebhookReceiver(ledger={self.ledger!r}, secrets={len(self.secrets)})"

    async def _body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None:
            try:
                if int(length) > self.max_body_bytes:
                    raise WebhookRejected("too_large", status=413)
            except ValueError:
                raise WebhookRejected("invalid_body") from None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise WebhookRejected("too_large", status=413)
            chunks.append(chunk)
        return b"".join(chunks)

    async def receive(self, request: Request) -> JSONResponse:
        try:
            body = await self._body(request)
            event = verify_delivery(
                body, request.headers.get("stripe-signature"), self.secrets, tolerance=self.tolerance
            )
        except WebhookRejected as rej:
            log.info("webhook delivery rejected: %s", rej.reason)
            if self.on_outcome is not None:
                self.on_outcome("unverified", rej.reason)
            self.rejections.add(rej.reason)
            return JSONResponse({"error": rej.reason}, status_code=rej.status)
        except ClientDisconnect:
            return JSONResponse({"error": "client_disconnected"}, status_code=400)
        payload = body.decode("utf-8")
        try:
            if self.processor.client is None and self.processor.before_apply is None and self.ledger.backend == "sqlite":
                outcome = self.processor.process(event, payload=payload)  # no I/O besides SQLite: stay on the loop
            else:
                outcome = await run_in_threadpool(self.processor.process, event, payload=payload)
        except LedgerError:  # nothing recorded: Stripe retries the delivery (the ledger logs why)
            log.warning("webhook event %s not processed: the ledger is unavailable", event["id"])
            if self.on_outcome is not None:
                self.on_outcome(str(event["type"]), "failed")
            return JSONResponse({"received": False, "id": event["id"], "error": "ledger_unavailable"}, status_code=500)
        if self.on_outcome is not None:
            self.on_outcome(outcome.type, outcome.status)
        return _response(outcome)

    @asynccontextmanager
    async def lifespan(self, app: object) -> AsyncIterator[None]:
        """Writes the pending counts of refused deliveries when the app shuts down."""
        try:
            yield
        finally:
            await self.rejections.close()

    async def healthz(self, request: Request) -> JSONResponse:
        health = await run_in_threadpool(self.ledger.health)
        if not health.ok:
            return JSONResponse({"ok": False, "error": health.error}, status_code=503)
        return JSONResponse({"ok": True})


def _response(outcome: EventOutcome) -> JSONResponse:
    body: dict[str, Any] = {"received": True, "id": outcome.event_id, "status": outcome.status}
    if outcome.note:
        body["note"] = outcome.note
    if not outcome.ok:
        body["received"] = False
        body["error"] = outcome.error
        return JSONResponse(body, status_code=500)
    return JSONResponse(body)


def create_webhook_app(
    *,
    settings: Settings,
    ledger: Ledger,
    client: stripe.StripeClient | None = None,
    tiers: TierTable | None = None,
    path: str = WEBHOOK_PATH,
    tolerance: int = DEFAULT_TOLERANCE,
    max_body_bytes: int = MAX_BODY_BYTES,
    before_apply: Callable[[Mapping[str, Any]], None] | None = None,
    on_outcome: Callable[[str, str], None] | None = None,
    rejection_flush_interval: float = DEFAULT_FLUSH_INTERVAL,
) -> Starlette:
    """A Starlette app serving ``POST {path}`` (default ``/webhooks/stripe``) and ``GET /healthz``.

    ``client`` lets the receiver re-fetch a subscription when two events of the same second cannot
    be ordered otherwise. ``tiers`` defaults to the ledger's tier table. ``on_outcome(type,
    outcome)`` hears of every delivery (the server counts them for Prometheus): a processed
    event's type and status, or ``("unverified", reason)`` for a refused one. Refused deliveries
    reach the ledger at most ``rejection_flush_interval`` seconds later, and when the app shuts
    down (its lifespan; an app mounting this one must run it too). The receiver is kept as
    ``app.state.receiver``.
    """
    receiver = WebhookReceiver(
        settings=settings,
        ledger=ledger,
        client=client,
        tiers=tiers,
        path=path,
        tolerance=tolerance,
        max_body_bytes=max_body_bytes,
        before_apply=before_apply,
        on_outcome=on_outcome,
        rejection_flush_interval=rejection_flush_interval,
    )
    app = Starlette(routes=receiver.routes, lifespan=receiver.lifespan)
    app.state.receiver = receiver
    return app
