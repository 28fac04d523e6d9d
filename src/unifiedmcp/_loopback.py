"""Serving an ASGI app with uvicorn in a background thread, on a socket bound beforehand.

One way for the sandbox, the test and demo servers and the benchmarks. Binding first means the
port is known (and held) before uvicorn starts, so there is no race for a "free" port. For a
server started as its own process, ``wait_until_serving`` waits for its first 200.
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

__all__ = ["ServerDidNotStart", "bind", "free_port", "is_loopback", "serve_app", "start_in_thread", "wait_until_serving"]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: any free port)."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says TCP; with proto 0, Nagle + delayed ACKs add ~40 ms to every request.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def free_port() -> int:
    """A port nobody listens on right now (for a URL that must be known before the server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerDidNotStart(RuntimeError):
    """A server process exited, or did not answer in time, before serving (``wait_until_serving``)."""


def wait_until_serving(
    url: str, *, proc: subprocess.Popen[Any] | None = None, timeout: float = 60.0, verify: bool | str = True,
    name: str = "server",
) -> None:
    """Poll ``url`` until it answers 200; raise :class:`ServerDidNotStart` if ``proc`` exits first
    or ``timeout`` seconds pass (the process is left to the caller)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2, verify=verify).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc is not None and proc.poll() is not None:
            raise ServerDidNotStart(f"{name} exited with code {proc.returncode} before serving {url}")
        if time.monotonic() > deadline:
            raise ServerDidNotStart(f"{name} did not answer {url} within {timeout:g} s")
        time.sleep(0.05)


def start_in_thread(
    app: Any, sock: socket.socket, *, name: str, timeout: float = 15.0, **config: Any
) -> tuple[uvicorn.Server, threading.Thread]:
    """Start uvicorn serving ``app`` on ``sock`` in a daemon thread; return once it accepts.

    Stop it with ``server.should_exit = True`` and ``thread.join()``.
    """
    config = {"log_level": "warning", "access_log": False, "lifespan": "on"} | config
    server = uvicorn.Server(uvicorn.Config(app, **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.01)
    return server, thread


@contextmanager
def serve_app(app: Any, *, port: int = 0, timeout: float = 15.0) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (``port`` 0: any free one) while in the block; yields the base URL."""
    sock = bind("127.0.0.1", port)
    actual = sock.getsockname()[1]
    server, thread = start_in_thread(app, sock, name=f"uvicorn-{actual}", timeout=timeout)
    try:
        yield f"http://127.0.0.1:{actual}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
