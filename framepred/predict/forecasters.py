"""Future-frame predictors behind one interface: the learned model and two classical baselines.

A `Forecaster` maps a batch of contexts (B, K, H, W, 3) RGB uint8 to the next `horizon`
frames (B, N, H, W, 3) uint8. The classical ones are the references every prediction
number is read against (DESIGN.md, "How we measure"):

* `copy-last`: the last context frame, repeated. Unbeatable on a static shot.
* `flow`: DIS optical flow (OpenCV) between the last two context frames gives each pixel of
  the last frame a velocity; step n splats every pixel forward to `x + n * v(x)` (bilinear
  splatting, constant-velocity extrapolation). Where two pixels land on one spot, the one
  whose motion differs most from the frame's median motion wins (a soft z-buffer: a moving
  object is in front of a static background, a tracked subject in front of a panning one).
  Spots no pixel reaches (uncovered background, content entering at the border) are
  inpainted from their surroundings.

`fill_context` completes a window of grid slots that has holes from the frames inside it, so a
context handed to a forecaster is always evenly spaced in time.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from framepred.errors import CheckpointError, InputShapeError
from framepred.flow import dis_calc, grey_small, new_dis, upscale_flow, working_size
from framepred.synth.classical import Flow

FORECASTERS = ("model", "copy-last", "flow")


class Forecaster:
    """Predict the frames after a context. `context` is how many frames it actually uses."""

    name = "base"
    context = 1

    def predict_many(self, contexts: np.ndarray, horizon: int) -> np.ndarray:
        """contexts (B, K, H, W, 3) uint8 -> (B, horizon, H, W, 3) uint8."""
        raise NotImplementedError

    def predict(self, context: np.ndarray, horizon: int) -> np.ndarray:
        """One context (K, H, W, 3) uint8 -> (horizon, H, W, 3) uint8."""
        return self.predict_many(context[None], horizon)[0]


def _check(contexts: np.ndarray, horizon: int) -> None:
    if horizon < 1:
        raise InputShapeError(f"horizon must be at least 1, got {horizon}")
    if contexts.ndim != 5 or contexts.shape[-1] != 3 or contexts.dtype != np.uint8:
        raise InputShapeError(
            f"contexts must be RGB uint8 (B, K, H, W, 3), got {contexts.shape} {contexts.dtype}"
        )
    if contexts.shape[1] < 1:
        raise InputShapeError("a context needs at least one frame")


class CopyLast(Forecaster):
    """The last context frame, repeated."""

    name = "copy-last"
    context = 1

    def predict_many(self, contexts, horizon):
        _check(contexts, horizon)
        return np.repeat(contexts[:, -1:], horizon, axis=1)


class FlowExtrapolation(Forecaster):
    """Constant-velocity extrapolation of DIS flow between the last two context frames.

    Args:
        preset: DIS preset ("ultrafast", "fast", "medium").
        max_side: flow is computed with the longer side scaled to at most this.
        sharpness: how strongly the splat prefers pixels whose motion stands out (per pixel
            of difference from the median motion).
    """

    name = "flow"
    context = 2

    def __init__(self, preset: str = "medium", max_side: int = 320, sharpness: float = 2.0):
        self.dis = new_dis(preset)
        self.max_side = max_side
        self.sharpness = sharpness

    def predict_many(self, contexts, horizon):
        _check(contexts, horizon)
        if contexts.shape[1] < 2:
            return CopyLast().predict_many(contexts, horizon)
        return np.stack([self._extrapolate(c[-2], c[-1], horizon) for c in contexts])

    def velocity(self, prev: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Per-pixel motion of `last` in pixels per frame, (H, W, 2) float32."""
        h, w = last.shape[:2]
        size = working_size(h, w, self.max_side)
        back = dis_calc(
            self.dis, grey_small(last, size), grey_small(prev, size)
        )  # last(x) ~ prev(x + back(x))
        if back.shape[:2] != (h, w):
            back = upscale_flow(back, w, h, w / back.shape[1], h / back.shape[0])
        return -back

    def _extrapolate(self, prev: np.ndarray, last: np.ndarray, horizon: int) -> np.ndarray:
        v = self.velocity(prev, last)  # (H, W, 2)
        stand_out = np.linalg.norm(v - np.median(v.reshape(-1, 2), axis=0), axis=2)
        priority = np.exp(np.minimum(self.sharpness * stand_out, 10.0)).astype(np.float32)
        return np.stack([_splat(last, n * v, priority) for n in range(1, horizon + 1)])


