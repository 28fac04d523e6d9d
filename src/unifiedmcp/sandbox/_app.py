"""The ASGI application: auth, rate limit, form decoding, idempotency, dispatch, rendering.

Handlers are synchronous and run on the event loop under the store lock: each request is one
atomic step over the in-memory state, with no thread hand-off (that is most of the speed).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import json
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from . import _resources  # noqa: F401  (registers the API routes)
from ._clock import run_until
from ._errors import StripeError, invalid
from ._form import decode_form
from ._objects import new_id
from ._params import check_params, warm_up
from ._resources.invoices import register_includables
from ._router import resolve
from ._state import API_VERSION, Sandbox
from ._webhooks import Dispatcher, ForwardTarget

__all__ = ["create_app"]

_KEY = re.compile(r"^(sk|rk)_test_[A-Za-z0-9_]+$")
_IDEMPOTENCY_CACHE = 10_000


def _mask(key: str) -> str:
    return key[:8] + "*" * 4 + key[-4:] if len(key) > 12 else "****"


class _Bucket:
    """Token bucket per API key: ``rate`` requests per second, bursts of one second's worth."""

    def __init__(self) -> None:
        self.tokens: dict[str, tuple[float, float]] = {}

    def take(self, key: str, rate: float) -> bool:
        now = time.monotonic()
        tokens, last = self.tokens.get(key, (rate, now))
        tokens = min(rate, tokens + (now - last) * rate)
        if tokens < 1:
            self.tokens[key] = (tokens, now)
            return False
        self.tokens[key] = (tokens - 1, now)
        return True


