"""Stopping a batch cleanly: Ctrl-C and SIGTERM set a flag that the readers check at every
frame; the file in progress is then abandoned (its output is written atomically, so nothing of
it stays) and the batch records what is done and what is not."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class Stopped(BaseException):
    """The batch was asked to stop: the file in progress is abandoned (like Ctrl-C, it is not
    an `Exception`, so nothing on the way swallows it)."""


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """While the batch runs in the main thread, SIGINT and SIGTERM ask it to stop cleanly; a
    second Ctrl-C stops it at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum, frame) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        log.warning("stopping (%s): the file in progress is abandoned",
                    signal.Signals(signum).name)  # fmt: skip

    old = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
