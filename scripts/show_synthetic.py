"""Pictures of the synthetic training clips: a PNG strip (one clip per row) or an animated GIF.

    python -m scripts.show_synthetic --out synthetic.png --clips 6 --length 7
    python -m scripts.show_synthetic --out synthetic.gif --clips 8 --photos my_photos/

Also reports the time per clip (one thread), the figure the DataLoader workers live on.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import imageio.v3 as iio
import numpy as np
import torch

from framepred.data.synthetic import SyntheticMotion, load_photos
from framepred.errors import FramepredError
from framepred.io.atomic import atomic_path, check_output_target
from framepred.io.marks import mark_gif, mark_png


def to_uint8(clip: torch.Tensor) -> np.ndarray:
    """(T, 3, H, W) float in [0, 1] -> (T, H, W, 3) uint8."""
    return (clip.permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)


def strip(clips: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """Clips (T, H, W, 3) laid out one per row, frames left to right, white gaps between."""
    t, h, w, _ = clips[0].shape
    canvas = np.full((len(clips) * (h + gap) - gap, t * (w + gap) - gap, 3), 255, np.uint8)
    for row, clip in enumerate(clips):
        for col, frame in enumerate(clip):
            y, x = row * (h + gap), col * (w + gap)
            canvas[y : y + h, x : x + w] = frame
    return canvas


def grid_frames(clips: list[np.ndarray], cols: int = 4, gap: int = 2) -> list[np.ndarray]:
    """One GIF frame per time step: the clips tiled in a grid of `cols` columns."""
    tiles = []
    for t in range(clips[0].shape[0]):
        rows = [clips[i : i + cols] for i in range(0, len(clips), cols)]
        rows[-1] = rows[-1] + [np.zeros_like(clips[0])] * (cols - len(rows[-1]))
        tiles.append(strip([np.stack([c[t] for c in row]) for row in rows], gap))
    return tiles


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("synthetic.png"), help=".png or .gif")
    parser.add_argument("--clips", type=int, default=6, help="how many clips")
    parser.add_argument("--length", type=int, default=7, help="frames per clip")
    parser.add_argument("--size", type=int, default=128, help="frame side in pixels")
    parser.add_argument("--seed", type=int, default=0, help="which clips (deterministic)")
    parser.add_argument("--photos", type=Path, default=None, help="a folder of your photos")
    args = parser.parse_args(argv)
    try:  # before any work
        check_output_target(args.out, [], overwrite=True)
    except FramepredError as err:
        raise SystemExit(f"show_synthetic: {err}") from None

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    photos = load_photos(args.photos) if args.photos else None
    data = SyntheticMotion(photos, args.length, (args.size, args.size), seed=args.seed)
    start = time.perf_counter()
    clips = [to_uint8(data[i]) for i in range(args.clips)]
    per_clip = (time.perf_counter() - start) / args.clips * 1000
    try:  # whole or not at all, and never over a file framepred did not write
        with atomic_path(args.out) as tmp:
            if args.out.suffix.lower() == ".gif":
                iio.imwrite(tmp, grid_frames(clips), duration=200, loop=0)
                mark_gif(tmp)
            else:
                tmp.write_bytes(mark_png(iio.imwrite("<bytes>", strip(clips), extension=".png")))
    except FramepredError as err:
        raise SystemExit(f"show_synthetic: {err}") from None
    print(f"wrote {args.out} ({args.clips} clips, {per_clip:.1f} ms per clip)")


if __name__ == "__main__":
    main()
