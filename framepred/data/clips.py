"""Training windows from real footage: short runs of frames cut from video files or image folders.

A source is a video file, a folder of numbered images (one clip), or a folder holding either
(searched recursively). Each clip is indexed once (the presentation times of its packets, read
by demuxing without decoding; for a folder, its file list) and cached per process. An item
decodes only its own window: seek to the keyframe at or before the window, decode forward,
keep the window's frames. Every decoded frame also goes into a per-process cache bounded by
`cache_mb` (default 512 MB), so later windows of the same stretch skip decoding; memory does
not grow with a video's length. Each process keeps a few containers open (opened lazily, so a
dataset pickles into DataLoader workers safely). Training windows that span a scene cut (a
jump in the frames' colour histograms) are drawn again.

An item is `length` frames taken every `stride` frames (the stride is drawn from `strides`:
frame-rate augmentation), cut to `size`. Training items are random (clip chosen in
proportion to its windows, random crop, flips, time reversal); validation items are a fixed
list of non-overlapping windows with centre crops and no flips. Frames smaller than `size`
are scaled up (keeping the aspect ratio) rather than padded: mirrored padding would show
motion that is not in the video. `scale` zooms out of large footage first.

Whole clips are held out for validation (a `val_fraction` of them, chosen by a fixed seeded
shuffle of the sorted clip paths) when there are at least `WHOLE_CLIP_SPLIT` clips; with
fewer, the last `val_fraction` of each clip's frames, so that no clip is lost to training.
"""

from __future__ import annotations

import logging
import math
import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import torch
from av.container import InputContainer
from torch.utils.data import ConcatDataset, Dataset

from framepred.data.synthetic import SyntheticMotion, load_photos, single_thread_in_workers
from framepred.errors import VideoOpenError
from framepred.gaps import has_scene_cut
from framepred.io.reader import IMAGE_EXTS, VideoReader, _numbered_images, to_rgb8

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mkv", ".gif", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".ts"}
OPEN_CONTAINERS = 4  # per process: enough for a few clips in turn, bounded file handles
P_FLIP = 0.5  # horizontal and vertical flips, each, in training
P_REVERSE = 0.5  # time reversal in training
CUT_RETRIES = 4
# Random training windows drawn again when one does not decode (damaged data, timestamps out of
# order) before the run gives up with the decoding error.
DECODE_RETRIES = 16


@dataclass(frozen=True)
class Clip:
    """One indexed clip: a video file (with its frame times) or an image folder (its files)."""

    path: Path
    width: int
    height: int
    pts: tuple[int, ...] = ()  # every frame's timestamp in the stream's time base, sorted
    files: tuple[Path, ...] = ()  # one image per frame, in order (folders)

    @property
    def n_frames(self) -> int:
        return len(self.files) if self.files else len(self.pts)


class FrameCache:
    """Decoded frames by (clip path, frame number), least recently used out past a byte budget.

    Decoding a window starts at the keyframe before it, which in a long-GOP video can be a
    hundred frames earlier; keeping those frames lets later windows of the same stretch skip
    decoding. The budget bounds memory whatever the videos' length (it is per process).
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget, self.used = budget_bytes, 0
        self.frames: OrderedDict[tuple[Path, int], np.ndarray] = OrderedDict()

    def get(self, key: tuple[Path, int]) -> np.ndarray | None:
        frame = self.frames.get(key)
        if frame is not None:
            self.frames.move_to_end(key)
        return frame

    def put(self, key: tuple[Path, int], frame: np.ndarray) -> None:
        if frame.nbytes > self.budget or key in self.frames:
            return
        self.frames[key] = frame
        self.used += frame.nbytes
        while self.used > self.budget:
            self.used -= self.frames.popitem(last=False)[1].nbytes


@dataclass(frozen=True)
class Window:
    """Frames start, start + stride, ... (length of them) of clip number `clip`."""

    clip: int
    start: int
    stride: int


_INDEX_CACHE: dict[tuple[str, int, int], Clip] = {}


def index_clip(path: Path) -> Clip:
    """Index a video file or image folder (cached per process by path, size and mtime)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _INDEX_CACHE:
        _INDEX_CACHE[key] = _index_uncached(path)
    return _INDEX_CACHE[key]


