"""Synthetic motion clips from still photos (framepred.data.synthetic)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from framepred.data.synthetic import SyntheticConfig, SyntheticMotion, load_photos, patch_mask
from framepred.errors import VideoOpenError

# Only the camera moves: a constant pan of exactly 5 px/frame in a random direction.
PAN = SyntheticConfig(
    max_speed=5.0, speed_power=0.0, still_camera=0.0, max_accel=0.0, max_zoom=0.0,
    max_rotation=0.0, max_patches=0, brightness=0.0, color_cast=0.0, noise=0.0,
)  # fmt: skip


def gray(frame: torch.Tensor) -> np.ndarray:
    return frame.mean(0).numpy().astype(np.float64)  # (H, W)


def test_items_have_the_promised_shape_type_and_range() -> None:
    data = SyntheticMotion(length=5, size=(64, 96), epoch_size=3, seed=0)
    assert len(data) == 3
    clip = data[0]
    assert clip.shape == (5, 3, 64, 96) and clip.dtype == torch.float32
    assert clip.is_contiguous()
    assert 0.0 <= clip.min() and clip.max() <= 1.0
    assert clip.std() > 0.02  # a picture, not a flat field


def test_a_seed_makes_every_item_repeatable_and_no_seed_draws_fresh_ones() -> None:
    a, b = (
        SyntheticMotion(length=3, size=(32, 32), seed=7),
        SyntheticMotion(length=3, size=(32, 32), seed=7),
    )
    assert torch.equal(a[4], b[4]) and torch.equal(a[4], a[4])
    assert not torch.equal(a[4], a[5])
    assert not torch.equal(SyntheticMotion(length=3, size=(32, 32), seed=8)[4], a[4])
    fresh = SyntheticMotion(length=3, size=(32, 32))
    assert not torch.equal(fresh[0], fresh[0])
    torch.manual_seed(1)
    first = fresh[0]
    torch.manual_seed(1)
    assert torch.equal(fresh[0], first)  # training draws follow torch's seeded RNG


def test_consecutive_frames_differ_when_the_camera_moves() -> None:
    moving = SyntheticConfig(still_camera=0.0)
    data = SyntheticMotion(length=4, size=(64, 64), seed=3, config=moving)
    for i in range(10):
        clip = data[i]
        steps = (clip[1:] - clip[:-1]).abs().mean(dim=(1, 2, 3))
        assert (steps > 1e-3).all(), f"clip {i} has identical consecutive frames"


def test_a_pure_pan_makes_frames_that_are_shifted_copies() -> None:
    data = SyntheticMotion(length=4, size=(128, 128), seed=11, config=PAN)  # 128 px: 5 px/frame
    window = cv2.createHanningWindow((128, 128), cv2.CV_64F)
    for i in range(3):
        clip = data[i]
        shifts = [cv2.phaseCorrelate(gray(clip[t]), gray(clip[t + 1]), window)[0] for t in range(3)]
        for dx, dy in shifts:
            assert np.hypot(dx, dy) == pytest.approx(5.0, abs=0.3)
            assert (dx, dy) == pytest.approx(shifts[0], abs=0.3)  # constant velocity
        # Moving frame 0 by the measured shift gives frame 1 (inside the frame, up to resampling).
        dx, dy = shifts[0]
        img0 = clip[0].permute(1, 2, 0).numpy()
        moved = cv2.warpAffine(img0, np.float32([[1, 0, dx], [0, 1, dy]]), (128, 128))
        inner = (slice(10, -10), slice(10, -10))
        err = np.abs(moved[inner] - clip[1].permute(1, 2, 0).numpy()[inner]).mean()
        assert err < 0.02


def test_patches_move_over_a_still_camera() -> None:
    still = SyntheticConfig(still_camera=1.0, max_patches=4, brightness=0.0, noise=0.0)
    data = SyntheticMotion(length=3, size=(64, 64), seed=5, config=still)
    changed = [bool((data[i][1] != data[i][0]).any()) for i in range(12)]
    assert any(changed)  # the clips with patches change; the background alone would not
    static = SyntheticConfig(still_camera=1.0, max_patches=0, brightness=0.0, noise=0.0)
    clip = SyntheticMotion(length=3, size=(64, 64), seed=5, config=static)[0]
    assert torch.equal(clip[0], clip[2])


def test_patch_masks_are_soft_edged_shapes() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        mask = patch_mask(rng, 40)
        assert mask.shape == (40, 40) and mask.dtype == np.float32
        assert 0.0 <= mask.min() and mask.max() <= 1.0
        assert mask[20, 20] > 0.5 and mask[0, 0] < 0.1  # filled centre, empty corner
        assert ((mask > 0.05) & (mask < 0.95)).any()  # a soft edge


def test_shipped_photos_load_as_rgb() -> None:
    photos = load_photos()
    assert len(photos) >= 8
    for photo in photos:
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3
        assert max(photo.shape[:2]) <= 512


def test_a_users_photo_folder_loads_recursively_and_shrinks(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(tmp_path / "a.png"), rng.integers(0, 255, (60, 80, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "sub" / "b.jpg"), rng.integers(0, 255, (300, 200), np.uint8))
    (tmp_path / "notes.txt").write_text("not a photo")
    photos = load_photos(tmp_path, max_side=150)
    assert [p.shape for p in photos] == [(60, 80, 3), (150, 100, 3)]
    clip = SyntheticMotion(photos, length=2, size=(32, 32), seed=0)[0]
    assert clip.shape == (2, 3, 32, 32)


def test_an_empty_photo_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VideoOpenError, match="no readable photos"):
        load_photos(tmp_path)
    with pytest.raises(VideoOpenError, match="not found"):
        load_photos(tmp_path / "missing")


def test_gray_and_rgba_arrays_are_accepted_as_photos() -> None:
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 255, (50, 70), np.uint8), rng.integers(0, 255, (40, 40, 4), np.uint8)]
    assert SyntheticMotion(photos, length=2, size=(24, 24), seed=0)[0].shape == (2, 3, 24, 24)
    with pytest.raises(ValueError, match="uint8"):
        SyntheticMotion([np.zeros((10, 10, 3), np.float32)])


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
def test_dataloader_workers_each_draw_their_own_clips() -> None:
    data = SyntheticMotion(length=2, size=(32, 32), epoch_size=4)
    loader = DataLoader(data, batch_size=1, num_workers=2, multiprocessing_context="spawn")
    clips = [batch[0] for batch in loader]
    assert len(clips) == 4 and clips[0].shape == (2, 3, 32, 32)
    assert not torch.equal(clips[0], clips[1])  # workers 0 and 1 are seeded apart