def create_app(
    sb: Sandbox,
    *,
    api_keys: set[str] | None = None,
    forward: list[ForwardTarget] | None = None,
    tick_seconds: float = 1.0,
) -> Starlette:
    """The sandbox as an ASGI app.

    ``api_keys``: accepted secret keys (default: any ``sk_test_``/``rk_test_`` key).
    ``forward``: receivers of every event (``--forward-to``). ``tick_seconds``: how often the
    billing engine runs for objects without a test clock.
    """
    register_includables(sb)
    idem: OrderedDict[tuple[str, str], tuple[str, int, bytes]] = OrderedDict()
    bucket = _Bucket()

    def authenticate(request: Request) -> str:
        header = request.headers.get("authorization", "")
        key = ""
        if header.lower().startswith("bearer "):
            key = header[7:].strip()
        elif header.lower().startswith("basic "):
            import base64

            try:
                key = base64.b64decode(header[6:]).decode().split(":", 1)[0]
            except Exception:
                key = ""
        if not key:
            raise StripeError(
                401, type="invalid_request_error",
                message="You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        if (api_keys is not None and key not in api_keys) or (api_keys is None and not _KEY.match(key)):
            raise StripeError(401, type="invalid_request_error", message=f"Invalid API Key provided: {_mask(key)}")
        return key

    def error_response(exc: StripeError, request_id: str) -> Response:
        return JSONResponse(exc.body(), status_code=exc.status, headers={"Request-Id": request_id, **exc.headers})

    async def api(request: Request) -> Response:
        request_id = new_id("req", 14)
        try:
            key = authenticate(request)
            rate = sb.settings.rate_limit_per_second
            if rate and not bucket.take(key, float(rate)):
                raise StripeError(
                    429, type="invalid_request_error", code="rate_limit",
                    message="Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
                )
            body = await request.body()
            method = request.method
            path = request.url.path
            raw = request.url.query
            if body:
                raw = f"{raw}&{body.decode('utf-8')}" if raw else body.decode("utf-8")
            params = decode_form(raw)
            idem_key = request.headers.get("idempotency-key") if method == "POST" else None
            fingerprint = hashlib.sha256(f"{method} {path}\n{raw}".encode()).hexdigest()
            if idem_key:
                hit = idem.get((key, idem_key))
                if hit is not None:
                    if hit[0] != fingerprint:
                        raise StripeError(
                            400, type="idempotency_error",
                            message="Keys for idempotent requests can only be used with the same parameters they were "
                            f"first used with. Try using a key other than '{idem_key}' if you meant to execute a "
                            "different request.",
                        )
                    return Response(hit[2], status_code=hit[1], media_type="application/json",
                                    headers={"Request-Id": request_id, "Idempotent-Replayed": "true", "Idempotency-Key": idem_key})
            status, payload = dispatch(method, path, params, request_id, idem_key)
            data = json.dumps(payload).encode("utf-8")
            if idem_key and status < 500:
                idem[(key, idem_key)] = (fingerprint, status, data)
                while len(idem) > _IDEMPOTENCY_CACHE:
                    idem.popitem(last=False)
            # Objects always have this version's shapes, whatever Stripe-Version the client asked for.
            headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION}
            if idem_key:
                headers["Idempotency-Key"] = idem_key
            return Response(data, status_code=status, media_type="application/json", headers=headers)
        except StripeError as exc:
            return error_response(exc, request_id)

    def dispatch(method: str, path: str, params: dict[str, Any], request_id: str, idem_key: str | None) -> tuple[int, Any]:
        found = resolve(method, path)
        if not found:
            raise StripeError(
                404, type="invalid_request_error",
                message=f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
            )
        handler, args = found  # type: ignore[misc]
        check_params(method, path, params)
        expand = params.pop("expand", [])
        if isinstance(expand, str):
            expand = [expand]
        with sb.store.lock:
            sb.request_id, sb.idempotency_key = request_id, idem_key
            try:
                result = handler(sb, params, **args)
                out = sb.render(result, expand)
            except StripeError as exc:
                sb.store.commit()  # keep what happened before a card error (charges, events), like Stripe
                if exc.status == 402 or exc.status >= 500:
                    body = exc.body()
                    return exc.status, body
                raise
            except Exception as exc:  # a sandbox bug: answer like Stripe's 500, keep serving
                sb.store.commit()
                raise StripeError(500, type="api_error", message=f"Sandbox internal error: {exc.__class__.__name__}: {exc}") from exc
            finally:
                sb.request_id = sb.idempotency_key = None
            sb.store.commit()
        return 200, out

    def control_auth(request: Request) -> None:
        authenticate(request)

    async def settings(request: Request) -> Response:
        try:
            control_auth(request)
            if request.method == "POST":
                values = await request.json()
                if not isinstance(values, dict):
                    raise invalid("Expected a JSON object")
                with sb.store.lock:
                    sb.settings.update(values)
                    sb.save_settings()
                    sb.store.commit()
                    if sb.dispatcher is not None and "chaos_seed" in values:
                        sb.dispatcher.reseed()
            return JSONResponse(sb.settings.to_dict())
        except StripeError as exc:
            return error_response(exc, "req_control")

    async def deliveries(request: Request) -> Response:
        try:
            control_auth(request)
        except StripeError as exc:
            return error_response(exc, "req_control")
        d = sb.dispatcher
        return JSONResponse({"idle": d.idle if d else True, "deliveries": list(d.log) if d else []})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "api_version": API_VERSION})

    async def portal(request: Request) -> Response:
        sid = request.path_params["sid"]
        session = sb.store.get(sid, "billing_portal.session")
        if session is None or request.query_params.get("token") != session.get("_token"):
            return HTMLResponse("<h1>Session not found or expired</h1>", status_code=404)
        return HTMLResponse(_portal_page(sb, session))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        sb.dispatcher = Dispatcher(sb, loop=loop)
        sb.dispatcher.forward = list(forward or [])
        await loop.run_in_executor(None, warm_up)

        async def tick() -> None:
            while True:
                await asyncio.sleep(tick_seconds)
                with sb.store.lock:
                    if run_until(sb, None, sb.now()):
                        sb.store.commit()

        task = loop.create_task(tick())
        try:
            yield
        finally:
            task.cancel()
            await sb.dispatcher.aclose()
            sb.dispatcher = None
            sb.store.commit()

    return Starlette(
        routes=[
            Route("/v1/{path:path}", api, methods=["GET", "POST", "DELETE"]),
            Route("/_sandbox/settings", settings, methods=["GET", "POST"]),
            Route("/_sandbox/deliveries", deliveries, methods=["GET"]),
            Route("/_sandbox/health", health, methods=["GET"]),
            Route("/_sandbox/portal/{sid}", portal, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def _portal_page(sb: Sandbox, session: dict[str, Any]) -> str:
    cus = sb.store.get(session["customer"]) or {}
    e = html.escape
    subs = [s for s in sb.store.iter("subscription") if s["customer"] == cus.get("id")]
    invs = [i for i in sb.store.iter("invoice") if i["customer"] == cus.get("id")][:12]
    rows = "".join(
        f"<tr><td>{e(s['id'])}</td><td>{e(s['status'])}</td><td>{e(', '.join(i['price'].get('nickname') or i['price']['id'] for i in s['items']['data']))}</td>"
        f"<td>{'cancels at period end' if s.get('cancel_at_period_end') else ''}</td></tr>"
        for s in subs
    )
    inv_rows = "".join(
        f"<tr><td>{e(i.get('number') or i['id'])}</td><td>{e(i['status'])}</td><td>{i['total'] / 100:.2f} {e(i['currency'].upper())}</td></tr>"
        for i in invs
    )
    back = session.get("return_url")
    link = f'<p><a href="{e(back)}">Return to {e(back)}</a></p>' if back else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Billing portal (sandbox)</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:48rem}}td,th{{padding:.25rem .75rem;text-align:left}}</style></head>
<body><h1>Billing portal <small>(UnifiedMCP sandbox)</small></h1>
<p>Customer: <b>{e(cus.get('name') or cus.get('email') or cus.get('id', ''))}</b></p>
<h2>Subscriptions</h2><table><tr><th>id</th><th>status</th><th>prices</th><th></th></tr>{rows}</table>
<h2>Invoices</h2><table><tr><th>number</th><th>status</th><th>total</th></tr>{inv_rows}</table>{link}</body></html>"""
