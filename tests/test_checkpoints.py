"""Checkpoints are data, not code: safe loading and clear errors."""

import pickle
from pathlib import Path

import pytest
import torch

from framepred.errors import CheckpointError
from framepred.models import EncoderForecaster, ModelConfig
from framepred.models.checkpoints import builtin_names, export_model, load_model, resolve


class _RunsCode:
    """Unpickling this calls `Path.touch(marker)`: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": _RunsCode(marker)}, evil)
    # Sanity: a plain unpickle really would run it.
    with pytest.raises(CheckpointError, match="not plain data"):
        load_model(evil)
    assert not marker.exists()
    pickle.loads(pickle.dumps(_RunsCode(marker)))
    assert marker.exists()


def test_truncated_and_non_checkpoint_files(tmp_path):
    net = EncoderForecaster(ModelConfig(stem_chs=4, stage_chs=(4, 4)))
    good = export_model(net, tmp_path / "good.pt")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt or not a checkpoint"):
        load_model(cut)
    for name, content in [("notes.pt", "hello"), ("README.md", "# a title\n\ntext\n")]:
        text = tmp_path / name
        text.write_text(content)  # "#" reads as a pickle opcode: no "refusing to load" message
        with pytest.raises(
            CheckpointError, match=r"not a checkpoint file \(not saved by PyTorch\)"
        ):
            load_model(text)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match="not a framepred checkpoint"):
        load_model(other)


def test_weights_from_another_config_are_a_clear_error(tmp_path):
    net = EncoderForecaster(ModelConfig(stem_chs=4, stage_chs=(4, 4)))
    path = tmp_path / "m.pt"
    export_model(net, path)
    payload = torch.load(path, weights_only=True)
    payload["config"]["stage_chs"] = [8, 8]
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="do not match"):
        load_model(path)
    payload["config"]["not_a_field"] = 1
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="invalid model config"):
        load_model(path)


def test_unknown_names_list_the_builtins(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint or built-in model"):
        resolve("no-such-model")
    with pytest.raises(CheckpointError, match="not a checkpoint file"):
        resolve(tmp_path)


def test_builtin_models_load_by_name():
    from framepred.models import EncoderForecaster
    from framepred.models.forecaster import MotionForecaster
    from framepred.models.interpolator import MotionInterpolator

    assert {"default", "forecast", "mmnist", "mmnist-pixel"} <= set(builtin_names())
    assert isinstance(load_model("mmnist")[0], MotionForecaster)  # the best digit predictor
    assert isinstance(load_model("mmnist-pixel")[0], EncoderForecaster)
    for name in builtin_names():
        net, meta = load_model(name)
        assert meta["path"].endswith(f"{name}.pt")
        if isinstance(net, MotionInterpolator):  # fills: two frames -> the slot between
            frames = torch.rand(1, net.config.context, 3, 32, 32)
            flow = torch.zeros(1, 2, 32, 32)
            (slot,) = net(frames, frames, flow, flow, [0.5])
            out = net.render(frames[:, -1], frames[:, 0], slot)
        elif isinstance(net, MotionForecaster):  # predicts: context -> the next frames
            steps = net(torch.rand(1, net.config.context, 3, 32, 32), torch.zeros(1, 2, 32, 32), 2)
            out = torch.stack([net.render(torch.rand(1, 3, 32, 32), s) for s in steps], 1)
            assert out.shape == (1, 2, 3, 32, 32)
        else:
            out = net.rollout(torch.rand(1, 3, net.config.in_chs, 32, 32), 2)
            assert out.shape == (1, 2, net.config.in_chs, 32, 32)
        assert torch.isfinite(out).all()


def test_the_shipped_forecaster_predicts_video_by_default():
    from framepred.models.forecaster import MotionForecaster
    from framepred.predict.forecasters import video_model

    assert video_model() == "forecast"
    net, _ = load_model("forecast")
    assert isinstance(net, MotionForecaster)
    # trained: the head's zero-initialised last layer (constant-velocity warping) has moved
    fresh = dict(MotionForecaster(net.config).named_parameters())
    zero_at_start = [n for n, p in fresh.items() if not p.any()]
    assert zero_at_start
    trained = dict(net.named_parameters())
    assert all(trained[n].any() for n in zero_at_start)


# -- the same through every command that loads a checkpoint -----------------------------------


def _cli(*args):
    from click.testing import CliRunner

    from cli.main import cli

    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # no crash
    assert "Traceback" not in result.output
    return result


def _one_error(result, phrase: str) -> None:
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and phrase in errors[0], result.output


def test_every_command_refuses_a_code_running_checkpoint(tmp_path, gappy_mkv):
    import numpy as np

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "global_step": 3, "payload": _RunsCode(marker)}, evil)
    frames = tmp_path / "in.npy"
    np.save(frames, np.zeros((6, 16, 16), np.uint8))
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(evil.read_bytes())
    commands = {
        "predict": ("predict", frames, "-o", tmp_path / "o.npy", "--horizon", 2, "--model", evil),
        "fill": ("fill", gappy_mkv, "-o", tmp_path / "o.mkv", "--method", "model", "--model", evil),
        "eval": ("eval", "mmnist", "--model", evil, "--sequences", 2),
        "train --init": ("train", "mmnist", "--out", tmp_path / "ft", "--preset", "tiny",
                         "--max-steps", 1, "--init", evil),
        "train --resume": ("train", "mmnist", "--out", run_dir, "--preset", "tiny",
                           "--max-steps", 4, "--resume"),
    }  # fmt: skip
    for name, args in commands.items():
        _one_error(_cli(*args), "refusing to load")
        assert not marker.exists(), f"{name} ran the checkpoint's code"
    assert not (tmp_path / "o.npy").exists() and not (tmp_path / "o.mkv").exists()
    assert not (tmp_path / "ft" / "checkpoints").exists()


def test_resume_refuses_a_corrupt_or_mismatched_last_checkpoint(tmp_path, tiny_ckpt):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    last = run_dir / "checkpoints" / "last.ckpt"
    args = ("train", "mmnist", "--out", run_dir, "--max-steps", 8, "--resume", "--no-progress")
    last.write_bytes(tiny_ckpt.read_bytes()[:2000])
    _one_error(_cli(*args, "--preset", "tiny"), "corrupt or not a checkpoint")
    last.write_bytes(tiny_ckpt.read_bytes())
    _one_error(_cli(*args, "--preset", "mmnist"), "another model config")
    assert last.read_bytes() == tiny_ckpt.read_bytes()  # left as it was
