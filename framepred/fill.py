"""Fill the missing frames of a video: stream it through a bounded window, synthesize each gap.

`fill_video` reads the input once, maps every frame to its slot on the nominal grid
(`gaps.SlotMapper`), passes kept frames straight to the writer and, for each run of missing
slots, synthesizes them from the last known frames before the run and the first known
frames after it. Only `context` known frames on each side are held, so memory does not grow
with the video's length. A scene cut between the two sides splits the gap: each slot is
filled from the shot nearer to it, never by mixing two shots.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from itertools import tee
from pathlib import Path

import numpy as np
from tqdm import tqdm

from framepred.atomic import atomic_path, check_writable_target
from framepred.baselines import Flow, Repeat, Synthesizer, context_spacing, get_synthesizer
from framepred.ensemble import SelfEnsemble
from framepred.ensemble import check as check_ensemble
from framepred.errors import FramepredError, InputShapeError, VideoOpenError, VideoWriteError
from framepred.gaps import (
    Gap,
    GapScan,
    Grid,
    SlotItem,
    SlotMapper,
    find_gaps,
    is_scene_cut,
    runs,
    slots_from_spec,
)
from framepred.guard import Guard
from framepred.pipelining import BackgroundWriter, prefetch
from framepred.video import VideoInfo, VideoReader, probe
from framepred.video_writer import VideoWriter, output_kind

log = logging.getLogger(__name__)

METHODS = ("model", "flow", "blend", "repeat")


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

    @property
    def n_filled(self) -> int:
        return len(self.slots)

    def to_json(self) -> str:
        data = asdict(self)
        data["n_filled"] = self.n_filled
        return json.dumps(data, indent=2)


class ModelSynthesizer(Synthesizer):
    """A learned predictor behind the synthesizer interface.

    A gap of n slots is `predictor.predict(past, n)`: forward prediction from the frames
    before it. At the start of a video there is no past, so time is reversed and the frames
    after the gap are the context. Long gaps are predicted in chunks, each continuing from
    the frames predicted so far.
    """

    name = "model"
    chunk = 16
    forward_only = True  # predicts from the frames before a gap (or after it, reversed)

    def __init__(self, predictor, context: int | None = None):
        self.predictor = predictor
        self.context = int(context) if context else int(getattr(predictor, "context_frames", 10))

    def synthesize(self, before, after, times):
        return list(self.fill_run(before, after, len(times)))

    def fill_run(self, before, after, n, spacing=None):
        if len(before):
            yield from self._rollout(list(before), n)
        else:
            yield from reversed(list(self._rollout(list(after)[::-1], n)))

    def _rollout(self, context: list[np.ndarray], n: int) -> Iterator[np.ndarray]:
        context = context[-self.context :]
        done = 0
        while done < n:
            k = min(self.chunk, n - done)
            pred = np.asarray(self.predictor.predict(np.stack(context), k))  # (k, H, W, C)
            yield from pred
            context = (context + list(pred))[-self.context :]
            done += k


def make_synthesizer(
    method: str, model=None, device: str = "auto", predictor=None, precision: str = "32"
):
    """The synthesizer for `method`; `model` falls back to `flow` until a default is shipped.
    `precision` ("32", "bf16", "auto") is the network's (`framepred.precision`)."""
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}': choose from {', '.join(METHODS)}")
    if method != "model":
        return get_synthesizer(method)
    if predictor is not None:
        return ModelSynthesizer(predictor)
    name = str(model or "default")
    if name == "default":
        try:
            from framepred.checkpoints import builtin_path
        except ImportError:
            builtin = None
        else:
            builtin = builtin_path("default")
        if builtin is None:
            log.warning("no learned default model is shipped yet; using --method flow")
            return Flow()
    from framepred.checkpoints import load_model
    from framepred.models.motion import MotionInterpolator
    from framepred.predict import pick_device, predictor_for

    dev = pick_device(device)
    net, meta = load_model(model or "default", dev)
    if isinstance(net, MotionInterpolator):
        from framepred.motion_fill import MotionSynthesizer

        return MotionSynthesizer(net, dev, precision)
    return ModelSynthesizer(predictor_for(net, dev, meta, precision=precision))


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


