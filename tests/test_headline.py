"""The headline table (`benchmarks/headline.py`) from fill.py outputs written here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _output(path: Path, rows: dict[str, float]) -> Path:
    lines = ["| clip | pattern | method | PSNR (dB) | SSIM | synth/s | fill/s |", "|---|"]
    for pattern, shift in (("x2", 0.0), ("gap3", -3.0)):
        for method, psnr in rows.items():
            lines.append(f"| city | {pattern} | {method} | {psnr + shift:.2f} | 0.9 | 10.0 | 9.0 |")
    path.write_text("\n".join(lines) + "\n")
    return path


def _headline(*args) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "benchmarks.headline", *map(str, args)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)


def test_the_peer_can_come_from_another_run(tmp_path):
    base = _output(tmp_path / "base.md", {"minterpolate": 30.0, "flow": 31.0, "model": 31.5})
    new = _output(tmp_path / "new.md", {"minterpolate": 30.0, "flow": 31.0, "model": 31.8})
    run = _headline(new, "--model", "model", "--peer", "model", "--peer-from", base)
    assert run.returncode == 0, run.stderr
    assert "| model − base model | +0.30 | +0.30 (city gap3) |" in run.stdout
    assert "| model − best classical | +0.80 |" in run.stdout


def test_a_missing_row_is_one_line_naming_it(tmp_path):
    new = _output(tmp_path / "new.md", {"minterpolate": 30.0, "flow": 31.0, "model": 31.8})
    run = _headline(new, "--model", "model")  # no rife rows
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "headline: no rife row for city x2 (fill.py --methods flow,minterpolate; --peers or "
        "--peer-from for the peer)"
    ]


def test_an_output_that_is_not_there_is_one_line(tmp_path):
    run = _headline(tmp_path / "missing.md")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"headline: cannot read {tmp_path / 'missing.md'}: No such file or directory"
    ]
