"""`--device auto` picks CUDA when present and the CPU otherwise, down to the fill model."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from framepred.predict.predictor import pick_device
from framepred.synth.methods import make_synthesizer

ROOT = Path(__file__).resolve().parents[1]


def test_auto_picks_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda"


def test_auto_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto").type == "cpu"
    synth = make_synthesizer("model", "mmnist", device="auto")
    assert next(synth.predictor.net.parameters()).device.type == "cpu"


@pytest.mark.slow
def test_gpu_check_runs_on_cpu(tmp_path):
    out = tmp_path / "report.txt"
    cmd = [sys.executable, "-m", "benchmarks.gpu_check", "--device", "cpu", "--quick", "--out", out]
    subprocess.run(
        cmd, cwd=ROOT, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    text = out.read_text()
    assert "device: CPU" in text and "| flow |" in text and "| fp32 |" in text


def test_gpu_check_never_replaces_a_file_it_did_not_write(tmp_path):
    out = tmp_path / "notes.txt"
    out.write_text("the user's notes")
    cmd = [sys.executable, "-m", "benchmarks.gpu_check", "--device", "cpu", "--quick", "--out", out]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert run.returncode == 1 and "not written by framepred" in run.stderr, run.stderr
    assert "device:" not in run.stdout  # refused before any work
    assert out.read_text() == "the user's notes"


def test_gpu_check_stands_in_for_a_missing_pyav():
    # The GPU machine has no PyAV: the check's placeholder must import framepred.fill and
    # still look like a module to `inspect` (torchvision's import walks every module's
    # __file__; a placeholder that answered dunders broke the first GPU run).
    code = (
        "import importlib.util, inspect, sys\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n == 'av' else real(n, *a)\n"
        "sys.argv = ['gpu_check']\n"
        "import benchmarks.gpu_check\n"
        "import av\n"
        "assert not hasattr(av, '__file__')\n"
        "assert inspect.getmodule(benchmarks.gpu_check.main) is benchmarks.gpu_check\n"
        "try:\n"
        "    av.open('x.mp4')\n"
        "except RuntimeError as err:\n"
        "    print(err)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "PyAV is not installed" in run.stdout