def _check_paths(input: Path, output: Path, overwrite: bool) -> None:
    src, dst = input.resolve(), output.resolve()
    if src == dst:
        raise VideoWriteError(f"output is the input; choose another path: {output}")
    if input.is_dir() and dst.is_relative_to(src):
        raise VideoWriteError(f"output may not be inside the input folder: {output}")
    output_kind(output)
    check_writable_target(output, overwrite=overwrite)
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


def _slot_stream(reader: VideoReader, mapper: SlotMapper, declared: int | None, max_gap: int,
                 per_frame: int = 1):  # fmt: skip
    for frame in reader:
        yield from mapper.push(frame.pts, frame.image)
    # A file cut short (damaged or not) gets its lost tail back, if the header is believable.
    end = trusted_end(declared, mapper.next_slot, max_gap, warn=True, expected=per_frame - 1)
    yield from mapper.finish(end)


def rate_conversion(info: VideoInfo) -> Fraction:
    """The output's frame rate over the video's own where `fps` sets a new one, else 1.

    A whole number (25 -> 50: 2) puts the video's frames on the finer grid, and the slots
    between them are synthesized like any gap. Any other ratio (24 -> 60, 30 -> 25) retimes
    the video (`_retime_stream`): each output frame is made at its own time between the two
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
    guard: bool = True,
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
            views of its gap (1, 2, 4 or 8; `framepred.ensemble`): sharper estimates at
            about that many times the synthesis work.
        guard: with the learned model, check it against the classical `flow` method on a few
            hidden known frames of each shot and use flow, or a mix of the two, where the model
            loses (`framepred.guard`); the choices are the report's `guard`.
    """
    input, output = Path(input), Path(output)
    t0 = time.perf_counter()
    if on_long_gap not in ("fill", "hold"):
        raise ValueError(f"on_long_gap must be 'fill' or 'hold', got {on_long_gap!r}")
    _check_paths(input, output, overwrite)
    if report is not None:
        check_writable_target(Path(report))
    synth = make_synthesizer(method, model, device, predictor, precision)
    check_ensemble(synth, ensemble)  # before adapting: nothing is learned for a refusal
    ratio = rate_conversion(probe(input, fps)) if fps else Fraction(1)
    retime = ratio.denominator != 1
    if retime and synth.forward_only:
        raise FramepredError(f"converting to {_rate(Fraction(fps or 0))} fps, a rate that is not "
                             "a whole multiple of the video's own, makes frames at times between "
                             "its frames: use a method that interpolates (flow, blend, or the "
                             "motion model)")  # fmt: skip
    # retiming learns on the video's own grid, where its frames are
    adapted = _adapt(synth, input, None if retime else fps, adapt, progress) if adapt > 0 else None
    if ensemble > 1:  # after adapting: the views share the adapted network
        synth = SelfEnsemble(synth, ensemble)
    if guard and synth.name == "model" and not synth.forward_only:
        synth = Guard(synth)
    with VideoReader(input, fps) as reader:
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
        if info.source_rate is not None:
            result.source_frame_rate = str(info.source_rate)
        per_frame = 1 if retime else int(ratio)
        bar = tqdm(total=math.ceil(scan.n_slots * (ratio if retime else 1)), unit="frame",
                   file=sys.stderr, disable=not progress, desc="fill", dynamic_ncols=True,
                   leave=False)  # fmt: skip
        # Decoding runs ahead in one thread and encoding behind in another, beside synthesis.
        stream = prefetch(_slot_stream(reader, mapper, declared_slots(grid), max_gap, per_frame))
        if retime:
            images = _retime_stream(stream, synth, grid, info, max_gap, on_long_gap, result)
        else:
            images = _fill_stream(stream, synth, info, max_gap, on_long_gap, result)
        with bar, closing(stream), VideoWriter(output, info.frame_rate, crf=crf, preset=preset,
                rotation=info.rotation, audio_from=None if info.is_folder else input) as writer, \
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
            with atomic_path(Path(report)) as tmp:
                tmp.write_text(result.to_json())
        except OSError as err:  # e.g. the disk filled up: the video itself is whole
            reason = err.strerror or str(err)
            raise VideoWriteError(f"wrote {output}, but cannot write {report}: {reason}") from None
    return result


