"""Training windows from real footage (framepred.data.clips)."""

from __future__ import annotations

import pickle
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from conftest import moving_scene, read_all, write_video
from torch.utils.data import ConcatDataset, DataLoader

from framepred.data.clips import SYNTHETIC_EPOCH, ClipWindows, Window, find_clips, make_dataset
from framepred.data.synthetic import SyntheticMotion
from framepred.errors import VideoOpenError
from framepred.gaps import has_scene_cut

N = 30  # frames per generated clip (64 x 48)


def scene(i: int, seed: int = 0) -> np.ndarray:
    """Frame i of a clip whose every frame differs (the square moves, the seed sets colours)."""
    return moving_scene(i % 25, seed=seed)


def clip_mkv(path: Path, n: int = N, seed: int = 0) -> Path:
    return write_video(path, [(Fraction(i, 25), scene(i, seed)) for i in range(n)])


def gop_mp4(path: Path, n: int = N, gop: int = 8) -> Path:
    """H.264 with a keyframe every `gop` frames and B-frames: seeking must land on keyframes."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"g": str(gop), "keyint_min": str(gop), "bf": "2", "crf": "18"}
        for i in range(n):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(scene(i), format="rgb24")))
        out.mux(stream.encode())
    return path


def as_uint8(item: torch.Tensor) -> np.ndarray:
    return (item.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)  # (T, H, W, 3)


@pytest.mark.parametrize("make", [clip_mkv, gop_mp4], ids=["ffv1", "h264-gop8"])
@pytest.mark.parametrize("cache_mb", [0, 64])
def test_windows_are_the_frames_the_video_reader_decodes(tmp_path, make, cache_mb) -> None:
    path = make(tmp_path / ("clip.mkv" if make is clip_mkv else "clip.mp4"))
    truth = [f.image for f in read_all(path)[1]]
    data = ClipWindows([path], length=4, size=(48, 64), split="all", cache_mb=cache_mb)
    assert data.clips[0].n_frames == len(truth) == N
    for start, stride in [(20, 2), (0, 1), (9, 3), (26, 1), (3, 1), (17, 4)]:  # back and forth
        frames = data.read_window(Window(0, start, stride))
        expected = truth[start : start + 4 * stride : stride]
        assert all(np.array_equal(a, b) for a, b in zip(frames, expected, strict=True))


def test_image_folders_give_their_files_in_number_order(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(12):
        cv2.imwrite(str(folder / f"img_{i + 1:03d}.png"), cv2.cvtColor(scene(i), cv2.COLOR_RGB2BGR))
    # One clip: validation is its last 20 % of frames (10, 11), too few for 3 at stride 2.
    with pytest.raises(VideoOpenError, match="too short"):
        ClipWindows([folder], length=3, size=(48, 64), split="val", strides=(2,))
    data = ClipWindows([folder], length=3, size=(48, 64), split="all", strides=(2,))
    frames = data.read_window(Window(0, 5, 2))
    assert all(np.array_equal(f, scene(i)) for f, i in zip(frames, (5, 7, 9), strict=True))
    item = data[0]
    assert item.shape == (3, 3, 48, 64)


def test_items_have_the_promised_shape_type_and_range(tmp_path: Path) -> None:
    data = ClipWindows([clip_mkv(tmp_path / "a.mkv")], length=5, size=(32, 40), seed=0)
    item = data[0]
    assert item.shape == (5, 3, 32, 40) and item.dtype == torch.float32 and item.is_contiguous()
    assert 0.0 <= item.min() and item.max() <= 1.0
    assert len(data) == 24 - 4  # training frames 0-23 (80 %), windows of 5 at stride 1
    assert len(ClipWindows([tmp_path / "a.mkv"], samples_per_epoch=77)) == 77


def test_validation_holds_out_whole_clips(tmp_path: Path) -> None:
    for k in range(5):
        clip_mkv(tmp_path / f"clip{k}.mkv", n=12, seed=k)
    train = ClipWindows([tmp_path], length=3, split="train")
    val = ClipWindows([tmp_path], length=3, split="val")
    train_clips = {train.clips[r[0]].path for r in train.ranges}
    val_clips = {val.clips[r[0]].path for r in val.ranges}
    assert len(val_clips) == 1 and len(train_clips) == 4
    assert not train_clips & val_clips
    assert all(end - first == 12 for _, first, end in train.ranges + val.ranges)  # whole clips
    assert {w.clip for w in val.fixed} == {val.ranges[0][0]}


def test_a_single_clip_is_split_in_time(tmp_path: Path) -> None:
    path = clip_mkv(tmp_path / "one.mkv")
    train = ClipWindows([path], length=3, split="train", val_fraction=0.2)
    val = ClipWindows([path], length=3, split="val", val_fraction=0.2)
    assert train.ranges == [(0, 0, 24)] and val.ranges == [(0, 24, 30)]
    span = {w.stride: 2 * w.stride + 1 for w in val.fixed}
    assert all(24 <= w.start and w.start + span[w.stride] <= 30 for w in val.fixed)
    assert {w.stride for w in val.fixed} == {1, 2}  # both frame rates are validated


def test_a_few_clips_are_each_split_in_time(tmp_path: Path) -> None:
    for k in range(2):  # with two clips, holding one out would halve the training footage
        clip_mkv(tmp_path / f"clip{k}.mkv", n=20, seed=k)
    train = ClipWindows([tmp_path], length=3, split="train", val_fraction=0.2)
    val = ClipWindows([tmp_path], length=3, split="val", val_fraction=0.2)
    assert train.ranges == [(0, 0, 16), (1, 0, 16)] and val.ranges == [(0, 16, 20), (1, 16, 20)]
    assert {w.clip for w in val.fixed} == {0, 1}


def test_footage_mixed_with_synthetic_gets_an_equal_share(tmp_path: Path) -> None:
    path = clip_mkv(tmp_path / "one.mkv")
    mixed = make_dataset(["synthetic", path], length=3, size=(32, 32))
    assert isinstance(mixed, ConcatDataset)
    assert [len(d) for d in mixed.datasets] == [SYNTHETIC_EPOCH, SYNTHETIC_EPOCH]
    alone = make_dataset([path], length=3, size=(32, 32))
    assert len(alone) == 24 - 2  # on its own, an epoch is the footage's distinct windows
    val = make_dataset(["synthetic", path], split="val", length=3, size=(32, 32))
    assert isinstance(val, ConcatDataset) and len(val.datasets[1]) < 30  # each window once


def test_validation_is_fixed_centre_crops_without_flips(tmp_path: Path) -> None:
    path = clip_mkv(tmp_path / "one.mkv")
    a, b = (ClipWindows([path], length=3, size=(32, 32), split="val") for _ in range(2))
    assert len(a) == len(a.fixed) > 0
    for i in range(len(a)):
        assert torch.equal(a[i], b[i])
        w = a.fixed[i]
        truth = np.stack([scene(w.start + k * w.stride)[8:40, 16:48] for k in range(3)])
        assert np.array_equal(as_uint8(a[i]), truth)


def test_training_flips_and_reverses_time(tmp_path: Path) -> None:
    path = clip_mkv(tmp_path / "one.mkv")
    data = ClipWindows([path], length=3, size=(48, 64), strides=(1,), seed=3)  # crop = frame
    windows = {s: np.stack([scene(s + k) for k in range(3)]) for s in range(22)}
    seen = set()
    for i in range(24):
        item = as_uint8(data[i])
        matches = [
            (h, v, r)
            for w in windows.values()
            for h in (False, True)
            for v in (False, True)
            for r in (False, True)
            if np.array_equal(item, _augmented(w, h, v, r))
        ]
        assert len(matches) == 1, f"item {i} is not one augmented window"
        seen.add(matches[0])
    hflips, vflips, reversals = ({m[k] for m in seen} for k in range(3))
    assert hflips == vflips == reversals == {False, True}


def _augmented(window: np.ndarray, hflip: bool, vflip: bool, reverse: bool) -> np.ndarray:
    out = window[:, :, ::-1] if hflip else window
    out = out[:, ::-1] if vflip else out
    return out[::-1] if reverse else out


def test_small_videos_are_scaled_up_not_padded(tmp_path: Path) -> None:
    path = clip_mkv(tmp_path / "one.mkv")
    data = ClipWindows([path], length=2, size=(96, 128), split="val")
    w = data.fixed[0]
    expected = cv2.resize(scene(w.start), (128, 96), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(as_uint8(data[0])[0], expected)


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
def test_a_training_set_pickles_and_runs_in_dataloader_workers(tmp_path: Path) -> None:
    path = clip_mkv(tmp_path / "one.mkv")
    data = ClipWindows([path], length=3, size=(32, 32))
    data[0]  # opens the container in this process
    copy = pickle.loads(pickle.dumps(data))
    assert copy[0].shape == (3, 3, 32, 32)
    # spawn, not fork: forking a process whose OpenCV/FFmpeg/OpenMP threads are running can
    # deadlock the child (it did under pytest-xdist)
    loader = DataLoader(data, batch_size=2, num_workers=2, multiprocessing_context="spawn")
    batches = [b for _, b in zip(range(4), loader, strict=False)]
    assert all(b.shape == (2, 3, 3, 32, 32) for b in batches)
    assert not torch.equal(batches[0], batches[1])  # workers draw their own windows


def test_sources_may_be_folders_of_videos_and_frame_folders(tmp_path: Path) -> None:
    clip_mkv(tmp_path / "a.mkv", n=8)
    (tmp_path / "notes.txt").write_text("not a video")
    frames = tmp_path / "sub" / "shot1"
    frames.mkdir(parents=True)
    for i in range(8):
        cv2.imwrite(str(frames / f"{i:04d}.png"), scene(i))
    assert find_clips([tmp_path]) == [tmp_path / "a.mkv", frames]
    with pytest.raises(VideoOpenError, match="no such file"):
        find_clips([tmp_path / "missing.mp4"])
    with pytest.raises(VideoOpenError, match="too short"):
        ClipWindows([tmp_path / "a.mkv"], length=20, split="all")


def test_make_dataset_mixes_synthetic_and_footage(tmp_path: Path) -> None:
    path = clip_mkv(tmp_path / "one.mkv")
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(
        str(photos / "p.png"), np.random.default_rng(0).integers(0, 255, (80, 80, 3), np.uint8)
    )
    mixed = make_dataset(
        ["synthetic", f"synthetic:{photos}", path], length=3, size=(32, 32), samples_per_epoch=5
    )
    assert isinstance(mixed, ConcatDataset) and len(mixed) == 15
    assert [type(d) for d in mixed.datasets] == [SyntheticMotion, SyntheticMotion, ClipWindows]
    assert all(mixed[i].shape == (3, 3, 32, 32) for i in (0, 5, 10))
    val = make_dataset(["synthetic"], split="val", length=3, size=(32, 32))
    assert isinstance(val, SyntheticMotion) and torch.equal(val[2], val[2])
    assert isinstance(make_dataset([path], length=3), ClipWindows)


def test_training_windows_skip_scene_cuts(tmp_path: Path) -> None:
    def shot(i: int) -> np.ndarray:  # frames 0-9 one shot, 10-19 another (inverted colours)
        return scene(i) if i < 10 else 255 - scene(i)

    assert has_scene_cut([shot(9), shot(10)]) and not has_scene_cut([shot(3), shot(4), shot(5)])
    path = write_video(tmp_path / "cut.mkv", [(Fraction(i, 25), shot(i)) for i in range(20)])
    data = ClipWindows([path], length=4, size=(48, 64), strides=(1,), split="all", seed=0)
    for i in range(20):
        frames = list(as_uint8(data[i]))
        assert not has_scene_cut(frames), f"item {i} spans the cut"


def test_training_windows_that_do_not_decode_are_drawn_again(tmp_path, monkeypatch, caplog):
    path = write_video(tmp_path / "c.mkv", [(Fraction(i, 25), scene(i)) for i in range(20)])
    data = ClipWindows([path], length=4, size=(48, 64), strides=(1,), split="all", seed=0)
    real = data.read_window
    bad_starts: set[int] = set(range(0, 14))  # only windows starting at 14-16 decode

    def flaky(window):
        if window.start in bad_starts:
            raise VideoOpenError(
                f"cannot decode frames {window.start}-{window.start + 3} of {path}"
            )
        return real(window)

    monkeypatch.setattr(data, "read_window", flaky)
    with caplog.at_level("WARNING", logger="framepred.data.clips"):
        items = [data[i] for i in range(6)]
    assert all(item.shape == (4, 3, 48, 64) for item in items)
    warnings = [r for r in caplog.records if "do not decode" in r.getMessage()]
    assert len(warnings) == 1  # reported once per clip, not once per window
    bad_starts.update(range(14, 17))  # nothing decodes: the error stops the run
    with pytest.raises(VideoOpenError, match="cannot decode"):
        data[7]
