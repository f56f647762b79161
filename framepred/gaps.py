"""Finding what is missing: map frames onto the nominal frame grid and name the empty slots.

A video's frames sit on a grid of slots `start + k / frame_rate`. A frame goes to the slot
nearest its timestamp, so a timestamp step of more than ~1.5 intervals leaves slots empty,
and a variable-frame-rate stream is mapped onto the grid (two frames in one slot: the first
is kept). Optional content checks mark duplicate/frozen frames (mpdecimate-like) and black
frames (blackdetect-like) as missing too; `--frames 12-14,40` names slots explicitly.
`SlotMapper` does this one frame at a time so `fill` can stream; `find_gaps` runs it over a
list of timestamps for `info` and for tests. Also the grid and rate arithmetic `fill` plans
with (`declared_slots`, `trusted_end`, `rate_conversion`) and `inspect_video`, the dry run of
`fill` that `framepred info` reports.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from framepred.errors import FramepredError, VideoOpenError
from framepred.io.reader import VideoInfo, VideoReader

log = logging.getLogger(__name__)

DETECTORS = ("timestamps", "duplicates", "black")


class SlotSpecError(FramepredError):
    """A `--frames` slot list is malformed or names slots outside the video."""


@dataclass(frozen=True)
class Gap:
    """A run of missing slots, `start_slot..end_slot` inclusive, and why they are missing."""

    start_slot: int
    end_slot: int
    reason: str  # "timestamps", "explicit", "duplicate", "black"

    @property
    def length(self) -> int:
        return self.end_slot - self.start_slot + 1


@dataclass(frozen=True)
class SlotItem:
    """One slot of the output grid: a kept frame (`image` set) or a missing one (`reason`)."""

    slot: int
    image: np.ndarray | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Grid:
    """The nominal frame grid: slot k is at `start + k * interval` seconds."""

    start: Fraction
    interval: Fraction

    def slot(self, pts: Fraction) -> int:
        return round((Fraction(pts) - self.start) / self.interval)

    def time(self, slot: int) -> Fraction:
        return self.start + slot * self.interval


@dataclass
class Thresholds:
    """Content checks, in 8-bit units, after FFmpeg's mpdecimate and blackdetect defaults."""

    dup_hi: float = 64 * 12  # an 8x8 block whose luma SAD exceeds this is a real change
    dup_lo: float = 64 * 5  # blocks whose SAD exceeds this count towards `dup_frac`
    dup_frac: float = 0.33  # a frame with this share of changed blocks is not a duplicate
    black_pixel: float = 0.10 * 255  # a pixel darker than this (luma) is black
    black_ratio: float = 0.98  # a frame with at least this share of black pixels is black
    # Bhattacharyya distance of colour histograms above which shots differ (bikes.mp4: its 5
    # cuts 0.26-0.66, other consecutive frame pairs <= 0.17)
    cut: float = 0.25


def parse_slot_spec(spec: str) -> list[tuple[int, int]]:
    """'12-14,40' -> [(12, 14), (40, 40)]. Raises SlotSpecError with a clear message."""
    ranges = []
    for part in spec.replace(" ", "").split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise SlotSpecError(
                f"bad slot list '{spec}': '{part}' is not a slot number or range like 12-14"
            )
        lo, hi = int(match[1]), int(match[2] if match[2] is not None else match[1])
        if hi < lo:
            raise SlotSpecError(f"bad slot range '{part}': end before start")
        ranges.append((lo, hi))
    return ranges


def slots_from_spec(spec: str | None, n_slots: int | None = None) -> set[int]:
    """The slots a spec names, checked against the video's `n_slots` when it is known."""
    if not spec:
        return set()
    slots: set[int] = set()
    for lo, hi in parse_slot_spec(spec):
        if n_slots is not None and hi >= n_slots:
            raise SlotSpecError(f"slot {hi} is out of range: the video has slots 0-{n_slots - 1}")
        slots.update(range(lo, hi + 1))
    return slots


def _luma(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.int32)