def _adapt(synth: Synthesizer, input: Path, fps, steps: int, progress: bool) -> dict:
    """Fine-tune the model of `synth` on the input's decoded frames (motion models only)."""
    from dataclasses import asdict

    from framepred.adapt import adapt
    from framepred.motion_fill import MotionSynthesizer

    if not isinstance(synth, MotionSynthesizer):
        raise FramepredError("--adapt needs the learned motion model (--method model)")
    with VideoReader(input, fps) as reader:
        grid = Grid(reader.info.start, reader.info.interval)
        known = ((grid.slot(f.pts), f.image) for f in reader)
        pairs = tee(known)
        try:
            net, res = adapt(synth.net, (f for _, f in pairs[1]), steps, device=synth.device,
                             progress=progress, slots=(s for s, _ in pairs[0]))  # fmt: skip
        except ValueError as err:
            raise InputShapeError(f"cannot adapt to {input}: {err}") from None
    synth.net = net
    log.info("%s", res.summary())
    return asdict(res)


def _fill_stream(items, synth: Synthesizer, info: VideoInfo, max_gap: int, on_long_gap: str,
                 result: FillReport) -> Iterator[np.ndarray]:  # fmt: skip
    """Yield every output frame in slot order; synthesize each run of missing slots."""
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
            after += _context_ahead(stream, synth.context - taken, after[-1][1], max_gap)
        yield from _fill_run(run, list(before), after, synth, info, max_gap, on_long_gap, result)
        for known in after[:taken]:
            if before and synth.context > 1 and is_scene_cut(before[-1][1], known[1]):
                before.clear()
            before.append(known)
            result.n_kept += 1
            yield known[1]


def _retime_stream(items, synth: Synthesizer, src: VideoInfo, out: VideoInfo, max_gap: int,
                   on_long_gap: str, result: FillReport) -> Iterator[np.ndarray]:  # fmt: skip
    """Yield the frames of the output grid `out`, whose rate is not a whole multiple of the
    video's own (`src`, the grid of `items`): output frame k lies at k * step of the video's
    frames (step = own rate / new rate). One that falls exactly on a known frame is that
    frame; every other one is synthesized at its own time between the known frames around it
    (several at once where they share the two), with the context and scene-cut handling of
    `_fill_stream`. Lost frames of the video just widen the span the output frames lie in."""
    step = src.frame_rate / out.frame_rate
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
                after += _context_ahead(stream, ctx - 1, known[1], max_gap)
            if before and known is not None:
                a, b = before[-1][0], known[0]
                times = [float((p - a) / (b - a)) for p in positions]
            else:  # one side only: the nearest frame is repeated, whatever the time
                times = [0.5] * len(run)
            yield from _fill_run(run, list(before), after, synth, out, max_gap, on_long_gap,
                                 result, times)  # fmt: skip
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
              after_known: list[tuple[int, np.ndarray]], synth, info, max_gap, on_long_gap,
              result: FillReport, times: list[float] | None = None) -> Iterator[np.ndarray]:  # fmt: skip
    """Yield the frames of one run of missing slots, made from the known frames around it.
    `times`: where each slot lies between the last frame before and the first after (0..1;
    None: evenly spaced, as on the video's own grid)."""
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
                    "filling it anyway" if on_long_gap == "fill" else "holding the nearest frame")  # fmt: skip
        if on_long_gap == "hold":
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
