"""`--device auto` picks CUDA when present and the CPU otherwise, down to the fill model."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from framepred.fill import make_synthesizer
from framepred.predict import pick_device

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
    cmd = [sys.executable, "benchmarks/gpu_check.py", "--device", "cpu", "--quick", "--out", out]
    subprocess.run(
        cmd, cwd=ROOT, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    text = out.read_text()
    assert "device: CPU" in text and "| flow |" in text and "| fp32 |" in text
