"""How fast one data-loading process makes the GPU recipe's training batches.

Builds the training batches `scripts/gpu_train.py run` trains on (the carried clips plus
`synthetic`, `--preset motion-large` with `--accel`, batch 32, working side 64), in this
process (no loader workers), and times the first and the next `--batches` batches for each
`--cache-mb` (decoded clip frames kept per process, `TrainConfig.clip_cache_mb`): a loader
that keeps too few decodes from keyframes again and again.

    python -m benchmarks.train_loader carry [--cache-mb 512,2048] [--batches 10]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from framepred.train.config import ACCEL, PRESETS, TrainConfig
from framepred.train.fit import _motion_parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("carry", type=Path, help="a folder from `scripts.gpu_train prepare`")
    ap.add_argument("--cache-mb", default="512,2048")
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--working", type=int, default=64)
    args = ap.parse_args()
    clips = [str(p) for p in sorted((args.carry / "train").glob("*.mp4"))]
    for cache_mb in map(int, args.cache_mb.split(",")):
        cfg = TrainConfig(data=[*clips, "synthetic"], out=Path("unused"),
                          model={**PRESETS["motion-large"], **ACCEL}, batch_size=args.batch_size,
                          working=args.working, max_steps=1, clip_cache_mb=cache_mb)  # fmt: skip
        _, data = _motion_parts(cfg)
        batches = iter(data.train_dataloader())
        for label in ("first", "next"):
            start = time.perf_counter()
            for _ in range(args.batches):
                next(batches)
            ms = (time.perf_counter() - start) / args.batches * 1000
            print(f"cache {cache_mb} MB, {label} {args.batches} batches of {args.batch_size}: "
                  f"{ms:.0f} ms per batch", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