def _index_uncached(path: Path) -> Clip:
    if path.is_dir():
        files = tuple(p for _, p in _numbered_images(path))
        first = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED)
        if first is None:
            raise VideoOpenError(f"cannot read image: {files[0]}")
        return Clip(path, first.shape[1], first.shape[0], files=files)
    reader = VideoReader(path)
    tb = reader.info.time_base or Fraction(1)
    pts = tuple(round(t / tb) for t in reader.packet_times())
    return Clip(path, reader.info.width, reader.info.height, pts=pts)


def find_clips(sources: Sequence[str | Path]) -> list[Path]:
    """Video files and image folders named by `sources` or found (recursively) inside them."""
    found: list[Path] = []
    for source in sources:
        path = Path(source).expanduser()
        if not path.exists():
            raise VideoOpenError(f"no such file or folder: {path}")
        found += _clips_in(path)
    if not found:
        raise VideoOpenError(f"no videos or image folders in: {', '.join(map(str, sources))}")
    return sorted(set(found))


def _clips_in(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if any(p.suffix.lower() in IMAGE_EXTS for p in path.iterdir()):
        return [path]  # a folder of frames
    found = []
    for child in sorted(path.iterdir()):
        if child.is_dir() or child.suffix.lower() in VIDEO_SUFFIXES:
            found += _clips_in(child)
    return found


# From this many clips on, validation holds out whole clips; below it, each clip's last part.
WHOLE_CLIP_SPLIT = 5


def split_clips(clips: list[Clip], split: str, val_fraction: float) -> list[tuple[int, int, int]]:
    """(clip, first frame, end frame) ranges of a split: whole clips, or one clip cut in time."""
    if split not in ("train", "val", "all"):
        raise ValueError(f"split must be 'train', 'val' or 'all', got {split!r}")
    whole = [(i, 0, c.n_frames) for i, c in enumerate(clips)]
    if split == "all":
        return whole
    if len(clips) < WHOLE_CLIP_SPLIT:
        cuts = [round(c.n_frames * (1 - val_fraction)) for c in clips]
        if split == "train":
            return [(i, 0, cut) for i, cut in enumerate(cuts)]
        return [(i, cut, c.n_frames) for i, (cut, c) in enumerate(zip(cuts, clips, strict=True))]
    n_val = min(len(clips) - 1, max(1, round(len(clips) * val_fraction)))
    held_out = set(np.random.default_rng(0).permutation(len(clips))[:n_val].tolist())
    return [r for r in whole if (r[0] in held_out) == (split == "val")]


class ClipWindows(Dataset):
    """Windows of real footage as float32 (T, 3, H, W) in [0, 1].

    Args:
        sources: video files, image folders, or folders holding them.
        length: frames per window (T).
        size: (height, width) of the frames.
        strides: frame steps to draw from (1 = the video's rate, 2 = half of it, ...).
        split: "train", "val" (whole clips or each clip's end held out, see the module
            notes) or "all".
        val_fraction: share of clips (or of each clip's frames, with few clips) kept for
            validation.
        samples_per_epoch: `len` of the dataset; None: the number of distinct windows.
        seed: training items are random (from torch's RNG, as in `SyntheticMotion`) unless
            seeded, then item i is fixed; validation items are always fixed.
        scale: (low, high) zoom applied before cropping, drawn log-uniformly in training
            (their geometric mean in validation); (0.5, 1.0) sees a crop up to 2x larger,
            shrunk, so large footage shows slower motion and more context.
        augment: flips and time reversal; default: on except for "val".
        cache_mb: decoded frames kept per process (see `FrameCache`); 0 turns it off.
    """

    def __init__(
        self,
        sources: Sequence[str | Path],
        length: int = 7,
        size: tuple[int, int] = (128, 128),
        strides: Sequence[int] = (1, 2),
        split: str = "train",
        val_fraction: float = 0.2,
        samples_per_epoch: int | None = None,
        seed: int | None = None,
        scale: tuple[float, float] = (1.0, 1.0),
        augment: bool | None = None,
        cache_mb: int = 512,
    ) -> None:
        self.clips = [index_clip(p) for p in find_clips(sources)]
        self.length, self.size = length, (int(size[0]), int(size[1]))
        self.split, self.seed, self.scale = split, seed, scale
        self.augment = split != "val" if augment is None else augment
        self.ranges = split_clips(self.clips, split, val_fraction)
        self.strides = [s for s in strides if self._n_windows(s) > 0]
        if not self.strides:
            raise VideoOpenError(
                f"clips too short for {length} frames in the {split} split: "
                f"{', '.join(str(c.path) for c in self.clips)}"
            )
        self.fixed = self._fixed_windows() if split == "val" else []
        self.samples_per_epoch = samples_per_epoch
        self.cache_mb = cache_mb
        self._reset_process_state()

    def _reset_process_state(self) -> None:
        """Open containers and cached frames belong to one process, never to its forks."""
        self._containers: OrderedDict[Path, InputContainer] = OrderedDict()
        self._cache = FrameCache(self.cache_mb << 20)
        self._numbers: dict[int, dict[int, int]] = {}
        self._warned: set[int] = set()  # clips already reported as partly undecodable
        self._pid = os.getpid()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_containers"], state["_cache"], state["_numbers"] = OrderedDict(), None, {}
        state["_warned"] = set()
        return state

    def __len__(self) -> int:
        if self.samples_per_epoch is not None:
            return self.samples_per_epoch
        return len(self.fixed) if self.fixed else self._n_windows(self.strides[0])

    def _n_windows(self, stride: int) -> int:
        span = (self.length - 1) * stride + 1
        return sum(max(0, end - first - span + 1) for _, first, end in self.ranges)

    def _fixed_windows(self) -> list[Window]:
        """Non-overlapping windows of every clip of the split, at each of the strides."""
        windows = []
        for stride in self.strides:
            span = (self.length - 1) * stride + 1
            for clip, first, end in self.ranges:
                windows += [
                    Window(clip, start, stride) for start in range(first, end - span + 1, span)
                ]
        return windows

    def __getitem__(self, index: int) -> torch.Tensor:
        single_thread_in_workers()
        if self.fixed:
            n = len(self.fixed)
            # A fixed, evenly spread choice when samples_per_epoch asks for another count.
            window = self.fixed[index * n // len(self) if self.samples_per_epoch else index % n]
            frames = self.read_window(window)
            return self._render(window, frames, np.random.default_rng([0, index]), random=False)
        if self.seed is None:
            rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))
        else:
            rng = np.random.default_rng([self.seed, index])
        window, frames = self._decodable_window(rng)
        for _ in range(CUT_RETRIES - 1):  # windows across a scene cut are drawn again
            if not has_scene_cut(frames):
                break
            window, frames = self._decodable_window(rng)
        return self._render(window, frames, rng, random=True)

    def _decodable_window(self, rng: np.random.Generator) -> tuple[Window, list[np.ndarray]]:
        """A random window and its frames; one that does not decode is drawn again (the clip
        is reported once per process), up to DECODE_RETRIES times."""
        for _ in range(DECODE_RETRIES - 1):
            window = self._random_window(rng)
            try:
                return window, self.read_window(window)
            except VideoOpenError as err:
                if window.clip not in self._warned:
                    self._warned.add(window.clip)
                    log.warning("skipping windows that do not decode: %s", err)
        window = self._random_window(rng)
        return window, self.read_window(window)  # the last draw's error stops the run

    def _random_window(self, rng: np.random.Generator) -> Window:
        stride = int(rng.choice(self.strides))
        span = (self.length - 1) * stride + 1
        counts = np.array([max(0, end - first - span + 1) for _, first, end in self.ranges])
        r = int(rng.choice(len(self.ranges), p=counts / counts.sum()))
        clip, first, _ = self.ranges[r]
        return Window(clip, first + int(rng.integers(counts[r])), stride)

    def _render(
        self, window: Window, frames: list[np.ndarray], rng: np.random.Generator, random: bool
    ) -> torch.Tensor:
        """Crop, scale and (in training) flip and reverse the window's frames (H0, W0, 3)."""
        clip = self.clips[window.clip]
        box, scale = self._crop_box(clip, rng, random)
        x0, y0, x1, y1 = box
        h, w = self.size
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        crops = np.stack(
            [cv2.resize(f[y0:y1, x0:x1], (w, h), interpolation=interp) for f in frames]
        )
        if self.augment:
            if rng.random() < P_FLIP:
                crops = crops[:, :, ::-1]
            if rng.random() < P_FLIP:
                crops = crops[:, ::-1]
            if rng.random() < P_REVERSE:
                crops = crops[::-1]
        clip_t = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2)  # (T, 3, H, W)
        return clip_t.to(torch.float32, memory_format=torch.contiguous_format).div_(255.0)

    def _crop_box(
        self, clip: Clip, rng: np.random.Generator, random: bool
    ) -> tuple[tuple[int, int, int, int], float]:
        """Source box (x0, y0, x1, y1) that is resized to `size`, and the scale it takes."""
        h, w = self.size
        low, high = self.scale
        scale = (
            math.exp(rng.uniform(math.log(low), math.log(high)))
            if random
            else math.sqrt(low * high)
        )
        scale = max(scale, h / clip.height, w / clip.width)  # small frames are scaled up
        ch, cw = min(clip.height, round(h / scale)), min(clip.width, round(w / scale))
        if random:
            y0, x0 = int(rng.integers(clip.height - ch + 1)), int(rng.integers(clip.width - cw + 1))
        else:
            y0, x0 = (clip.height - ch) // 2, (clip.width - cw) // 2
        return (x0, y0, x0 + cw, y0 + ch), scale

    def read_window(self, window: Window) -> list[np.ndarray]:
        """The window's frames, RGB uint8 (H, W, 3), read from the source."""
        clip = self.clips[window.clip]
        end = window.start + (self.length - 1) * window.stride + 1
        wanted = range(window.start, end, window.stride)
        if clip.files:
            return [_read_rgb(clip.files[i]) for i in wanted]
        if self._pid != os.getpid() or self._cache is None:
            self._reset_process_state()
        cached = [self._cache.get((clip.path, i)) for i in wanted]
        frames = [f for f in cached if f is not None]
        if len(frames) < len(wanted):
            found = self._decode(window.clip, set(wanted))
            frames = [found[i] for i in wanted]
        return frames

    def _decode(self, clip_index: int, wanted: set[int]) -> dict[int, np.ndarray]:
        """Frames `wanted` of a video: seek to the keyframe before the first, decode forward.

        Every frame decoded on the way goes into the cache. A seek that lands past the first
        wanted frame (an imprecise index) is retried from the start of the file.
        """
        clip = self.clips[clip_index]
        container = self._container(clip.path)
        stream = container.streams.video[0]
        first, last = min(wanted), max(wanted)
        for seek in (clip.pts[first], None):
            container.seek(seek if seek is not None else 0, stream=stream, backward=True)
            found = self._decode_forward(clip_index, stream, first, last, wanted)
            if found is not None:
                if len(found) < len(wanted):
                    break
                return found
        raise VideoOpenError(f"cannot decode frames {first}-{last} of {clip.path}")

    def _decode_forward(
        self, clip_index: int, stream: Any, first: int, last: int, wanted: set[int]
    ) -> dict[int, np.ndarray] | None:
        """Decode from the current position up to frame `last`; None if it starts past `first`."""
        clip = self.clips[clip_index]
        numbers = self._frame_numbers(clip_index)
        found: dict[int, np.ndarray] = {}
        number = -1
        for frame in _frames(self._containers[clip.path], stream):
            # A frame is known by its pts; one without a pts follows the one before it.
            number = numbers.get(frame.pts, -1) if frame.pts is not None else number + 1
            if number > first and not found and first in wanted:
                return None
            if number < 0 or (number < first and self._cache.budget == 0):
                continue  # lead-in from the keyframe, with nowhere to keep it
            image = frame.to_ndarray(format="rgb24")
            self._cache.put((clip.path, number), image)
            if number in wanted:
                found[number] = image
            if number >= last:
                break
        return found

    def _frame_numbers(self, clip_index: int) -> dict[int, int]:
        """pts -> frame number, built once per clip and process (it does not need pickling)."""
        if clip_index not in self._numbers:
            self._numbers[clip_index] = {p: i for i, p in enumerate(self.clips[clip_index].pts)}
        return self._numbers[clip_index]

    def _container(self, path: Path) -> InputContainer:
        container = self._containers.pop(path, None)
        if container is None:
            container = av.open(str(path))
            container.streams.video[0].thread_count = 1  # workers already fill the cores
        self._containers[path] = container
        while len(self._containers) > OPEN_CONTAINERS:
            self._containers.popitem(last=False)[1].close()
        return container


