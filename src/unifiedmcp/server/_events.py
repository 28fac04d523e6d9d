"""Resumability (streamable HTTP): an event store, so that a client whose SSE stream broke
reconnects with ``Last-Event-ID`` and receives what it missed, the result of a call in flight
included.

In memory, per process, bounded: each stream keeps its last :data:`PER_STREAM` events, the store
at most :data:`MAX_STREAMS` streams (the oldest forgotten first). Sessions live in one process
too, so a load balancer in front of several replicas must keep a session on its replica (sticky
sessions on ``Mcp-Session-Id``) for this to help.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict, deque

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp_types import JSONRPCMessage

__all__ = ["MemoryEventStore", "MAX_STREAMS", "PER_STREAM"]

PER_STREAM = 256
MAX_STREAMS = 10_000


class MemoryEventStore(EventStore):
    """Events per stream, with ids ``<stream>:<n>`` (n increasing) so a replay finds its stream."""

    def __init__(self, *, per_stream: int = PER_STREAM, max_streams: int = MAX_STREAMS) -> None:
        self._streams: OrderedDict[StreamId, deque[tuple[int, JSONRPCMessage | None]]] = OrderedDict()
        self._counter = itertools.count(1)
        self._per_stream = per_stream
        self._max_streams = max_streams
        self._lock = threading.Lock()

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        n = next(self._counter)
        with self._lock:
            events = self._streams.get(stream_id)
            if events is None:
                events = self._streams[stream_id] = deque(maxlen=self._per_stream)
                while len(self._streams) > self._max_streams:
                    self._streams.popitem(last=False)
            events.append((n, message))
        return f"{stream_id}:{n}"

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        stream_id, _, number = last_event_id.rpartition(":")
        if not number.isdigit():
            return None
        with self._lock:
            events = list(self._streams.get(stream_id, ()))
        if not events:
            return None
        for n, message in events:
            if n > int(number) and message is not None:  # None: a priming event, nothing to resend
                await send_callback(EventMessage(message, f"{stream_id}:{n}"))
        return stream_id
