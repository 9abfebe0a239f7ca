"""Draining: a stopping server ends its open client streams at a message boundary.

Once draining begins, a stream that waits for its client's next message, or that has just
answered one, ends with UNAVAILABLE and RetryInfo: the client reopens it on another server
(with its stream id an ingest stream resumes after its last committed batch). A message being
handled when draining begins is finished and answered first, so an ingest batch in flight is
committed and acknowledged, never cut in half.

grpcio's sync server cannot interrupt a handler blocked on the next request, so each drained
stream reads its requests in a small reader thread that fetches one message only when the
handler asks for it (no read-ahead: flow control still holds the client back). The handler
waits for that message at most the idle timeout, so an idle client cannot keep its thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from adpulse.server.domain.errors import DeadlineExceeded, ShuttingDown

T = TypeVar("T")
_MESSAGE, _END, _ERROR, _DRAIN = range(4)


class Drain:
    def __init__(self, idle_seconds: float | None = None) -> None:
        # A client that sends nothing for this long loses its stream (and the handler thread
        # is free again); None waits forever.
        self._idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._draining = False
        self._waiting: set[queue.SimpleQueue[tuple[int, Any]]] = set()

    @property
    def draining(self) -> bool:
        return self._draining

    def begin(self) -> None:
        """Ends every open stream at its next message boundary, and every new one at once."""
        with self._lock:
            self._draining = True
            for handoff in self._waiting:
                handoff.put((_DRAIN, None))

    def requests(self, source: Iterator[T]) -> Iterator[T]:
        """The stream's requests, until the client ends it or the server drains."""
        handoff: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        wanted = threading.Semaphore(0)
        done = threading.Event()

        def read() -> None:
            while True:
                wanted.acquire()
                if done.is_set():
                    return
                try:
                    handoff.put((_MESSAGE, next(source)))
                except StopIteration:
                    handoff.put((_END, None))
                    return
                except BaseException as exc:  # noqa: BLE001 - handed to the handler's thread
                    handoff.put((_ERROR, exc))
                    return

        with self._lock:
            if self._draining:
                raise _shutting_down()
            self._waiting.add(handoff)
        threading.Thread(target=read, name="stream-reader", daemon=True).start()
        try:
            while True:
                wanted.release()
                try:
                    kind, value = handoff.get(timeout=self._idle_seconds)
                except queue.Empty:
                    raise _idle(self._idle_seconds) from None
                if kind == _MESSAGE and self._draining:
                    kind = _DRAIN  # unread: the client sends it again to the next server
                if kind == _END:
                    return
                if kind == _ERROR:
                    raise value
                if kind == _DRAIN:
                    raise _shutting_down()
                yield value
                if self._draining:
                    raise _shutting_down()
        finally:
            done.set()
            wanted.release()
            with self._lock:
                self._waiting.discard(handoff)

    def wrap(self, handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
        """`handler` with its request stream drained (handlers of unary requests unchanged)."""

        def drained(behavior: Callable[..., Any]) -> Callable[..., Any]:
            return lambda requests, context: behavior(self.requests(requests), context)

        if handler.stream_stream:
            return handler._replace(stream_stream=drained(handler.stream_stream))  # type: ignore[attr-defined,no-any-return]
        if handler.stream_unary:
            return handler._replace(stream_unary=drained(handler.stream_unary))  # type: ignore[attr-defined,no-any-return]
        return handler


def _idle(seconds: float | None) -> DeadlineExceeded:
    return DeadlineExceeded(
        f"the stream sent no message for {seconds:g} s and was closed; open it again when there "
        "is something to send (with its stream_id an ingest stream resumes after its last "
        "committed batch)",
        "STREAM_IDLE",
        metadata={"idle_seconds": f"{seconds:g}"},
    )


def _shutting_down() -> ShuttingDown:
    return ShuttingDown(
        "this server is shutting down; open the stream again (on another server, or this one once it "
        "is back): with its stream_id an ingest stream resumes after its last committed batch",
        "SERVER_SHUTTING_DOWN",
    )
