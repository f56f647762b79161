"""Loading and saving models: checkpoints are data, never code.

Every load goes through `torch.load(..., weights_only=True)`, which only rebuilds tensors and
plain containers and refuses any pickled object that would run code. Two formats load:

* a Lightning checkpoint written by `framepred train` (`state_dict` with the `net.` prefix,
  `hyper_parameters["model"]` holding the `ModelConfig` or `MotionConfig`), and
* a slim export (`{"format": "framepred", "config": ..., "state_dict": ...}`), the form the
  built-in models ship in (`framepred/weights/<name>.pt`).
"""

from __future__ import annotations

import pickle
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from framepred.errors import CheckpointError
from framepred.io.atomic import atomic_path
from framepred.models import EncoderForecaster, ModelConfig
from framepred.models.forecaster import HEAD, MotionForecastConfig, MotionForecaster
from framepred.models.interpolator import MotionConfig, MotionInterpolator

FORMAT = "framepred"
# The largest network a checkpoint may ask for (the shipped models have about 1 M): a
# config asking for more is refused before anything is allocated.
MAX_PARAMETERS = 200_000_000
Net = EncoderForecaster | MotionInterpolator | MotionForecaster
Config = ModelConfig | MotionConfig | MotionForecastConfig


def config_from_dict(d: dict) -> Config:
    """The typed config of any network: motion models say `head: "motion"` (filling) or
    `head: "motion-forecast"` (prediction); pixel models have no head."""
    if d.get("head") == "motion":
        return MotionConfig.from_dict(d)
    if d.get("head") == HEAD:
        return MotionForecastConfig.from_dict(d)
    return ModelConfig.from_dict(d)


def build(config: Config) -> Net:
    """The (untrained) network a config describes."""
    if isinstance(config, MotionConfig):
        return MotionInterpolator(config)
    if isinstance(config, MotionForecastConfig):
        return MotionForecaster(config)
    return EncoderForecaster(config)


def builtin_names() -> list[str]:
    """Names of the models shipped inside the package."""
    folder = resources.files("framepred").joinpath("weights")
    return sorted(p.name[:-3] for p in folder.iterdir() if p.name.endswith(".pt"))


def builtin_path(name: str) -> Path | None:
    """Path of the built-in model `name`, or None if no such model is shipped."""
    path = Path(str(resources.files("framepred").joinpath("weights", f"{name}.pt")))
    return path if path.is_file() else None


def resolve(model: str | Path) -> Path:
    """A checkpoint path from a path or a built-in name; a clear error if neither exists."""
    path = Path(model)
    if path.is_file():
        return path
    if path.exists():
        raise CheckpointError(f"not a checkpoint file: {path}")
    builtin = builtin_path(str(model)) if "/" not in str(model) and path.suffix == "" else None
    if builtin is not None:
        return builtin
    names = ", ".join(builtin_names()) or "none"
    raise CheckpointError(
        f"no such checkpoint or built-in model: {model} (built-in models: {names})"
    )


def _looks_like_torch_file(path: Path) -> bool:
    """Whether `path` starts like a file `torch.save` writes: a zip archive (the format since
    torch 1.6) or a legacy pickle (protocol 2+). Text, images and videos do not."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err.strerror}") from None
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The raw dict of a checkpoint, loaded without executing anything."""
    if not _looks_like_torch_file(path):
        raise CheckpointError(f"not a checkpoint file (not saved by PyTorch): {path}")
    try:
        with warnings.catch_warnings(record=True) as caught:  # torch warns about raw pickles
            warnings.simplefilter("always")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if any("pickle protocol" in str(w.message) for w in caught):
            raise CheckpointError(
                f"refusing to load {path}: a raw Python pickle, not a checkpoint saved by "
                "PyTorch (framepred never unpickles objects)"
            ) from None
        first = str(err).strip().splitlines()[0] if str(err).strip() else "unsupported object"
        raise CheckpointError(
            f"refusing to load {path}: it holds objects that are not plain data ({first[:120]})"
        ) from None
    except Exception as err:  # the unpickler raises many types (KeyError, EOFError, ...) on junk
        raise CheckpointError(
            f"corrupt or not a checkpoint: {path} ({type(err).__name__})"
        ) from None
    if not isinstance(obj, dict) or "state_dict" not in obj:
        raise CheckpointError(f"not a framepred checkpoint: {path}")
    return obj


def _config_and_weights(
    obj: dict[str, Any], path: Path
) -> tuple[Config, dict[str, torch.Tensor], dict]:
    if obj.get("format") == FORMAT:
        config, state, meta = obj.get("config"), obj["state_dict"], dict(obj.get("meta", {}))
    else:  # a Lightning checkpoint from `framepred train`
        hp = obj.get("hyper_parameters") or {}
        config = hp.get("model") if isinstance(hp, dict) else None
        state = {k[4:]: v for k, v in obj["state_dict"].items() if k.startswith("net.")}
        meta = {
            "context": hp.get("context"),
            "horizon": hp.get("horizon"),
            "global_step": obj.get("global_step"),
        }
        if config is None and not state:
            raise CheckpointError(f"not a framepred checkpoint: {path}")
    try:
        cfg = config_from_dict(dict(config or {}))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint has an invalid model config: {path} ({err})") from None
    return cfg, state, meta


def check_weights(cfg: Config, state: dict[str, Any], path: Path) -> None:
    """Refuse non-finite (NaN/inf) weights, and a config whose network is larger than
    `MAX_PARAMETERS` (sized on the meta device: nothing is allocated)."""
    for name, value in state.items():
        if isinstance(value, torch.Tensor) and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"checkpoint has non-finite (NaN/inf) weights ({name}): {path}")
    try:
        with torch.device("meta"):
            wanted = sum(v.numel() for v in build(cfg).state_dict().values())
    except (RuntimeError, ValueError, TypeError):
        return  # load_model reports a config that cannot be built
    held = sum(v.numel() for v in state.values() if isinstance(v, torch.Tensor))
    if wanted > MAX_PARAMETERS:
        raise CheckpointError(
            f"checkpoint's model config asks for a network of {wanted:,} parameters, more than "
            f"the {MAX_PARAMETERS:,} framepred loads (its weights hold {held:,}): {path}"
        )


def load_model(model: str | Path, device: str | torch.device = "cpu") -> tuple[Net, dict]:
    """Rebuild the network stored in a checkpoint (path or built-in name), in eval mode.

    Returns the model and a small dict of metadata (context/horizon it was trained for, ...).
    """
    path = resolve(model)
    cfg, state, meta = _config_and_weights(read_checkpoint(path), path)
    check_weights(cfg, state, path)
    try:
        net = build(cfg)
        net.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError) as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(
            f"checkpoint weights do not match its model config: {path} ({first[:160]})"
        ) from None
    meta["path"] = str(path)
    return net.to(device).eval(), meta


def export_model(net: Net, path: Path | str, meta: dict | None = None) -> Path:
    """Write a slim, weights-only checkpoint (the built-in model format), atomically."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "config": net.config.to_dict(),
        "state_dict": {
            k: v.detach().cpu().clone(memory_format=torch.contiguous_format)
            for k, v in net.state_dict().items()
        },
        "meta": dict(meta or {}),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path
