"""Inference precision: plain fp32, or bf16 autocast where the hardware runs bf16 natively.

bf16 autocast runs the networks' convolutions and matmuls in bfloat16 (weights, the
recurrent cell state and everything outside the network stay fp32). On a CPU with AVX-512
BF16 or AMX, or a CUDA GPU with bf16, that is about twice the arithmetic rate; on a CPU
without it, bf16 is emulated and many times *slower*. `auto` therefore measures: it uses
bf16 only when a small bf16 matmul beats the fp32 one on this device.

    dtype = resolve_precision("auto", torch.device("cpu"))   # torch.bfloat16 or None
    with autocast(dtype, device):
        y = net(x)
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from framepred.errors import InputShapeError

if TYPE_CHECKING:
    import torch

# torch is imported inside the functions: the CLI reads PRECISIONS without loading torch.
PRECISIONS = ("32", "bf16", "auto")


@functools.cache
def bf16_is_fast(device_type: str) -> bool:
    """Whether bf16 matmuls beat fp32 ones on this kind of device (measured once)."""
    import torch

    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type != "cpu":
        return False

    def best(dtype: torch.dtype) -> float:
        a, b = torch.ones(256, 256, dtype=dtype), torch.ones(256, 256, dtype=dtype)
        times = []
        for _ in range(4):
            t0 = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t0)
        return min(times[1:])

    return best(torch.bfloat16) < best(torch.float32)


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `precision` ("32", "bf16" or "auto") on `device`; None is fp32."""
    import torch

    if precision == "32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "auto":
        return torch.bfloat16 if bf16_is_fast(device.type) else None
    raise InputShapeError(f"unknown precision {precision!r} (use {', '.join(PRECISIONS)})")


@contextlib.contextmanager
def autocast(dtype: torch.dtype | None, device: torch.device) -> Iterator[None]:
    """Autocast to `dtype` on `device`'s kind; nothing at all for None (fp32)."""
    if dtype is None:
        yield
        return
    import torch

    with torch.autocast(device.type, dtype=dtype):
        yield
