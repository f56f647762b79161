"""The fill guard: the learned model only where the video itself shows it beats `flow`.

A learned motion model can be wrong on motion unlike its training footage (a fast or turning
camera) and then falls below the classical `flow` method whose flows it corrects. The video
can tell: in each shot (between scene cuts), a few known frames next to a gap are hidden and
rebuilt from the known frames around them (with every other frame missing, a known frame from
the known frames two slots away on each side; `plan_probe`) by the model and by `flow`. Such a
probe spans more slots than the gap, so its frames are zoomed out by the ratio first (as
`--adapt` does) to give its motion the size the gaps' motion has. The zoom is taken from the
full frame: on a video at least twice the working size, the methods' own scaling to it
undoes the zoom, and the probe's motion stays up to twice the gaps'. That stricter test is
kept on purpose: zooming from the working size instead (motion matched) let the model through
on bikes, 0.37 dB below flow at x2 (docs/experiments.md). With a working size finer than the
default (`--working-size 640`) the probes run unzoomed at that size, so they see at least the
gaps' motion there, and the fallback is flow at the default size. Each gap of the shot is
then filled with the mix of the two that scored best on those frames: the model alone (weight
1) where it is at least as good as flow, flow alone (weight 0) where flow alone is best, a
per-pixel average in between.

What a probe cannot see: a shot where flow is near-perfect over one gap but not over the
probe's longer span (a smooth texture sliding a few pixels per frame) looks like a tie.

The check is budgeted: at most `probes` hidden frames per shot, at the shot's gaps 1, 2, 4,
8, ... (so a long shot costs no more than a short one), each one frame made by each method.
Until a shot's first check the model is used. What was chosen per shot, and on what scores,
is `Guard.shots` (the `--report` JSON's `guard`).

`ForecastGuard` does the same for prediction: the context's last frames are predicted from
its first ones by the learned forecaster and by constant-velocity flow extrapolation, and the
prediction is the mix of the two that did best there (per sequence).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from framepred.flow import WORKING_SIDE
from framepred.gaps import is_scene_cut
from framepred.predict.forecasters import FlowExtrapolation, Forecaster
from framepred.synth.base import Spacing, Synthesizer, check_sides, context_spacing
from framepred.synth.classical import Flow

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # candidate weights of the model (1 - weight: flow)
PROBES = 4  # hidden known frames per shot, at most
MAX_ZOOM = 3.0  # a probe spans at most this many times the gap
MIN_SIDE = 48  # frames are not zoomed out below this (pixels)
MIX = "model+flow"  # the name of a mix of the two


@dataclass
class Shot:
    """One shot's check and choice, as the report shows it."""

    first_slot: int | None = None  # the first and last slot the guard filled in this shot
    last_slot: int | None = None
    gaps: int = 0  # gaps (or parts of gaps) filled in this shot
    probes: int = 0  # known frames hidden and rebuilt
    psnr_model: float | None = None  # on those frames
    psnr_flow: float | None = None
    weight: float = 1.0  # the model's weight after the last check (1: model, 0: flow)
    filled: dict[str, int] = field(default_factory=dict)  # gaps per choice: model, flow, model+flow
    sse: dict[float, float] = field(default_factory=dict, repr=False)  # per model weight
    values: int = field(default=0, repr=False)  # pixel values scored

    @property
    def choice(self) -> str:
        return choice_name(self.weight)

    def to_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k not in ("sse", "values")}
        data["choice"] = self.choice
        return data

    def summary(self) -> str:
        where = (
            f"slots {self.first_slot}-{self.last_slot}" if self.first_slot is not None else "a shot"
        )
        if not self.probes:
            return f"guard: {where}: no known frame to check on, model used"
        return (f"guard: {where}: model {self.psnr_model:.2f} dB, flow {self.psnr_flow:.2f} dB on "
                f"{self.probes} hidden known frames -> {self.choice} (model weight "
                f"{self.weight:g})")  # fmt: skip


def choice_name(weight: float) -> str:
    return "model" if weight >= 1.0 else "flow" if weight <= 0.0 else MIX


def _psnr(sse: float, values: int) -> float:
    return 100.0 if sse <= 0 else 10 * math.log10(255.0**2 * values / sse)


