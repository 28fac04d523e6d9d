"""A deadline for receiving a request's body (``serve --body-timeout``).

uvicorn closes idle keep-alive connections, but nothing limits a request whose body trickles in: a
client sending one byte a second keeps its connection and its request task for as long as it
likes, and 500 such clients keep 500. This ASGI middleware gives the whole body ``seconds`` from
the moment the request reached the app. Past that, the app's pending ``receive()`` reports the
client gone (``http.disconnect``, which Starlette raises as ``ClientDisconnect``), whatever the app
then answers is dropped, and the client gets ``408`` with ``Connection: close``.

The deadline only runs while the body is incomplete. Once its last chunk has arrived,
``receive()`` waits as long as the app likes: a streaming response (the MCP endpoint's SSE)
keeps awaiting it to notice a disconnect, for as long as the stream lasts.
"""

from __future__ import annotations

import json

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_BODY_TIMEOUT", "BodyTimeout"]

#: Seconds a client has to send a whole request body: a 1 MiB webhook at 35 KB/s; MCP requests
#: are a few kilobytes.
DEFAULT_BODY_TIMEOUT = 30.0


class BodyTimeout:
    """Wraps an ASGI app so that each HTTP request body must arrive within ``seconds``."""

    def __init__(self, app: ASGIApp, *, seconds: float = DEFAULT_BODY_TIMEOUT) -> None:
        if seconds <= 0:
            raise ValueError(f"the body timeout must be positive, not {seconds}")
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = anyio.current_time() + self.seconds
        body_done = timed_out = started = False

        async def receive_in_time() -> Message:
            nonlocal body_done, timed_out
            if timed_out:
                return {"type": "http.disconnect"}
            if body_done:
                return await receive()
            with anyio.move_on_after(deadline - anyio.current_time()):
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    body_done = True
                return message
            timed_out = True
            return {"type": "http.disconnect"}

        async def send_unless_timed_out(message: Message) -> None:
            nonlocal started
            if timed_out:
                return  # the 408 below answers instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_in_time, send_unless_timed_out)
        except Exception:
            if not timed_out:
                raise  # the app's own failure; one caused by the cut-off body is answered below
        if timed_out and not started:
            body = json.dumps({"error": f"the request body was not received within {self.seconds:g} s"}).encode()
            await send({
                "type": "http.response.start",
                "status": 408,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            })
            await send({"type": "http.response.body", "body": body})
