"""The fill methods by name: `make_synthesizer("model" | "flow" | "blend" | "repeat")`."""

from __future__ import annotations

import logging
from dataclasses import replace

from framepred.errors import FramepredError
from framepred.flow import WORKING_SIDES
from framepred.synth.base import Synthesizer
from framepred.synth.classical import get_synthesizer
from framepred.synth.pixel import ModelSynthesizer

log = logging.getLogger(__name__)

METHODS = ("model", "flow", "blend", "repeat")


def make_synthesizer(
    method: str,
    model=None,
    device: str = "auto",
    predictor=None,
    precision: str = "32",
    working_size: int | None = None,
) -> Synthesizer:
    """The synthesizer for `method`; `model` falls back to `flow` until a default is shipped.
    `precision` ("32", "bf16", "auto") is the network's (`framepred.precision`).
    `working_size`: the longer side of the resolution motion is estimated at (the motion
    model's and `flow`'s; None: the model's own, `WORKING_SIDE` for flow)."""
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}': choose from {', '.join(METHODS)}")
    if working_size is not None:
        check_working_size(working_size)
    if method != "model":
        return get_synthesizer(method, working_size)
    if predictor is not None:
        _no_working_size(working_size)
        return ModelSynthesizer(predictor)
    name = str(model or "default")
    if name == "default":
        try:
            from framepred.models.checkpoints import builtin_path
        except ImportError:
            builtin = None
        else:
            builtin = builtin_path("default")
        if builtin is None:
            log.warning("no learned default model is shipped yet; using --method flow")
            return get_synthesizer("flow", working_size)
    from framepred.models.checkpoints import load_model
    from framepred.models.interpolator import MotionInterpolator
    from framepred.predict.predictor import pick_device, predictor_for

    dev = pick_device(device)
    net, meta = load_model(model or "default", dev)
    if isinstance(net, MotionInterpolator):
        from framepred.synth.motion import MotionSynthesizer

        if working_size is not None:  # a fully convolutional network: any working size runs
            net.config = replace(net.config, max_side=working_size)
        return MotionSynthesizer(net, dev, precision)
    _no_working_size(working_size)
    return ModelSynthesizer(predictor_for(net, dev, meta, precision=precision))


def check_working_size(side: int) -> None:
    lo, hi = WORKING_SIDES
    if not lo <= side <= hi:
        raise FramepredError(f"the working size must be {lo} to {hi} pixels, got {side}")


def _no_working_size(working_size: int | None) -> None:
    if working_size is not None:  # a pixel model works at the size it was trained for
        raise FramepredError("--working-size applies to the motion model and flow, not to "
                             "this pixel-space model")  # fmt: skip