class Guard(Synthesizer):
    """`model` per shot where it is not worse than `flow` on hidden known frames, else flow
    or a blend towards it (see the module doc).

    Args:
        model: a synthesizer that fills from both sides of a gap (the motion model, or its
            self-ensemble).
        flow: the fallback (default: the classical `flow` method, at the model's working size
            or, for a model set finer than the default one, at the default).
        probes: hidden known frames per shot, at most.
        weights: the model weights to choose from (0 and 1 among them).
    """

    wants_spacing = True  # the probes need where the outer context frames lie

    def __init__(self, model: Synthesizer, flow: Synthesizer | None = None,
                 probes: int = PROBES, weights: Sequence[float] = WEIGHTS) -> None:  # fmt: skip
        if model.forward_only:
            raise ValueError("the guard needs a method that fills from both sides of a gap")
        if not {0.0, 1.0} <= set(weights):
            raise ValueError("the weights must include 0 (flow) and 1 (the model)")
        self.model = model
        side = model.working_side or WORKING_SIDE
        # A working size finer than the default doubles every motion in working pixels, and
        # fast motion then leaves what the model learned. Its probes run unzoomed, so they
        # see at least the gaps' motion at that size, and it falls back to flow at the
        # default size, where flow is most robust (docs/results.md#working-size).
        self.finer = side > WORKING_SIDE
        self.flow = flow or Flow(max_side=min(side, WORKING_SIDE))
        # The probes run on forks, so the caches the real gaps share stay theirs.
        self._probe_model, self._probe_flow = model.fork(), self.flow.fork()
        self.max_probes = probes
        self.weights = tuple(float(w) for w in weights)
        self.name = model.name
        self.context = model.context + 2  # a probe hides known frames, and needs context
        self.shots: list[Shot] = []
        self.choice = model.name  # what made the frames of the last call
        self._last: np.ndarray | None = None  # a known frame of the current shot
        self._gap: tuple[np.ndarray, np.ndarray] | None = None  # the current gap's two frames
        self._slots: tuple[int, int] | None = None
        self._where: tuple[list[int], list[int]] | None = None

    def fork(self) -> Guard:
        return Guard(self.model.fork(), self.flow.fork(), self.max_probes, self.weights)

    def locate(self, before: Sequence[int], after: Sequence[int], first: int, last: int) -> None:
        """Where the frames of the next call lie: the slots of the known frames before and
        after the gap (on the video's grid), and the first and last slot it fills (on the
        output's grid, for the report). Without it, only the two nearest known frames on each
        side are placed (from `spacing`)."""
        self._where = (list(before), list(after))
        self._slots = (first, last)

    def synthesize(self, before, after, times, spacing: Spacing | None = None):
        check_sides(before, after)
        if not (before and after):  # one side: every method repeats the nearest frame
            self.choice = self.model.name
            return _call(self.model, before, after, times, spacing)
        shot = self._shot(before[-1])
        gap = (before[-1], after[0])  # a long gap comes in several calls
        if self._gap is None or gap[0] is not self._gap[0] or gap[1] is not self._gap[1]:
            self._gap = gap
            shot.gaps += 1
            if shot.probes < self.max_probes and shot.gaps >= 2**shot.probes:
                self._probe(shot, before, after, spacing)
            shot.filled[shot.choice] = shot.filled.get(shot.choice, 0) + 1
        if self._slots is not None:
            shot.first_slot = self._slots[0] if shot.first_slot is None else shot.first_slot
            shot.last_slot = self._slots[1]
        self._last = after[0]
        w = shot.weight
        self.choice = shot.choice
        if w >= 1.0:
            return _call(self.model, before, after, times, spacing)
        made = _call(self.flow, before, after, times, spacing)
        if w <= 0.0:
            return made
        by_model = _call(self.model, before, after, times, spacing)
        return [_mix(m, f, w) for m, f in zip(by_model, made, strict=True)]

    def _shot(self, first: np.ndarray) -> Shot:
        """The shot of a gap whose last known frame before it is `first`: a new one after a
        scene cut (`fill` fills a gap across a cut from each side alone, so a gap whose two
        sides are known lies inside one shot)."""
        last = self._last
        if not self.shots or (last is not None and first is not last and is_scene_cut(last, first)):
            self.shots.append(Shot())
            self._gap = None
        return self.shots[-1]

    def _probe(self, shot: Shot, before, after, spacing: Spacing | None) -> None:
        """Hide a known frame near the gap, rebuild it from known frames around it with both
        methods, and score them and every mix of them on it (see `plan_probe`)."""
        pb, pa = self._positions(before, after, spacing)
        if pb is None or pa is None:
            return
        n = len(pb)
        frames = [*before[-n:], *after[: len(pa)]]
        plan = plan_probe([*pb, *pa], n, shot.probes % 2 == 1)
        if plan is None:
            return
        lo, x, hi, zoom = plan
        pos = [*pb, *pa]
        if self.finer or min(frames[0].shape[:2]) / zoom < MIN_SIDE:
            zoom = 1.0
        small = [_zoom_out(f, zoom) for f in frames]
        b, a, truth = small[: lo + 1], small[hi:], small[x].astype(np.float32)
        t = (pos[x] - pos[lo]) / (pos[hi] - pos[lo])
        where = context_spacing(pos[: lo + 1], pos[hi:])
        by_model = _call(self._probe_model, b, a, [t], where)[0].astype(np.float32)
        by_flow = _call(self._probe_flow, b, a, [t], where)[0].astype(np.float32)
        for w in self.weights:
            err = float(np.square(w * by_model + (1 - w) * by_flow - truth).sum())
            shot.sse[w] = shot.sse.get(w, 0.0) + err
        shot.values += truth.size
        shot.probes += 1
        shot.psnr_model = round(_psnr(shot.sse[1.0], shot.values), 3)
        shot.psnr_flow = round(_psnr(shot.sse[0.0], shot.values), 3)
        shot.weight = best_weight(shot.sse)

    def _positions(self, before, after, spacing: Spacing | None):
        """Where the known frames around the gap lie, in slots (`locate`) or, without it, in
        units of the gap from `spacing` (the two nearest on each side)."""
        where, self._where = self._where, None
        if where is not None and len(where[0]) == len(before) and len(where[1]) == len(after):
            return [float(s) for s in where[0]], [float(s) for s in where[1]]
        if spacing is None:
            return None, None
        sp, sn = spacing
        pb = [-sp, 0.0] if sp > 0 and len(before) > 1 else [0.0]
        pa = [1.0, 1.0 + sn] if sn > 0 and len(after) > 1 else [1.0]
        return pb, pa

    def report(self) -> list[dict]:
        return [s.to_dict() for s in self.shots]


