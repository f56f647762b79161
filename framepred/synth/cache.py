"""A small cache of values computed from frames, for work that neighbouring gaps share."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class Recent:
    """The last few values computed from frames, keyed by the frames themselves: they are held,
    so a new frame decoded into a freed one's memory cannot take its place."""

    def __init__(self, size: int = 6) -> None:
        self.size = size
        self._items: OrderedDict[tuple, tuple[tuple[Any, ...], Any]] = OrderedDict()

    def get(self, frames: tuple[Any, ...], extra: Hashable, make: Callable[[], Any]) -> Any:
        """The value made from `frames` (arrays or tensors, compared by identity) and `extra`."""
        key = (*map(id, frames), extra)
        hit = self._items.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], frames, strict=True)):
            return hit[1]
        value = make()
        self._items[key] = (frames, value)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return value
