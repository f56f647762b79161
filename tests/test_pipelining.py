"""Decoding ahead and encoding behind in threads: order kept, errors surface in the caller's
thread, nothing hangs or keeps running after an early stop."""

from __future__ import annotations

import threading
import time
from contextlib import closing

import pytest

from framepred.io.pipelining import BackgroundWriter, prefetch


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("framepred-")}


def test_prefetch_yields_every_item_in_order():
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))
    assert not _threads()


def test_prefetch_raises_the_sources_error_after_the_items_before_it():
    def source():
        yield 1
        yield 2
        raise ValueError("damaged at 3")

    got = []
    with pytest.raises(ValueError, match="damaged at 3"):
        for item in prefetch(source()):
            got.append(item)
    assert got == [1, 2]
    assert not _threads()


def test_closing_prefetch_early_stops_its_thread():
    made = []

    def endless():
        i = 0
        while True:
            made.append(i)
            yield i
            i += 1

    with closing(prefetch(endless(), depth=2)) as it:
        assert next(it) == 0
    assert not _threads()
    n = len(made)
    time.sleep(0.3)
    assert len(made) == n <= 4  # bounded look-ahead, and it stopped


class _ListWriter:
    def __init__(self, fail_at: int | None = None, delay: float = 0.0) -> None:
        self.frames: list[int] = []
        self.fail_at, self.delay = fail_at, delay

    def write(self, image) -> None:
        time.sleep(self.delay)
        if image == self.fail_at:
            raise OSError("disk full")
        self.frames.append(image)


def test_background_writer_writes_everything_in_order_before_exit():
    w = _ListWriter(delay=0.001)
    with BackgroundWriter(w, depth=2) as out:
        for i in range(50):
            out.write(i)
    assert w.frames == list(range(50))
    assert not _threads()


def test_a_writer_error_is_raised_in_the_callers_thread():
    w = _ListWriter(fail_at=5)
    with pytest.raises(OSError, match="disk full"):  # noqa: PT012 - the error may surface at any write or at exit
        with BackgroundWriter(w, depth=2) as out:
            for i in range(1000):
                out.write(i)
    assert w.frames == list(range(5))
    assert not _threads()


def test_an_error_in_the_caller_stops_the_writer_and_passes_through():
    w = _ListWriter(delay=0.01)
    with pytest.raises(KeyError):  # noqa: PT012
        with BackgroundWriter(w, depth=2) as out:
            for i in range(10):
                out.write(i)
            raise KeyError("synthesis failed")
    assert len(w.frames) < 10
    assert not _threads()
