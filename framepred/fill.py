"""Fill the missing frames of a video: stream it through a bounded window, synthesize each gap.

`fill_video` reads the input once, maps every frame to its slot on the nominal grid
(`gaps.SlotMapper`), passes kept frames straight to the writer and, for each run of missing
slots, synthesizes them from the last known frames before the run and the first known
frames after it. Only `context` known frames on each side are held, so memory does not grow
with the video's length. A scene cut between the two sides splits the gap: each slot is
filled from the shot nearer to it, never by mixing two shots.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from framepred.errors import FramepredError, VideoWriteError
from framepred.gaps import (
    Gap,
    Grid,
    SlotItem,
    SlotMapper,
    declared_slots,
    inspect_video,
    is_scene_cut,
    rate_conversion,
    runs,
    slot_stream,
    slots_from_spec,
)
from framepred.guard import Guard
from framepred.io.atomic import atomic_path, check_output_target
from framepred.io.marks import json_text
from framepred.io.pipelining import BackgroundWriter, prefetch
from framepred.io.reader import VideoInfo, VideoReader, probe
from framepred.io.writer import VideoWriter, output_kind
from framepred.synth.base import Synthesizer, context_spacing
from framepred.synth.classical import Repeat
from framepred.synth.ensemble import SelfEnsemble
from framepred.synth.ensemble import check as check_ensemble
from framepred.synth.methods import make_synthesizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FilledSlot:
    """One synthesized slot: where, when, why it was missing, how it was made."""

    slot: int
    time: float  # seconds on the output's timeline
    reason: str  # timestamps | explicit | duplicate | black
    method: str  # the synthesizer actually used
    side: str  # both | before | after: the known frames it was made from


@dataclass
class FillReport:
    """What `fill_video` did; `to_json()` is the `--report` file."""

    input: str
    output: str
    frame_rate: str
    n_slots: int
    n_kept: int
    method: str
    gaps: list[Gap] = field(default_factory=list)
    slots: list[FilledSlot] = field(default_factory=list)
    long_gaps: list[Gap] = field(default_factory=list)
    scene_cuts: list[int] = field(default_factory=list)  # gaps split at a cut (start slots)
    collisions: int = 0  # frames dropped because an earlier frame held their slot (VFR)
    damaged: bool = False  # decoding stopped early at damaged data
    seconds: float = 0.0
    adapt: dict | None = None  # per-video adaptation: steps, seconds, PSNR before/after
    ensemble: int = 1  # members of the self-ensemble each synthesized frame averages
    guard: list[dict] | None = None  # per shot: the model checked against flow (`framepred.guard`)
    source_frame_rate: str | None = None  # the input's own rate where `fps` converted it
    working_size: int | None = None  # longer side motion was estimated at (model, flow)

    @property
    def n_filled(self) -> int:
        return len(self.slots)

    def to_json(self) -> str:
        data = asdict(self)
        data["n_filled"] = self.n_filled
        return json_text(data)


@dataclass(frozen=True)
class FillPlan:
    """How each run of missing slots is filled: what every gap of one `fill_video` run shares."""

    synth: Synthesizer
    info: VideoInfo  # the output's grid: slot k is at info.start + k * info.interval
    max_gap: int  # longer gaps are reported (and held, with on_long_gap "hold")
    on_long_gap: str  # "fill" | "hold"
    result: FillReport  # the report each run adds its gaps and slots to


def _check_paths(input: Path, output: Path, overwrite: bool) -> None:
    output_kind(output)
    check_output_target(output, [input], overwrite)
    if output.exists() and (output.is_dir() != (output_kind(output) == "folder")):
        raise VideoWriteError(f"output exists and is of another kind: {output}")


class _Peek:
    """An iterator with look-ahead."""

    def __init__(self, items: Iterable[SlotItem]):
        self._it = iter(items)
        self._next: deque[SlotItem] = deque()

    def ahead(self, i: int) -> SlotItem | None:
        """The item `i` places ahead (0: the next one), or None past the end."""
        while len(self._next) <= i:
            item = next(self._it, None)
            if item is None:
                return None
            self._next.append(item)
        return self._next[i]

    def peek(self) -> SlotItem | None:
        return self.ahead(0)

    def pop(self) -> SlotItem:
        item = self.peek()
        assert item is not None
        return self._next.popleft()


def _rate(rate: Fraction) -> str:
    return f"{float(rate):g}"


def fill_video(
    input: Path | str,
    output: Path | str,
    *,
    detect: Sequence[str] = ("timestamps",),
    frames: str | None = None,
    method: str = "model",
    model: str | Path | None = None,
    max_gap: int = 30,
    on_long_gap: str = "fill",
    crf: int = 18,
    preset: str = "medium",
    report: Path | str | None = None,
    device: str = "auto",
    overwrite: bool = False,
    progress: bool = True,
    fps: Fraction | float | None = None,
    predictor=None,
    adapt: int = 0,
    precision: str = "auto",
    ensemble: int = 1,
    synthesizer: Synthesizer | None = None,
    reader: VideoReader | None = None,
    guard: bool = True,
    working_size: int | None = None,
) -> FillReport:
    """Write `output`: the input on its nominal frame grid with every missing slot synthesized.

    Args:
        input: a video file or a folder of numbered images (never modified).
        output: `.mp4`, `.mkv` (lossless), `.gif` or a folder (PNG frames); written whole or
            not at all.
        detect: what counts as missing: "timestamps", "duplicates", "black".
        frames: slots to treat as missing, e.g. "12-14,40".
        method: "model", "flow", "blend" or "repeat".
        model: checkpoint path or built-in name for `method="model"`.
        max_gap: gaps longer than this are reported; `on_long_gap` "fill" fills them with
            `method`, "hold" repeats the nearest known frame. A tail of lost frames that only
            the header declares is synthesized up to this length, never beyond.
        crf, preset: H.264 settings for `.mp4`.
        report: write the report as JSON here.
        fps: the output's frame rate: for an image folder its rate (default 25); for a video
            a new grid to convert it to (25 -> 50: every other slot synthesized; 24 -> 60 or
            30 -> 25: each output frame made at its own time; see `rate_conversion`). With a
            rate that is not a whole multiple, `frames` names the video's own frames.
        predictor: an already loaded predictor object (tests, API use).
        adapt: fine-tune the motion model for this many steps on the video's own known
            frames before filling (`framepred.adapt`); 0 skips it.
        precision: the network's precision, "32", "bf16" or "auto" (`framepred.precision`).
        ensemble: average each synthesized frame over this many mirrored and time-reversed
            views of its gap (1, 2, 4 or 8; `framepred.synth.ensemble`): sharper estimates at
            about that many times the synthesis work.
        synthesizer: an already made synthesizer for `method` (a batch makes the model once;
            `framepred.batch`), used instead of making one.
        reader: an already opened reader of `input` (a batch opens the next file while this
            one is filled); closed here.
        guard: with the learned model, check it against the classical `flow` method on a few
            hidden known frames of each shot and use flow, or a mix of the two, where the model
            loses (`framepred.guard`); the choices are the report's `guard`.
        working_size: the longer side (pixels) of the resolution the model and `flow`
            estimate motion at; frames larger than this are scaled down for it, and the motion
            is applied to the full frames (None: the model's own, 320). Larger follows fine
            detail better and costs about its square in time; fast motion can fare worse.
    """
    input, output = Path(input), Path(output)
    t0 = time.perf_counter()
    if on_long_gap not in ("fill", "hold"):
        raise ValueError(f"on_long_gap must be 'fill' or 'hold', got {on_long_gap!r}")
    _check_paths(input, output, overwrite)
    if report is not None:  # like the output: replaced only with overwrite, never the video
        if Path(report).resolve() == output.resolve():
            raise VideoWriteError(f"--report is the output path; choose another: {report}")
        check_output_target(Path(report), [input, output], overwrite)
    probed = probe(input, fps) if fps else None  # an absurd --fps is refused before any work
    synth = synthesizer or make_synthesizer(method, model, device, predictor, precision,
                                            working_size)  # fmt: skip
    check_ensemble(synth, ensemble)  # before adapting: nothing is learned for a refusal
    if ensemble > 1 and method in ("repeat", "blend"):  # views of these are the same frame
        raise FramepredError(f"--ensemble applies to the model and flow methods, not {method}")
    ratio = rate_conversion(probed) if probed else Fraction(1)
    retime = ratio.denominator != 1
    if retime and synth.forward_only:
        raise FramepredError(f"converting to {_rate(Fraction(fps or 0))} fps, a rate that is not "
                             "a whole multiple of the video's own, makes frames at times between "
                             "its frames: use a method that interpolates (flow, blend, or the "
                             "motion model)")  # fmt: skip
    # retiming learns on the video's own grid, where its frames are
    adapted = (
        _adapt_synthesizer(synth, input, None if retime else fps, adapt, progress)
        if adapt > 0
        else None
    )
    if ensemble > 1:  # after adapting: the views share the adapted network
        synth = SelfEnsemble(synth, ensemble)
    if guard and synth.name == "model" and not synth.forward_only:
        synth = Guard(synth)
    with reader or VideoReader(input, fps) as reader:
        info = reader.info
        # the grid the video's frames are mapped to: its own where it is retimed
        grid = info
        if retime and info.source_rate is not None:
            grid = replace(info, frame_rate=info.source_rate, source_rate=None)
        scan = inspect_video(input, detect=(), frames=None, fps=fps, info=grid, max_gap=max_gap)
        explicit = slots_from_spec(frames, scan.n_slots)
        mapper = SlotMapper(Grid(grid.start, grid.interval), frozenset(detect), explicit)
        result = FillReport(str(input), str(output), str(info.frame_rate), 0, 0, synth.name)
        result.adapt = adapted
        result.ensemble = ensemble
        result.working_size = synth.working_side
        if info.source_rate is not None:
            result.source_frame_rate = str(info.source_rate)
        per_frame = 1 if retime else int(ratio)
        bar = tqdm(total=math.ceil(scan.n_slots * (ratio if retime else 1)), unit="frame",
                   file=sys.stderr, disable=not progress, desc="fill", dynamic_ncols=True,
                   leave=False)  # fmt: skip
        # Decoding runs ahead in one thread and encoding behind in another, beside synthesis.
        stream = prefetch(slot_stream(reader, mapper, declared_slots(grid), max_gap, per_frame))
        plan = FillPlan(synth, info, max_gap, on_long_gap, result)
        images = _retime_stream(stream, plan, grid) if retime else _fill_stream(stream, plan)
        with bar, closing(stream), VideoWriter(output, info.frame_rate, crf=crf, preset=preset,
                rotation=info.rotation, audio_from=None if info.is_folder else input,
                overwrite=overwrite) as writer, \
                BackgroundWriter(writer) as out:  # fmt: skip
            for image in images:
                out.write(image)
                bar.update(1)
        result.damaged = reader.damaged
    if isinstance(synth, Guard):
        result.guard = synth.report()
        for shot in synth.shots:
            log.info("%s", shot.summary())
    if not retime:
        result.n_slots = mapper.next_slot
    result.collisions = len(mapper.collisions)
    result.seconds = round(time.perf_counter() - t0, 3)
    if mapper.collisions:
        log.warning("%d frames fell on a slot already taken (VFR jitter, or timestamps going "
                    "backwards) and were dropped", len(mapper.collisions))  # fmt: skip
    log.info("%s: %d slots, %d kept, %d synthesized (%s)", output, result.n_slots,
             result.n_kept, result.n_filled, result.method)  # fmt: skip
    if report is not None:
        try:
            with atomic_path(Path(report), overwrite=overwrite) as tmp:
                tmp.write_text(result.to_json())
        except OSError as err:  # e.g. the disk filled up: the video itself is whole
            reason = err.strerror or str(err)
            raise VideoWriteError(f"wrote {output}, but cannot write {report}: {reason}") from None
    return result


def _adapt_synthesizer(synth: Synthesizer, input: Path, fps, steps: int, progress: bool) -> dict:
    """Fine-tune the model of `synth` on the input's known frames (motion models only)."""
    from framepred.adapt import adapt_to_video
    from framepred.synth.motion import MotionSynthesizer

    if not isinstance(synth, MotionSynthesizer):
        raise FramepredError("--adapt needs the learned motion model (--method model)")
    synth.net, result = adapt_to_video(synth.net, input, fps, steps, device=synth.device,
                                       progress=progress)  # fmt: skip
    return result


def _fill_stream(items, plan: FillPlan) -> Iterator[np.ndarray]:
    """Yield every output frame in slot order; synthesize each run of missing slots."""
    synth, result = plan.synth, plan.result
    before: deque[tuple[int, np.ndarray]] = deque(maxlen=max(1, synth.context))  # (slot, frame)
    stream = _Peek(items)
    while (item := stream.peek()) is not None:
        stream.pop()
        if item.image is not None:
            if before and synth.context > 1 and is_scene_cut(before[-1][1], item.image):
                before.clear()  # a learned model must not take its context from another shot
            before.append((item.slot, item.image))
            result.n_kept += 1
            yield item.image
            continue
        run = [item]
        while (nxt := stream.peek()) is not None and nxt.image is None:
            run.append(stream.pop())
        after: list[tuple[int, np.ndarray]] = []
        while len(after) < max(1, synth.context) and (nxt := stream.peek()) is not None:
            if nxt.image is None:
                break
            stream.pop()
            after.append((nxt.slot, nxt.image))
        taken = len(after)
        if after and synth.context > 1 and not synth.forward_only:
            after += _context_ahead(stream, synth.context - taken, after[-1][1], plan.max_gap)
        yield from _fill_run(run, list(before), after, plan)
        for known in after[:taken]:
            if before and synth.context > 1 and is_scene_cut(before[-1][1], known[1]):
                before.clear()
            before.append(known)
            result.n_kept += 1
            yield known[1]


def _retime_stream(items, plan: FillPlan, src: VideoInfo) -> Iterator[np.ndarray]:
    """Yield the frames of the output grid `plan.info`, whose rate is not a whole multiple of the
    video's own (`src`, the grid of `items`): output frame k lies at k * step of the video's
    frames (step = own rate / new rate). One that falls exactly on a known frame is that
    frame; every other one is synthesized at its own time between the known frames around it
    (several at once where they share the two), with the context and scene-cut handling of
    `_fill_stream`. Lost frames of the video just widen the span the output frames lie in."""
    synth, result = plan.synth, plan.result
    step = src.frame_rate / plan.info.frame_rate
    ctx = max(1, synth.context)
    before: deque[tuple[int, np.ndarray]] = deque(maxlen=ctx)
    stream = _Peek(items)
    missing: dict[int, str] = {}  # the video's slots missing since the last known frame
    k, end = 0, 0  # the next output frame; the video's slots seen so far
    while True:
        item = stream.peek()
        if item is not None and item.image is None:
            missing[item.slot] = item.reason or "timestamps"
            end = stream.pop().slot + 1
            continue
        known: tuple[int, np.ndarray] | None = None
        if item is not None and item.image is not None:
            known = (stream.pop().slot, item.image)
        stop = end if known is None else known[0]
        run, positions = [], []
        while k * step < stop:
            p = k * step
            reason = missing.get(int(p), "timestamps") if p.denominator == 1 else "timestamps"
            run.append(SlotItem(k, None, reason))
            positions.append(p)
            k += 1
        if run:
            after = [] if known is None else [known]
            if known is not None and synth.context > 1:
                after += _context_ahead(stream, ctx - 1, known[1], plan.max_gap)
            if before and known is not None:
                a, b = before[-1][0], known[0]
                times = [float((p - a) / (b - a)) for p in positions]
            else:  # one side only: the nearest frame is repeated, whatever the time
                times = [0.5] * len(run)
            yield from _fill_run(run, list(before), after, plan, times)
        if known is None:
            break
        if before and synth.context > 1 and is_scene_cut(before[-1][1], known[1]):
            before.clear()
        before.append(known)
        missing, end = {}, known[0] + 1
        if k * step == known[0]:  # an output frame at exactly this frame's time
            result.n_kept += 1
            k += 1
            yield known[1]
    result.n_slots = k


def _context_ahead(stream: _Peek, want: int, last: np.ndarray, max_gap: int):
    """Up to `want` more known frames for a learned model's context after a gap, looked up past
    the next gaps (up to `max_gap` slots ahead) without taking them from the stream, as the
    frames before a gap are: with every other frame missing, the frame after B is the one
    after the next gap. Stops at a scene cut."""
    found: list[tuple[int, np.ndarray]] = []
    i = 0
    while len(found) < want and i <= max_gap and (item := stream.ahead(i)) is not None:
        i += 1
        if item.image is None:
            continue
        if is_scene_cut(found[-1][1] if found else last, item.image):
            break
        found.append((item.slot, item.image))
    return found


def _fill_run(run: list[SlotItem], before_known: list[tuple[int, np.ndarray]],
              after_known: list[tuple[int, np.ndarray]], plan: FillPlan,
              times: list[float] | None = None) -> Iterator[np.ndarray]:  # fmt: skip
    """Yield the frames of one run of missing slots, made from the known frames around it.
    `times`: where each slot lies between the last frame before and the first after (0..1;
    None: evenly spaced, as on the video's own grid)."""
    synth, info, max_gap, result = plan.synth, plan.info, plan.max_gap, plan.result
    timed = times is not None
    if times is None:
        times = [(i + 1) / (len(run) + 1) for i in range(len(run))]
    before = [image for _, image in before_known]
    after = [image for _, image in after_known]
    spacing = context_spacing([s for s, _ in before_known], [s for s, _ in after_known])
    for gap in runs(run):
        result.gaps.append(gap)
    n = len(run)
    used = synth
    if n > max_gap:
        long = Gap(run[0].slot, run[-1].slot, run[0].reason or "timestamps")
        result.long_gaps.append(long)
        log.warning("gap of %d slots at %d-%d is longer than --max-gap %d; %s", n,
                    long.start_slot, long.end_slot, max_gap,
                    "filling it anyway" if plan.on_long_gap == "fill" else "holding the nearest frame")  # fmt: skip
        if plan.on_long_gap == "hold":
            used = Repeat()
    if not before and not after:
        raise VideoWriteError("no known frame to fill from: every frame of the video is missing")
    n_before = n  # slots filled from the frames before (all, unless there is a scene cut)
    if before and after and is_scene_cut(before[-1], after[0]):
        n_before = sum(1 for t in times if t <= 0.5)
        result.scene_cuts.append(run[0].slot)
        log.info("scene cut inside gap %d-%d: each side filled from its own shot",
                 run[0].slot, run[-1].slot)  # fmt: skip
        parts = [(run[:n_before], times[:n_before], before, [], "before"),
                 (run[n_before:], times[n_before:], [], after, "after")]  # fmt: skip
    else:
        side = "both" if before and after else "before" if before else "after"
        if side == "both" and used.forward_only:
            side = "before"  # a forecaster predicts from the past only
        parts = [(run, times, before, after, side)]
    for part, part_times, b, a, side in parts:
        if not part:
            continue
        # (a part filled from one side, at a scene cut or an end, has no spacing)
        where = spacing if b and a else None
        if isinstance(used, Guard):
            used.locate([s for s, _ in before_known] if b else [],
                        [s for s, _ in after_known] if a else [], part[0].slot, part[-1].slot)  # fmt: skip
        if timed:  # (never a forecaster: it predicts the next frames, it has no times)
            made = used.fill_times(b, a, part_times, where)
        else:
            made = used.fill_run(b, a, len(part), where)
        for item, image in zip(part, made, strict=True):
            t = float(info.start + item.slot * info.interval)
            result.slots.append(
                FilledSlot(item.slot, t, item.reason or "timestamps", _method(used), side)
            )
            yield image


def _method(synth: Synthesizer) -> str:
    """The method that made a synthesizer's last frames (the guard's choice, where guarded)."""
    return synth.choice if isinstance(synth, Guard) else synth.name
