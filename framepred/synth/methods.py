"""The fill methods by name: `make_synthesizer("model" | "flow" | "blend" | "repeat")`."""

from __future__ import annotations

import logging

from framepred.synth.base import Synthesizer
from framepred.synth.classical import Flow, get_synthesizer
from framepred.synth.pixel import ModelSynthesizer

log = logging.getLogger(__name__)

METHODS = ("model", "flow", "blend", "repeat")


def make_synthesizer(
    method: str, model=None, device: str = "auto", predictor=None, precision: str = "32"
) -> Synthesizer:
    """The synthesizer for `method`; `model` falls back to `flow` until a default is shipped.
    `precision` ("32", "bf16", "auto") is the network's (`framepred.precision`)."""
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}': choose from {', '.join(METHODS)}")
    if method != "model":
        return get_synthesizer(method)
    if predictor is not None:
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
            return Flow()
    from framepred.models.checkpoints import load_model
    from framepred.models.interpolator import MotionInterpolator
    from framepred.predict.predictor import pick_device, predictor_for

    dev = pick_device(device)
    net, meta = load_model(model or "default", dev)
    if isinstance(net, MotionInterpolator):
        from framepred.synth.motion import MotionSynthesizer

        return MotionSynthesizer(net, dev, precision)
    return ModelSynthesizer(predictor_for(net, dev, meta, precision=precision))
