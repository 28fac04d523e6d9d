"""The ASGI application: auth, account selection, rate limit, form decoding, idempotency, dispatch.

Handlers are synchronous and run on the event loop under the store lock: each request is one
atomic step over the in-memory state, with no thread hand-off (that is most of the speed). Each
request acts on one account's :class:`~._state.Sandbox`, chosen by :mod:`._auth` from the key and
``Stripe-Account`` before the handler runs, so a handler cannot reach another account's objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from .._rate import TokenBuckets
from . import _resources  # noqa: F401  (registers the API routes)
from ._accounts import SECRET, Accounts
from ._auth import acting_on, authenticate, check_permission, key_from
from ._clock import run_until
from ._control import Control
from ._errors import StripeError, rate_limited
from ._form import decode_form
from ._guard import Guard
from ._hosted import Hosted
from ._oauth import OAuth
from ._objects import new_id
from ._params import check_params, warm_up
from ._permissions import required
from ._router import Handler, resolve
from ._state import API_VERSION, Sandbox
from ._webhooks import Dispatcher, ForwardTarget

__all__ = ["create_app"]

_IDEMPOTENCY_CACHE = 10_000


def create_app(
    accounts: Accounts,
    *,
    api_keys: set[str] | None = None,
    forward: list[ForwardTarget] | None = None,
    tick_seconds: float = 1.0,
    check_host: bool = True,
) -> ASGIApp:
    """The sandbox as an ASGI app.

    ``api_keys``: the secret keys accepted besides those the sandbox mints (default: any
    ``sk_test_`` key; each new one gets an account of its own). ``forward``: receivers of the
    primary account's events and of its connected accounts' (``--forward-to``). ``tick_seconds``:
    how often the billing engine runs for objects without a test clock. ``check_host``: refuse
    non-loopback ``Host`` and ``Origin`` headers (for a server bound to a loopback address).
    """
    idem: OrderedDict[tuple[str, str, str], tuple[str, int, bytes]] = OrderedDict()
    buckets = TokenBuckets()
    lock = accounts.db.lock

    async def api(request: Request) -> Response:
        request_id = new_id("req", 14)
        try:
            with lock:
                cred = authenticate(accounts, key_from(request.headers), api_keys=api_keys)
            rate = accounts.settings.rate_limit_per_second
            # Bursts of one second's worth, as Stripe's limiter allows.
            if rate and not buckets.take(cred.key, rate=float(rate), burst=float(rate)):
                raise rate_limited()
            body = await request.body()
            method = request.method
            path = request.url.path
            with lock:
                sb, scope = acting_on(accounts, cred, request.headers.get("stripe-account"))
            found = resolve(method, path)
            if not found:
                raise StripeError(
                    404, type="invalid_request_error",
                    message=f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
                )
            handler, args, template = found  # type: ignore[misc]
            if cred.kind != SECRET or scope is not None:
                check_permission(cred, scope, required(method, template), sb.account_id)
            raw = request.url.query
            if body:
                raw = f"{raw}&{body.decode('utf-8')}" if raw else body.decode("utf-8")
            params = decode_form(raw)
            idem_key = request.headers.get("idempotency-key") if method == "POST" else None
            fingerprint = hashlib.sha256(f"{method} {path}\n{raw}".encode()).hexdigest()
            # Idempotency keys are scoped to the account acted on and the key used, like Stripe's.
            cache_key = (sb.account_id, cred.key, idem_key or "")
            if idem_key:
                hit = idem.get(cache_key)
                if hit is not None:
                    if hit[0] != fingerprint:
                        raise StripeError(
                            400, type="idempotency_error",
                            message="Keys for idempotent requests can only be used with the same parameters they were "
                            f"first used with. Try using a key other than '{idem_key}' if you meant to execute a "
                            "different request.",
                        )
                    return Response(hit[2], status_code=hit[1], media_type="application/json",
                                    headers={"Request-Id": request_id, "Stripe-Version": API_VERSION,
                                             "Idempotent-Replayed": "true", "Idempotency-Key": idem_key})
            status, payload = dispatch(sb, handler, args, method, path, params, request_id, idem_key)
            data = json.dumps(payload).encode("utf-8")
            if idem_key and status < 500:
                idem[cache_key] = (fingerprint, status, data)
                while len(idem) > _IDEMPOTENCY_CACHE:
                    idem.popitem(last=False)
            # Objects always have this version's shapes, whatever Stripe-Version the client asked for.
            headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION}
            if idem_key:
                headers["Idempotency-Key"] = idem_key
            return Response(data, status_code=status, media_type="application/json", headers=headers)
        except StripeError as exc:
            return JSONResponse(exc.body(), status_code=exc.status,
                                headers={"Request-Id": request_id, "Stripe-Version": API_VERSION, **exc.headers})

    def dispatch(
        sb: Sandbox, handler: Handler, args: dict[str, str], method: str, path: str, params: dict[str, Any],
        request_id: str, idem_key: str | None,
    ) -> tuple[int, Any]:
        check_params(method, path, params)
        expand = params.pop("expand", [])
        if isinstance(expand, str):
            expand = [expand]
        with lock:
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

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        dispatcher = accounts.shared.dispatcher = Dispatcher(accounts, loop=loop)
        dispatcher.forward = list(forward or [])
        await loop.run_in_executor(None, warm_up)

        async def tick() -> None:
            while True:
                await asyncio.sleep(tick_seconds)
                with lock:
                    ran = 0
                    for sb in accounts:
                        ran += run_until(sb, None, sb.now())
                    if ran:
                        accounts.db.commit()

        task = loop.create_task(tick())
        try:
            yield
        finally:
            task.cancel()
            await dispatcher.aclose()
            accounts.shared.dispatcher = None
            accounts.db.commit()

    control = Control(accounts, api_keys=api_keys)
    hosted = Hosted(accounts)
    oauth = OAuth(accounts, api_keys=api_keys)
    app = Starlette(
        routes=[Route("/v1/{path:path}", api, methods=["GET", "POST", "DELETE"]), *control.routes, *hosted.routes, *oauth.routes],
        lifespan=lifespan,
    )
    return Guard(app, check_host=check_host)
