"""Overlap decoding and encoding with synthesis: a reader thread ahead of the work and a
writer thread behind it, each joined by a short bounded queue.

FFmpeg (PyAV) and OpenCV release the GIL while they decode, encode and warp, so on a
multi-core machine the three stages run side by side; the bounded queues keep memory flat
(a few frames), and an error in either thread is raised in the caller's thread at its next
call, never lost.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

_DONE = object()  # end of stream
_POLL = 0.1  # seconds between checks of the stop flag while a queue is full or empty
# Longest wait for a stopped thread on an error or interrupt path: the threads are daemons, so
# one stuck in a codec call cannot keep the process from reporting the error and exiting.
_JOIN = 10.0


def prefetch(items: Iterable[T], depth: int = 2) -> Generator[T, None, None]:
    """Iterate `items` in a background thread, up to `depth` items ahead of the consumer.

    Exceptions raised by `items` come out of this iterator where they would have come out of
    `items`. Closing the iterator early (a `break`, an error in the consumer) stops the thread
    at its next item.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(q, (item, None), stop):
                    return
            _put(q, (_DONE, None), stop)
        except BaseException as err:  # handed to the consumer
            _put(q, (_DONE, err), stop)

    thread = threading.Thread(target=produce, name="framepred-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, err = q.get()
            if err is not None:
                raise err
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        thread.join(_JOIN)


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> bool:
    """Put `item`, waiting while the queue is full; False if `stop` was set meanwhile."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


class _Writes(Protocol):
    def write(self, image: Any) -> None: ...


class BackgroundWriter:
    """Hand frames to `writer.write` in a background thread, `depth` frames at most queued.

    Use as a context manager inside the writer's own: a clean exit waits until every frame is
    written (raising the writer's error if one happened), an exit on error stops the thread
    and lets the original error through, so the writer can discard its output.
    """

    def __init__(self, writer: _Writes, depth: int = 2) -> None:
        self.writer = writer
        self._q: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="framepred-encode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            image = self._q.get()
            if image is _DONE or self._stop.is_set():
                return
            try:
                self.writer.write(image)
            except BaseException as err:  # raised in the caller's thread
                self._error = err
                self._stop.set()
                return

    def write(self, image: Any) -> None:
        self._raise()
        if not _put(self._q, image, self._stop):
            self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._stop.set()
            _drain(self._q)
            try:
                self._q.put_nowait(_DONE)
            except queue.Full:  # the thread sees the stop flag at its next frame
                pass
            self._thread.join(_JOIN)
            return
        _put(self._q, _DONE, self._stop)
        self._thread.join()
        self._raise()


def _drain(q: queue.Queue) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return
