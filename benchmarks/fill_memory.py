"""Peak memory of `framepred fill` against video length: the pipeline must stream.

Generates gappy clips in a temporary folder (a panning texture with a moving square,
H.264 `ultrafast`; every other slot dropped, the kept frames at their true timestamps),
runs `python -m framepred fill` on each as a subprocess and reads the subprocess's peak
resident set size (`getrusage(RUSAGE_CHILDREN).ru_maxrss`, from a fresh wrapper process
per run so one run's peak cannot hide another's). Prints the peaks for 1080p clips of 100
and 1,000 slots and their ratio (the target: less than 10% apart), and the peak for 4K.
Each method is run: `flow`, and `model`, which resolves to the built-in `default` model
when one is shipped (the report JSON says which synthesizer was used).

    python -m benchmarks.fill_memory [--lengths 100,1000] [--methods flow,model] [--no-4k]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RATE = Fraction(25)
SPEED = 4  # pixels per slot, panning to the left
# Runs `argv` as a child and prints the peak RSS (KiB on Linux) of it and its descendants.
WRAPPER = (
    "import resource, subprocess, sys; "
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
    "sys.stderr.write(done.stderr[-2000:] if done.returncode else ''); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)"
)


def texture(height: int, width: int) -> np.ndarray:
    """A smooth colour texture (H, W, 3) uint8: something for optical flow to lock onto."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack(
        [
            128 + 90 * np.sin(xx / 23) * np.cos(yy / 31),
            128 + 80 * np.cos(xx / 41 + yy / 37),
            128 + 70 * np.sin((xx + 2 * yy) / 29),
        ],
        axis=2,
    )
    return img.astype(np.uint8)


def write_gappy_clip(path: Path, width: int, height: int, n_slots: int) -> int:
    """An H.264 clip of `n_slots` slots with every odd slot missing; returns frames written."""
    tex = texture(height, width + SPEED * n_slots)
    tb = Fraction(1, 12800)
    written = 0
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=RATE)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.time_base = s.codec_context.time_base = tb
        s.options = {"preset": "ultrafast", "crf": "28", "bframes": "0"}
        for slot in range(0, n_slots, 2):  # odd slots are missing: holes in the timestamps
            x = SPEED * slot
            img = np.ascontiguousarray(tex[:, x : x + width])
            y0 = height // 3
            sx = (slot * 3 * SPEED) % (width - 100)
            img[y0 : y0 + 100, sx : sx + 100] = (240, 220, 30)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = round(Fraction(slot) / RATE / tb), tb
            for p in s.encode(frame):
                p.duration = round(1 / RATE / tb)
                out.mux(p)
            written += 1
        for p in s.encode():
            out.mux(p)
    return written


def peak_rss_of_fill(clip: Path, out: Path, method: str) -> tuple[float, float, str, int]:
    """(peak RSS in MiB, seconds, synthesizer used, frames synthesized) of one `framepred fill`
    subprocess. `--fps` names the clip's grid: with every odd slot missing, FFmpeg reads the
    stream as a clean half-rate one and there would be nothing to fill."""
    report = out.with_suffix(".json")
    cmd = [sys.executable, "-m", "framepred", "fill", str(clip), "-o", str(out),
           "--method", method, "--preset", "ultrafast", "--overwrite", "--no-progress",
           "--fps", str(float(RATE)), "--report", str(report)]  # fmt: skip
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True, cwd=ROOT
    )
    seconds = time.perf_counter() - t0
    kib, rc = done.stdout.split()
    if rc != "0":
        raise RuntimeError(f"fill failed ({method}, {clip.name}): {done.stderr.strip()}")
    rep = json.loads(report.read_text())
    return int(kib) / 1024, seconds, rep["method"], len(rep["slots"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--lengths", default="100,1000", help="1080p clip lengths in slots")
    ap.add_argument("--methods", default="flow,model")
    ap.add_argument("--no-4k", action="store_true", help="skip the 4K clip")
    ap.add_argument("--size", default="1920x1080", help="frame size of the length comparison")
    args = ap.parse_args()
    lengths = [int(n) for n in args.lengths.split(",")]
    width, height = (int(v) for v in args.size.split("x"))
    methods = args.methods.split(",")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        clips = []
        for n in lengths:
            clip = tmp / f"{width}x{height}_{n}.mp4"
            t0 = time.perf_counter()
            kept = write_gappy_clip(clip, width, height, n)
            print(f"generated {clip.name}: {kept} of {n} slots kept, "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)  # fmt: skip
            clips.append((f"{width}x{height}", n, clip))
        if not args.no_4k:
            clip = tmp / "3840x2160_100.mp4"
            write_gappy_clip(clip, 3840, 2160, 100)
            clips.append(("3840x2160", 100, clip))
        rows = []
        for method in methods:
            for size, n, clip in clips:
                mib, secs, used, made = peak_rss_of_fill(clip, tmp / f"out_{method}.mp4", method)
                rows.append((method, used, size, n, made, mib, secs))
                print(f"{method} ({used}) {size} {n} slots: peak RSS {mib:.0f} MiB, {secs:.1f} s",
                      file=sys.stderr, flush=True)  # fmt: skip
    print("| --method (used) | size | slots | synthesized | peak RSS (MiB) | wall (s) |")
    print("|---|---|---:|---:|---:|---:|")
    for method, used, size, n, made, mib, secs in rows:
        print(f"| {method} ({used}) | {size} | {n} | {made} | {mib:.0f} | {secs:.1f} |")
    print()
    for method in methods:
        sel = [r for r in rows if r[0] == method and r[2] == f"{width}x{height}"]
        if len(sel) >= 2:
            lo, hi = sel[0], sel[-1]
            diff = hi[5] / lo[5] - 1
            verdict = "within" if abs(diff) < 0.10 else "NOT within"
            print(f"{method}: {width}x{height} peak RSS {hi[3]} vs {lo[3]} slots: "
                  f"{hi[5]:.0f} / {lo[5]:.0f} MiB = {hi[5] / lo[5]:.3f} "
                  f"({diff:+.1%}, {verdict} the 10% target)")  # fmt: skip


if __name__ == "__main__":
    main()
