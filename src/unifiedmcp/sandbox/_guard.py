"""The sandbox's network stance: Host and Origin checks on loopback, and a request body limit.

Without the checks, any web page could reach a sandbox on 127.0.0.1 through DNS rebinding (its
own name, re-resolved to 127.0.0.1, sends ``Host: evil.example``) or a cross-origin form post
(``Origin: http://evil.example``), and make it post events to any URL registered as a webhook
endpoint. So, when the server is bound to a loopback address, every request (API, ``/oauth/*``,
``/_sandbox/*``) must name a loopback host (``127.0.0.1``, ``localhost`` or ``[::1]``, any port)
and, if it has an ``Origin``, a loopback origin (``http`` or ``https``): otherwise 421 (Host) or
403 (Origin), as the MCP SDK's ``TransportSecuritySettings`` answer. A server bound to another
interface was asked to be reachable by other names, so it checks neither.

Every request body is limited to :data:`MAX_BODY_BYTES` (1 MiB; Stripe documents no exact figure,
and its largest requests, e.g. 50 metadata keys of 500 characters each, are far below it). A
larger body is answered 413 with a Stripe-shaped error before any handler runs: nothing is
stored. The limit is checked against ``Content-Length`` and, for chunked bodies, while reading.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._loopback import is_loopback
from ._state import API_VERSION

__all__ = ["Guard", "MAX_BODY_BYTES"]

MAX_BODY_BYTES = 1024 * 1024


def _loopback_authority(authority: str) -> bool:
    """``authority`` (``name[:port]``) names a loopback host."""
    if authority.startswith("["):
        end = authority.find("]")
        name, rest = authority[: end + 1], authority[end + 1:]
    else:
        name, _, port = authority.partition(":")
        rest = ":" + port if port else ""
    port = rest[1:] if rest.startswith(":") else rest
    return name.lower() in {"127.0.0.1", "localhost", "[::1]"} and (port == "" or port.isdigit())


def _loopback_origin(origin: str) -> bool:
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and not parts.path and _loopback_authority(parts.netloc)


async def _refuse(status: int, message: str, send: Send) -> None:
    body = json.dumps({"error": {"type": "invalid_request_error", "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"stripe-version", API_VERSION.encode())]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """ASGI middleware around the whole sandbox app (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, check_host: bool, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.check_host = check_host
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.check_host:
            if not _loopback_authority(headers.get("host", "")):
                await _refuse(421, "Invalid Host header", send)
                return
            origin = headers.get("origin")
            if origin is not None and not _loopback_origin(origin):
                await _refuse(403, "Invalid Origin header", send)
                return
        too_large = f"Request body too large: the sandbox accepts at most {self.max_body} bytes per request."
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                await _refuse(400, "Invalid Content-Length header", send)
            elif int(length) > self.max_body:
                await _refuse(413, too_large, send)
            else:  # the HTTP server delivers exactly Content-Length bytes
                await self.app(scope, receive, send)
            return
        if "chunked" not in headers.get("transfer-encoding", "").lower():
            await self.app(scope, receive, send)  # no body
            return
        body = bytearray()
        for _ in range(self.max_body + 2):  # each message but the last carries at least a byte
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await _refuse(413, too_large, send)
                return
            if not message.get("more_body", False):
                break
        replay: list[Message] = [{"type": "http.request", "body": bytes(body), "more_body": False}]

        async def replayed() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, replayed, send)
