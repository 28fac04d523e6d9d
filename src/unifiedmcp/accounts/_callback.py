"""``GET /oauth/stripe/callback``: where Stripe sends a customer back after Connect authorization.

It answers with a small HTML page: "connected" (200), or what went wrong (400: a bad, used or
expired state, denied consent, a code Stripe refused; 403: the operator's own account; 409: the
tier's connection cap). Nothing is stored unless the whole exchange succeeded. Nothing secret
(code, state, keys) is echoed into the page.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable

import anyio.to_thread
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from ..errors import ConnectFailed, ConnectionCapReached, InvalidInput, OperatorAccountRefused, UnifiedMCPError
from ..ledger import Ledger
from ._cipher import CredentialCipher
from ._connect import CALLBACK_PATH, complete_authorization, operator_account_id

__all__ = ["create_connect_app"]

log = logging.getLogger("unifiedmcp.accounts")

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title} · UnifiedMCP</title>
<style>body{{font-family:system-ui,sans-serif;margin:3rem auto;max-width:36rem;line-height:1.5}}</style>
</head><body><h1>{title}</h1><p>{body}</p></body></html>"""


def _page(title: str, body: str, status: int) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=html.escape(body)), status_code=status)


def create_connect_app(
    *,
    ledger: Ledger,
    operator_client: stripe.StripeClient | None,
    cipher_factory: Callable[[], CredentialCipher],
    operator_account: str | None = None,
) -> Starlette:
    """The callback as an ASGI app (mounted by ``unifiedmcp serve``).

    ``cipher_factory`` is called per callback, so a server started without
    ``UNIFIEDMCP_SECRET_KEY`` still answers with a clear page instead of failing to start.
    """
    known = {"account": operator_account}
    lock = threading.Lock()

    def operator_account_or_fetch() -> str | None:
        with lock:
            if known["account"] is None and operator_client is not None:
                known["account"] = operator_account_id(operator_client)
            return known["account"]

    def complete(state: str, code: str | None, error: str | None) -> str:
        if operator_client is None:
            raise ConnectFailed("not_configured", "this server has no platform key (STRIPE_API_KEY)")
        cipher = cipher_factory()
        conn = complete_authorization(
            ledger, operator_client, state=state, code=code, error=error, cipher=cipher,
            operator_account=operator_account_or_fetch,
        )
        return conn.account

    async def callback(request: Request) -> HTMLResponse:
        q = request.query_params
        try:
            account = await anyio.to_thread.run_sync(complete, q.get("state", ""), q.get("code"), q.get("error"))
        except ConnectFailed as exc:
            return _page("Not connected", str(exc), 400)
        except OperatorAccountRefused as exc:
            return _page("Not connected", str(exc), 403)
        except (ConnectionCapReached, InvalidInput) as exc:
            return _page("Not connected", str(exc), 409)
        except (UnifiedMCPError, stripe.StripeError) as exc:
            log.warning("Connect callback failed: %s", exc.__class__.__name__)
            return _page("Not connected", f"the connection could not be completed ({exc.__class__.__name__})", 502)
        log.info("connected Stripe account %s", account)
        return _page(
            "Connected",
            f"Your Stripe account {account} is connected to UnifiedMCP. You can close this page; "
            "your MCP tools now act on this account.",
            200,
        )

    return Starlette(routes=[Route(CALLBACK_PATH, callback, methods=["GET"])])
