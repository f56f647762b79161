"""`fill` on many files: one batch (`--jobs 1`, `--jobs 2`) against a shell loop of one-file
`fill` calls, on 8 copies of the shipped sample, total seconds of each in one run.

The loop pays for starting Python, importing torch and loading the model once per file; the
batch pays once, and reads the next file while the current one is filled. `--jobs 2` fills
two files at once, each with half the cores. Every variant runs as a fresh subprocess (the
same `python -m framepred` a user runs) and writes its outputs to its own folder; with the
default lossless .mkv the outputs are checked to be the same frames; .mp4 is checked for frame
counts only: the synthesized frames are the same, but libx264's macroblock tree (PyAV's build,
x264 core 165) reads heap memory it never wrote, so its encoding of them depends on what the
process freed before (other threads' torch buffers under `--jobs 2`; one file of four in
each of two runs differed, by encoder noise: size within 0.1%, PSNR within 0.02 dB). Ratios
are against the shell loop.

    python -m benchmarks.batch [--copies 8] [--method model] [--format mkv] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "bbb_gappy.mp4"


def timed(cmd: list[str] | str, shell: bool = False) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, shell=shell, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"failed: {cmd}\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--method", default="model")
    ap.add_argument("--format", default="mkv", choices=["mkv", "mp4"])
    ap.add_argument("--repeats", type=int, default=1, help="runs of each variant (best kept)")
    args = ap.parse_args()
    fill = [sys.executable, "-m", "framepred", "-q", "fill"]
    common = ["--method", args.method, "--no-progress"]
    with tempfile.TemporaryDirectory() as tmp:
        lib = Path(tmp) / "lib"
        lib.mkdir()
        for k in range(args.copies):
            shutil.copy(SAMPLE, lib / f"clip{k:02d}.mp4")
        variants = {
            "shell loop": lambda out: timed(
                f'mkdir -p {out} && for f in {lib}/*.mp4; do {" ".join(fill)} "$f" -o '
                f'{out}/$(basename "$f" .mp4).{args.format} {" ".join(common)} || exit 1; done',
                shell=True,
            ),
            "--jobs 1": lambda out: timed(
                [*fill, str(lib), "-o", str(out), "--format", args.format, *common, "--jobs", "1"]
            ),  # fmt: skip
            "--jobs 2": lambda out: timed(
                [*fill, str(lib), "-o", str(out), "--format", args.format, *common, "--jobs", "2"]
            ),  # fmt: skip
        }
        best: dict[str, float] = {}
        for r in range(args.repeats):
            for name, run in variants.items():  # interleaved, so drifting load hits all alike
                out = Path(tmp) / f"out{r}-{name.replace(' ', '').replace('-', '')}"
                best[name] = min(best.get(name, float("inf")), run(out))
        _check_same(Path(tmp), args.format)
    loop = best["shell loop"]
    print(f"{args.copies} x {SAMPLE.name}, --method {args.method}, .{args.format}, "
          f"{os.cpu_count()} CPUs, best of {args.repeats}")  # fmt: skip
    print(f"{'variant':<12} {'seconds':>8} {'vs loop':>8}")
    for name, seconds in best.items():
        print(f"{name:<12} {seconds:>8.1f} {loop / seconds:>7.2f}x")


def _check_same(tmp: Path, format: str) -> None:
    """Every variant wrote the same frames (.mp4: as many frames) for every file."""
    sys.path.insert(0, str(ROOT))
    from framepred.io.reader import VideoReader

    def frames(path: Path) -> list[bytes]:
        with VideoReader(path) as reader:
            return [f.image.tobytes() if format == "mkv" else b"" for f in reader]

    outs = sorted(p for p in tmp.iterdir() if p.name.startswith("out"))
    for video in sorted(outs[0].glob(f"*.{format}")):
        ref = frames(video)
        for other in outs[1:]:
            if frames(other / video.name) != ref:
                sys.exit(f"{other / video.name} differs from {video}")


if __name__ == "__main__":
    main()