def plan_probe(pos: Sequence[float], n_before: int, after_first: bool = False):
    """The probe for a gap between known frames at `pos` (sorted; the first `n_before` before
    the gap): (lo, x, hi, zoom), indices into `pos` of the known frames the probe is made from
    (frames up to `lo`, and from `hi` on) and of the known frame `x` between them it rebuilds
    (any others between them are hidden too), and how far to zoom the frames out so that the
    probe's motion, over `pos[hi] - pos[lo]` slots, has the size it has over the gap. None
    when no known frame has known frames on both sides.

    Chosen: with two context frames on each side where there are, the frame that lies nearest
    the middle of its span (the hardest place, where the methods differ most), at the smallest
    zoom, nearest the gap; `after_first` breaks ties
    towards frames after it (probes alternate sides)."""
    gap = pos[n_before] - pos[n_before - 1]
    best, key = None, None
    for x in range(1, len(pos) - 1):
        for lo in range(x):
            for hi in range(x + 1, len(pos)):
                span = pos[hi] - pos[lo]
                zoom = span / gap
                if zoom > MAX_ZOOM:
                    continue
                t = (pos[x] - pos[lo]) / span
                near = min(abs(pos[x] - pos[n_before - 1]), abs(pos[x] - pos[n_before])) / gap
                side = (x >= n_before) != after_first
                alone = lo < 1 or hi > len(pos) - 2  # one context frame on a side
                k = (alone, round(abs(t - 0.5), 2), round(abs(math.log(zoom)), 2), near, side)
                if key is None or k < key:
                    best, key = (lo, x, hi, max(1.0, zoom)), k
    return best


