"""Synthesis speed of the model against a peer, interleaved in one process, so that both see
the same machine load (on a shared machine, fill.py's rows are timed minutes apart).

    python -m benchmarks.peer_speed CLIP [--frames 21] [--reps 3] [--peer rife] [--working-size N]

Each repetition fills the x2 gaps of the clip's first N frames with each method in turn
(frames in memory, only the synthesizers' calls timed, as fill.py's synth/s): `model` as
`fill` runs it by default (the guard, `--precision auto`), the network alone at fp32, with
`--working-size N` also `model-wsN` (`fill --working-size N`), and the peer. Each repetition
starts a fresh guard, so every one pays for its probes as a `fill` run does. The medians
over repetitions are printed, with their ratios to the peer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from benchmarks.peers import PEERS, make_peer
from benchmarks.timing import synth_fill
from framepred.guard import Guard
from framepred.io.reader import VideoReader
from framepred.synth.base import Synthesizer
from framepred.synth.methods import make_synthesizer
from scripts.fetch import FetchError


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("clip", type=Path)
    ap.add_argument("--frames", type=int, default=21, help="first N frames (x2: N // 2 made)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--peer", default="rife", choices=PEERS)
    ap.add_argument("--working-size", type=int, default=None,
                    help="also time model-wsN: fill --working-size N")  # fmt: skip
    args = ap.parse_args()
    try:
        peer = make_peer(args.peer)
    except FetchError as err:
        sys.exit(f"peer_speed.py: cannot load the peer: {err}")
    with VideoReader(args.clip) as reader:
        frames = [f.image for f in reader][: args.frames]
    keep = list(range(0, len(frames), 2))
    methods: dict[str, Synthesizer] = {
        "model": Guard(make_synthesizer("model", precision="auto")),  # fill's default
        "network-fp32": make_synthesizer("model", precision="32"),
    }
    if args.working_size:
        side = args.working_size
        methods[f"model-ws{side}"] = Guard(
            make_synthesizer("model", precision="auto", working_size=side)
        )
    methods[args.peer] = peer
    rates: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(args.reps):
        for name, synth in methods.items():
            synth = synth.fork()  # a fresh guard (and caches), as each fill run starts
            made, seconds = synth_fill(synth, frames, keep)
            rates[name].append(len(made) / seconds)
    h, w = frames[0].shape[:2]
    med = {name: statistics.median(r) for name, r in rates.items()}
    for name, r in rates.items():
        print(f"{args.clip.stem} {w}x{h} {name}: {med[name]:.3f} frames/s "
              f"(runs: {', '.join(f'{v:.3f}' for v in r)})")  # fmt: skip
    for name in methods:
        if name != args.peer:
            print(f"{name} ÷ {args.peer}: {med[name] / med[args.peer]:.1f}x")


if __name__ == "__main__":
    main()
