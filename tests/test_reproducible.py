"""Default `fill` (the model with its guard) makes the same frames whatever ran before it in
the process and whatever torch's and OpenCV's thread counts are (the benchmarks and `fill
IN... -o OUTDIR --jobs N` rely on both)."""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import torch
from conftest import moving_scene, panning_scene, read_all, write_video

from framepred.fill import fill_video

W, H, N = 160, 120, 21
KEEP = range(0, N, 2)


def x2_video(path, scene):
    return write_video(path, [(Fraction(i, 25), scene(i)) for i in KEEP])


def filled(video, out) -> np.ndarray:
    fill_video(video, out, progress=False, device="cpu", overwrite=True)
    _, frames = read_all(out)
    return np.stack([f.image for f in frames])


def test_a_video_fills_the_same_after_another_video_in_the_process(tmp_path):
    square = x2_video(tmp_path / "square.mkv", lambda i: moving_scene(i, W, H, speed=4))
    pan = x2_video(tmp_path / "pan.mkv", lambda i: panning_scene(i, W, H, speed=3))
    first = filled(square, tmp_path / "a.mkv")
    filled(pan, tmp_path / "b.mkv")
    again = filled(square, tmp_path / "c.mkv")
    assert np.array_equal(first, again)


def test_fill_makes_the_same_frames_with_one_or_two_threads(tmp_path):
    video = x2_video(tmp_path / "square.mkv", lambda i: moving_scene(i, W, H, speed=4))
    threads, cv2_threads = torch.get_num_threads(), cv2.getNumThreads()
    try:
        torch.set_num_threads(2)
        cv2.setNumThreads(2)
        two = filled(video, tmp_path / "two.mkv")
        torch.set_num_threads(1)  # what each worker of `--jobs 2` runs with on two cores
        cv2.setNumThreads(1)
        one = filled(video, tmp_path / "one.mkv")
    finally:
        torch.set_num_threads(threads)
        cv2.setNumThreads(cv2_threads)
    assert np.array_equal(one, two)