def _zoom_out(frame: np.ndarray, zoom: float) -> np.ndarray:
    if zoom <= 1.05:
        return frame
    h, w = frame.shape[:2]
    size = (max(8, round(w / zoom)), max(8, round(h / zoom)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def mix_errors(by_model: np.ndarray, by_flow: np.ndarray, truth: np.ndarray,
               weights: Sequence[float]) -> dict[float, float]:  # fmt: skip
    """The squared error summed over all values of each mix `w * by_model + (1 - w) * by_flow`."""
    m, f, t = (x.astype(np.float32) for x in (by_model, by_flow, truth))
    return {w: float(np.square(w * m + (1 - w) * f - t).sum()) for w in weights}


def best_weight(sse: dict[float, float]) -> float:
    """The model weight of the least error (ties: the larger weight, more model)."""
    return min(sse, key=lambda w: (sse[w], -w))


class ForecastGuard(Forecaster):
    """A learned forecaster checked against constant-velocity flow extrapolation on each
    context: the last `min(horizon, K - MIN_PAST)` frames of a K-frame context are predicted
    from the ones before them by both, and the prediction is the mix of the two (per
    sequence, a weight from `weights`) that predicted them best.

    `checks` holds the back-test of each sequence of the last call (PSNR of each method on
    the context's own frames, the model's weight)."""

    MIN_PAST = 4  # context frames the back-test predicts from, at least

    def __init__(self, model: Forecaster, flow: Forecaster | None = None,
                 weights: Sequence[float] = WEIGHTS) -> None:  # fmt: skip
        if not {0.0, 1.0} <= set(weights):
            raise ValueError("the weights must include 0 (flow) and 1 (the model)")
        self.model = model
        self.flow = flow or FlowExtrapolation()
        self.weights = tuple(float(w) for w in weights)
        self.name = model.name
        self.context = model.context
        self.checks: list[dict] = []

    def predict_many(self, contexts: np.ndarray, horizon: int) -> np.ndarray:
        k = contexts.shape[1]
        test = min(horizon, k - self.MIN_PAST)
        self.checks = []
        if test < 1:  # too short a context to test on: the model
            return self.model.predict_many(contexts, horizon)
        past, truth = contexts[:, : k - test], contexts[:, k - test :]
        by_model = self.model.predict_many(past, test)
        by_flow = self.flow.predict_many(past, test)
        chosen = []
        for m, f, t in zip(by_model, by_flow, truth, strict=True):
            sse = mix_errors(m, f, t, self.weights)
            w = best_weight(sse)
            chosen.append(w)
            self.checks.append({"frames": test, "psnr_model": round(_psnr(sse[1.0], t.size), 3),
                                "psnr_flow": round(_psnr(sse[0.0], t.size), 3), "weight": w,
                                "choice": choice_name(w)})  # fmt: skip
        use = [i for i, w in enumerate(chosen) if w > 0]
        by_model = self.model.predict_many(contexts[use], horizon) if use else contexts[:0]
        model_out = dict(zip(use, by_model, strict=True))
        flow_out = {}
        if any(w < 1 for w in chosen):
            flow_out = dict(enumerate(self.flow.predict_many(contexts, horizon)))
        out: list[np.ndarray] = []
        for i, w in enumerate(chosen):
            m, f = model_out.get(i), flow_out.get(i)
            if m is None or f is None:
                out.append(flow_out[i] if m is None else m)
            else:
                out.append(_mix(m, f, w))
        return np.stack(out)

    def summary(self) -> str:
        if not self.checks:
            return "guard: context too short to test on, model used"
        c = self.checks[0]
        return (f"guard: predicting the context's last {c['frames']} frames: model "
                f"{c['psnr_model']:.2f} dB, flow extrapolation {c['psnr_flow']:.2f} dB -> "
                f"{c['choice']} (model weight {c['weight']:g})")  # fmt: skip


def _call(synth: Synthesizer, before, after, times, spacing: Spacing | None) -> list[np.ndarray]:
    kw = {"spacing": spacing} if synth.wants_spacing else {}
    return synth.synthesize(before, after, times, **kw)


def _mix(by_model: np.ndarray, by_flow: np.ndarray, w: float) -> np.ndarray:
    out = w * by_model.astype(np.float32) + (1 - w) * by_flow.astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