def _splat(image: np.ndarray, shift: np.ndarray, priority: np.ndarray) -> np.ndarray:
    """Forward-splat each pixel of `image` to `x + shift(x)`; inpaint spots nothing reached."""
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    tx, ty = xs + shift[..., 0], ys + shift[..., 1]
    x0, y0 = np.floor(tx), np.floor(ty)
    fx, fy = tx - x0, ty - y0
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    src = image.reshape(-1, 3).astype(np.float32)
    acc = np.zeros((h * w, 3), np.float64)
    weight = np.zeros(h * w, np.float64)
    cover = np.zeros(h * w, np.float64)  # plain bilinear coverage, to find holes
    for dx, dy, wb in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                       (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):  # fmt: skip
        xi, yi = x0 + dx, y0 + dy
        ok = ((xi >= 0) & (xi < w) & (yi >= 0) & (yi < h) & (wb > 1e-4)).ravel()
        idx = (yi * w + xi).ravel()[ok]
        wk = (wb * priority).ravel()[ok]
        cover += np.bincount(idx, wb.ravel()[ok], minlength=h * w)
        weight += np.bincount(idx, wk, minlength=h * w)
        for c in range(3):
            acc[:, c] += np.bincount(idx, wk * src[ok, c], minlength=h * w)
    mean = (acc / np.maximum(weight, 1e-12)[:, None]).reshape(h, w, 3)
    out = np.clip(mean + 0.5, 0, 255).astype(np.uint8)
    holes = (cover < 0.05).reshape(h, w)
    if holes.any():
        return np.asarray(cv2.inpaint(out, holes.astype(np.uint8), 3, cv2.INPAINT_TELEA), np.uint8)
    return out


class ModelForecaster(Forecaster):
    """A learned `FramePredictor` behind the forecaster interface (batched inference)."""

    name = "model"

    def __init__(self, predictor, context: int = 10):
        self.predictor = predictor
        self.context = context

    def predict_many(self, contexts, horizon):
        from framepred.predict.predictor import predict_array

        _check(contexts, horizon)
        return predict_array(contexts[:, -self.context :], horizon, self.predictor)


def get_forecaster(
    name: str, *, model: str | None = None, device: str = "auto", context: int = 10,
    batch_size: int = 16, predictor=None, precision: str = "32",
) -> Forecaster:  # fmt: skip
    """A forecaster by name: "model" (a checkpoint path or built-in name), "copy-last", "flow"."""
    if name == "copy-last":
        return CopyLast()
    if name == "flow":
        return FlowExtrapolation()
    if name != "model":
        raise InputShapeError(f"unknown method '{name}': choose from {', '.join(FORECASTERS)}")
    if predictor is None:
        from framepred.predict.predictor import load_predictor

        chosen = model or video_model()
        if chosen is None:
            raise CheckpointError(
                "no learned video forecaster is shipped (the default model fills gaps): give "
                "--model PATH|NAME (a checkpoint from `framepred train`, or a built-in such as "
                "mmnist)"
            )
        predictor = load_predictor(
            chosen, device=device, batch_size=batch_size, precision=precision
        )
    return ModelForecaster(predictor, context)


def video_model() -> str | None:
    """The built-in model that predicts video when none is named: `forecast` (the forward-only
    motion model) if shipped, else None.

    The Moving MNIST model (`mmnist`, the `.npy` default) is not used on real video unless
    asked for by name: it was trained on white digits on black, not on camera footage. The
    shipped `default` fills gaps and cannot forecast.
    """
    from framepred.models.checkpoints import builtin_path

    return "forecast" if builtin_path("forecast") is not None else None


def fill_context(frames: Mapping[int, np.ndarray], lo: int, hi: int) -> tuple[np.ndarray, int]:
    """The frames of grid slots [lo, hi) as one (hi - lo, H, W, 3) array, holes filled.

    Holes between two frames of the window are interpolated with bidirectional flow; holes at
    either end repeat the nearest frame. Only frames inside the window are used, so a context
    never sees the future it is asked to predict. Returns the array and the number of slots
    that were filled.
    """
    known = sorted(s for s in frames if lo <= s < hi)
    if not known:
        raise InputShapeError(f"no frames between slots {lo} and {hi - 1}")
    out: list[np.ndarray] = []
    flow = Flow(preset="fast")
    filled = 0
    for slot in range(lo, hi):
        if slot in frames:
            out.append(frames[slot])
            continue
        filled += 1
        before = [s for s in known if s < slot]
        after = [s for s in known if s > slot]
        if before and after:
            a, b = before[-1], after[0]
            t = (slot - a) / (b - a)
            out.append(flow.synthesize([frames[a]], [frames[b]], [t])[0])
        else:
            out.append(frames[before[-1] if before else after[0]].copy())
    return np.stack(out), filled