def is_duplicate(prev: np.ndarray, cur: np.ndarray, th: Thresholds | None = None) -> bool:
    """mpdecimate's test: no 8x8 block changed a lot and few changed a little."""
    th = th or Thresholds()
    diff = np.abs(_luma(prev) - _luma(cur))
    h, w = (diff.shape[0] // 8) * 8, (diff.shape[1] // 8) * 8
    if h == 0 or w == 0:
        return bool(diff.sum() <= th.dup_lo)
    sad = diff[:h, :w].reshape(h // 8, 8, w // 8, 8).sum(axis=(1, 3))
    return bool(sad.max() <= th.dup_hi and (sad > th.dup_lo).mean() < th.dup_frac)


def is_black(image: np.ndarray, th: Thresholds | None = None) -> bool:
    """blackdetect's per-frame test: nearly every pixel is darker than a luma threshold."""
    th = th or Thresholds()
    return bool((_luma(image) < th.black_pixel).mean() >= th.black_ratio)


def _colour_histogram(frame: np.ndarray) -> np.ndarray:
    step = max(1, min(frame.shape[:2]) // 64)  # a thumbnail of about 64 pixels is enough
    thumb = np.ascontiguousarray(frame[::step, ::step])
    hist = cv2.calcHist([thumb], [0, 1, 2], None, [8, 8, 8], [0, 256] * 3)
    return cv2.normalize(hist, hist).flatten()


def is_scene_cut(a: np.ndarray, b: np.ndarray, th: Thresholds | None = None) -> bool:
    """True when two frames belong to different shots (colour histograms far apart): the one
    scene-cut test of framepred (fill, training windows, benchmark windows); about 0.1 ms a frame.

    Histograms barely move under camera or object motion, so frames a few slots apart in
    one shot stay close while a cut changes the colour distribution.
    """
    th = th or Thresholds()
    distance = cv2.compareHist(
        _colour_histogram(a), _colour_histogram(b), cv2.HISTCMP_BHATTACHARYYA
    )
    return bool(distance > th.cut)


def has_scene_cut(frames: Sequence[np.ndarray], th: Thresholds | None = None) -> bool:
    """Whether any two consecutive frames of `frames` lie across a scene cut."""
    return any(is_scene_cut(a, b, th) for a, b in zip(frames, frames[1:], strict=False))


@dataclass
class SlotMapper:
    """Turn decoded frames, in presentation order, into grid slots in order, one at a time.

    `push(pts, image)` returns the slots it settles: empty slots before the frame (timestamp
    holes), then the frame's own slot (kept, or missing when named explicitly or flagged as
    duplicate/black). A frame landing in a slot already taken is dropped and recorded in
    `collisions`. `finish(n_slots)` returns the empty slots after the last frame.
    """

    grid: Grid
    detect: frozenset[str] = frozenset({"timestamps"})
    explicit: set[int] = field(default_factory=set)
    thresholds: Thresholds = field(default_factory=Thresholds)
    next_slot: int = 0
    collisions: list[tuple[Fraction, int]] = field(default_factory=list)
    _last_kept: np.ndarray | None = None

    def push(self, pts: Fraction, image: np.ndarray | None = None) -> list[SlotItem]:
        slot = self.grid.slot(pts)
        if slot < self.next_slot:
            self.collisions.append((Fraction(pts), slot))
            return []
        items = [SlotItem(s, None, self._hole_reason(s)) for s in range(self.next_slot, slot)]
        self.next_slot = slot + 1
        items.append(self._classify(slot, image))
        return items

    def finish(self, n_slots: int | None) -> list[SlotItem]:
        end = max(n_slots or 0, self.next_slot)
        items = [SlotItem(s, None, self._hole_reason(s)) for s in range(self.next_slot, end)]
        self.next_slot = end
        return items

    def _hole_reason(self, slot: int) -> str:
        return "explicit" if slot in self.explicit else "timestamps"

    def _classify(self, slot: int, image: np.ndarray | None) -> SlotItem:
        if slot in self.explicit:
            return SlotItem(slot, None, "explicit")
        if image is not None and "black" in self.detect and is_black(image, self.thresholds):
            return SlotItem(slot, None, "black")
        if image is not None and "duplicates" in self.detect:
            if self._last_kept is not None and is_duplicate(
                self._last_kept, image, self.thresholds
            ):
                return SlotItem(slot, None, "duplicate")
            self._last_kept = image
        return SlotItem(slot, image, None)


def runs(items: Iterable[SlotItem]) -> list[Gap]:
    """Group missing slots into gaps: consecutive slots with the same reason."""
    gaps: list[Gap] = []
    for item in items:
        if item.image is not None or item.reason is None:
            continue
        last = gaps[-1] if gaps else None
        if last and last.end_slot == item.slot - 1 and last.reason == item.reason:
            gaps[-1] = Gap(last.start_slot, item.slot, item.reason)
        else:
            gaps.append(Gap(item.slot, item.slot, item.reason))
    return gaps


@dataclass(frozen=True)
class GapScan:
    """What `find_gaps` found: the gaps, the grid size and frames dropped as slot collisions."""

    gaps: list[Gap]
    n_slots: int
    collisions: list[tuple[Fraction, int]]

    @property
    def missing(self) -> list[int]:
        return [s for g in self.gaps for s in range(g.start_slot, g.end_slot + 1)]


def find_gaps(
    pts: Sequence[Fraction],
    grid: Grid,
    *,
    n_slots: int | None = None,
    explicit: set[int] | None = None,
    images: Iterable[np.ndarray] | None = None,
    detect: Iterable[str] = ("timestamps",),
    thresholds: Thresholds | None = None,
) -> GapScan:
    """Gaps in a sequence of presentation times (and, optionally, their images).

    Args:
        pts: presentation times in seconds, in presentation order.
        grid: the nominal grid (start time and frame interval).
        n_slots: slots the video declares; empty slots after the last frame count as a gap.
        explicit: slots to treat as missing whatever they hold.
        images: the frames, for the duplicate and black checks in `detect`.
    """
    mapper = SlotMapper(grid, frozenset(detect), set(explicit or ()), thresholds or Thresholds())
    items: list[SlotItem] = []
    image_iter = iter(images) if images is not None else None
    for t in pts:
        image = next(image_iter) if image_iter is not None else None
        items.extend(SlotItem(i.slot, None, i.reason) for i in mapper.push(t, image))
    items.extend(mapper.finish(n_slots))
    return GapScan(runs(items), mapper.next_slot, mapper.collisions)


def declared_slots(info: VideoInfo) -> int | None:
    """Slots the file's declared duration covers (None when it does not say)."""
    if info.end is None:
        return None
    return max(0, round((info.end - info.start) / info.interval))


def trusted_end(
    declared: int | None, next_slot: int, max_gap: int, warn: bool = False, expected: int = 0
) -> int | None:
    """Where the output grid ends: the declared length when its tail is believable.

    Frames may stop before the length the header declares (a file cut short). That tail is
    synthesized when it is at most `max_gap` slots; a longer one is header data that cannot
    be trusted (a file may claim to last ten hours over six frames), so the grid ends at
    the last frame instead. A tail of at most `expected` slots is the last frame's own span
    on a finer grid (frame-rate conversion), not lost frames: it is filled without a warning.
    """
    if declared is None or declared <= next_slot:
        return None
    tail = declared - next_slot
    if tail > max_gap:
        if warn:
            log.warning("the file declares %d slots but its frames stop at slot %d; a tail of %d "
                        "slots is longer than --max-gap %d and is not synthesized", declared,
                        next_slot, tail, max_gap)  # fmt: skip
        return None
    if warn and tail > expected:
        log.warning("frames stop at slot %d but the file declares %d slots (cut short?); "
                    "the last %d slots are synthesized", next_slot, declared, tail)  # fmt: skip
    return declared


def slot_stream(reader: VideoReader, mapper: SlotMapper, declared: int | None, max_gap: int,
                 per_frame: int = 1) -> Iterator[SlotItem]:  # fmt: skip
    """The slots of the decoded video in order, known or missing (`SlotMapper`), with a lost
    tail added where the header's length is believable (`trusted_end`)."""
    for frame in reader:
        yield from mapper.push(frame.pts, frame.image)
    # A file cut short (damaged or not) gets its lost tail back, if the header is believable.
    end = trusted_end(declared, mapper.next_slot, max_gap, warn=True, expected=per_frame - 1)
    yield from mapper.finish(end)


def rate_conversion(info: VideoInfo) -> Fraction:
    """The output's frame rate over the video's own where `fps` sets a new one, else 1.

    A whole number (25 -> 50: 2) puts the video's frames on the finer grid, and the slots
    between them are synthesized like any gap. Any other ratio (24 -> 60, 30 -> 25) retimes
    the video (`framepred.fill`): each output frame is made at its own time between the two
    known frames around it, and one that falls exactly on a frame is that frame.

    A ratio within 0.01% of a whole number or of its inverse is taken as that (--fps 29.97
    on a 30000/1001 fps video is the same rate, not a retiming that moves every frame)."""
    own, rate = info.source_rate, info.frame_rate
    if own is None or own == rate:
        return Fraction(1)
    ratio = rate / own
    for whole, exact in ((round(ratio), Fraction(round(ratio))),
                         (round(1 / ratio), Fraction(1, max(1, round(1 / ratio))))):  # fmt: skip
        if whole >= 1 and abs(ratio - exact) < 1e-4 * exact:
            return exact
    return ratio


@dataclass(frozen=True)
class Inspection(GapScan):
    """`inspect_video`'s answer: the stream facts plus what `fill` would fill. Where `fps`
    retimes the video, the facts and gaps are on its own grid (`info`), and `retime_to` is
    the new rate."""

    info: VideoInfo | None = None
    retime_to: Fraction | None = None

    def retimed(self) -> tuple[int, int]:
        """(output frames, those that are the video's own known frames) of the retiming."""
        assert self.retime_to is not None and self.info is not None
        ratio = self.retime_to / self.info.frame_rate
        missing = set(self.missing)
        n_out = math.ceil(self.n_slots * ratio)
        own = sum(1 for k in range(n_out)
                  if (k / ratio).denominator == 1 and int(k / ratio) not in missing)  # fmt: skip
        return n_out, own


def inspect_video(input: Path | str, *, detect: Sequence[str] = ("timestamps",),
                  frames: str | None = None, fps: Fraction | float | None = None,
                  info: VideoInfo | None = None, max_gap: int = 30) -> Inspection:  # fmt: skip
    """A dry run of `fill`: the gaps it would fill. Decodes only when content checks are on.

    `max_gap` bounds the tail of lost frames that a declared length may add (`trusted_end`).
    """
    reader = VideoReader(input, fps)
    retime_to = None
    if info is None:
        info = reader.info
        if info.source_rate is not None and rate_conversion(info).denominator != 1:
            retime_to = info.frame_rate  # fill retimes: the video is read on its own grid
            info = replace(info, frame_rate=info.source_rate, source_rate=None)
    grid = Grid(info.start, info.interval)
    declared = declared_slots(info)
    if set(detect) & {"duplicates", "black"}:
        scan = _scan_decoded(reader, grid, declared, frames, detect, max_gap)
    else:
        times = reader.packet_times()
        if not times:
            raise VideoOpenError(f"no video frames in file: {input}")
        last = grid.slot(times[-1]) + 1
        end = trusted_end(declared, last, max_gap)
        explicit = slots_from_spec(frames, max(end or 0, last))
        scan = find_gaps(times, grid, n_slots=end, explicit=explicit, detect=detect)
    return Inspection(scan.gaps, scan.n_slots, scan.collisions, info, retime_to)


def _scan_decoded(reader, grid, declared, frames, detect, max_gap) -> GapScan:
    explicit = slots_from_spec(frames, declared)
    mapper = SlotMapper(grid, frozenset(detect), explicit)
    items: list[SlotItem] = []
    with reader:
        for frame in reader:
            items.extend(
                SlotItem(i.slot, None, i.reason) for i in mapper.push(frame.pts, frame.image)
            )
    items.extend(mapper.finish(trusted_end(declared, mapper.next_slot, max_gap)))
    if explicit and max(explicit) >= mapper.next_slot:
        slots_from_spec(frames, mapper.next_slot)  # raises with the range message
    return GapScan(runs(items), mapper.next_slot, mapper.collisions)
