"""Fixtures for the alert tests: a real HTTP receiver on 127.0.0.1 that records what it is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from unifiedmcp._loopback import serve_app


@dataclass
class Receiver:
    """A chat-webhook stand-in: answers with ``plan`` (status codes, in order; then 200) and keeps
    every JSON body it was sent."""

    url: str
    plan: list[int] = field(default_factory=list)
    received: list[dict] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    async def hook(request: Request) -> JSONResponse:
        state.received.append(json.loads(await request.body()))
        code = state.plan.pop(0) if state.plan else 200
        return JSONResponse({"ok": code < 300}, status_code=code)

    with serve_app(Starlette(routes=[Route("/hooks/T000/B000/secretpath", hook, methods=["POST"])])) as base:
        state.url = f"{base}/hooks/T000/B000/secretpath"
        yield state