def _frames(container: InputContainer, stream: Any) -> Iterator[av.VideoFrame]:
    try:
        yield from container.decode(stream)
    except (av.FFmpegError, ValueError) as err:
        log.warning("decoding stopped at damaged data: %s", err)


def _read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise VideoOpenError(f"cannot read image: {path}")
    return to_rgb8(image)


SYNTHETIC_EPOCH = 10_000  # items per epoch of a synthetic source (and of footage mixed in)


def make_dataset(sources: Sequence[str | Path], split: str = "train", **kw: Any) -> Dataset:
    """A dataset from DATA arguments: "synthetic", "synthetic:DIR" (your photos) or paths.

    Paths become one `ClipWindows` (so whole clips are held out across all of them); each
    synthetic source a `SyntheticMotion` (seeded for "val"); several are concatenated, each
    contributing `samples_per_epoch` items (10,000 per epoch when not given), so footage and
    synthetic motion are drawn in equal shares in training however few windows the footage
    holds. Validation uses each clip window once.
    Keywords: those of `ClipWindows`; the synthetic sets take length, size, seed and
    samples_per_epoch.
    """
    paths = [s for s in map(str, sources) if not _is_synthetic(s)]
    parts: list[Dataset] = [_synthetic(s, split, kw) for s in map(str, sources) if _is_synthetic(s)]
    if paths:
        clip_kw = dict(kw)
        if parts and split == "train" and not clip_kw.get("samples_per_epoch"):
            clip_kw["samples_per_epoch"] = SYNTHETIC_EPOCH
        parts.append(ClipWindows(paths, split=split, **clip_kw))
    if not parts:
        raise ValueError("no data sources given")
    return parts[0] if len(parts) == 1 else ConcatDataset(parts)


def _is_synthetic(source: str) -> bool:
    return source == "synthetic" or source.startswith("synthetic:")


def _synthetic(source: str, split: str, kw: dict[str, Any]) -> SyntheticMotion:
    folder = source.partition(":")[2] or None
    seed = kw.get("seed")
    if split == "val" and seed is None:
        seed = 1
    return SyntheticMotion(
        load_photos(folder) if folder else None,
        length=kw.get("length", 7),
        size=kw.get("size", (128, 128)),
        epoch_size=kw.get("samples_per_epoch") or SYNTHETIC_EPOCH,
        seed=seed,
    )
