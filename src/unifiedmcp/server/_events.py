"""Resumability (streamable HTTP): an event store, so that a client whose SSE stream broke
reconnects with ``Last-Event-ID`` and receives what it missed, the result of a call in flight
included.

In memory, per process, bounded: each stream keeps its last :data:`PER_STREAM` events, the store
at most :data:`MAX_STREAMS` streams (the oldest forgotten first). Each session sees only its own
streams (:meth:`MemoryEventStore.for_session`): a stream id is just a JSON-RPC request id, the
same in every session, so one shared view would replay a customer's results to any session that
names the id; a session's streams are dropped when it ends. Sessions live in one process
too, so a load balancer in front of several replicas must keep a session on its replica (sticky
sessions on ``Mcp-Session-Id``) for this to help.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict, deque

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp_types import JSONRPCMessage

__all__ = ["MemoryEventStore", "SessionEventStore", "MAX_STREAMS", "PER_STREAM"]

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

    def for_session(self, session_id: str) -> SessionEventStore:
        """The view of one session: its streams only."""
        return SessionEventStore(self, session_id)

    def forget_session(self, session_id: str) -> None:
        """Drop every stream of a session that ended."""
        prefix = f"{session_id}/"
        with self._lock:
            for stream_id in [k for k in self._streams if k.startswith(prefix)]:
                del self._streams[stream_id]


class SessionEventStore(EventStore):
    """One session's streams in a :class:`MemoryEventStore`: stored under ``<session>/<stream>``,
    and a ``Last-Event-ID`` of any other session replays nothing."""

    def __init__(self, shared: MemoryEventStore, session_id: str) -> None:
        self._shared, self._prefix = shared, f"{session_id}/"

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        return await self._shared.store_event(self._prefix + stream_id, message)

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        if not last_event_id.startswith(self._prefix):
            return None
        stream_id = await self._shared.replay_events_after(last_event_id, send_callback)
        return None if stream_id is None else stream_id.removeprefix(self._prefix)
