"""A minimal HTTP/1.1 client step for the load generators (bench_webhooks.py, bench_webhook_flood.py):
asyncio streams on keep-alive connections cost the generator far less CPU than an HTTP library,
so the server, not the client, is what gets measured."""

from __future__ import annotations

import asyncio


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one response (status line, headers, a Content-Length body); return its status code."""
    code = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return code
