"""Two-process DDP on CPU (gloo): both ranks must end with identical weights."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch


@pytest.mark.slow
def test_two_process_ddp_ends_with_identical_weights(tmp_path):
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1])}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(worker),
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert w0.keys() == w1.keys()
    for key in w0:
        torch.testing.assert_close(w0[key], w1[key], rtol=0, atol=0, msg=key)
    # Training moved the weights away from a fresh initialisation (same seed).
    from framepred.train.config import PRESETS
    from framepred.train.pixel import FramePredictorModule

    torch.manual_seed(0)
    fresh = FramePredictorModule(model=dict(PRESETS["tiny"])).state_dict()
    assert any(not torch.equal(fresh[k], w0[k]) for k in w0 if w0[k].is_floating_point())
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
