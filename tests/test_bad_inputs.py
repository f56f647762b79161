"""The bad-input corpus through the CLI: `framepred info` and `framepred fill` on each input.

For every input (generated in `tests/badmedia.py`): the documented outcome (processed, or
one clear error line), its exit code, no traceback, the input's bytes unchanged, and no
partial output left anywhere. The README's bad-input table is this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import badmedia as bm
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import moving_scene, read_all, sha256

from cli.main import cli
from framepred.io.reader import probe


@dataclass(frozen=True)
class Case:
    """One input: how to make it, the exit codes of info and fill, and what they print."""

    make: object  # (folder) -> input path
    info_code: int
    fill_code: int
    says: str  # in the error line (exit 1) or in info's report (exit 0)
    frames: int | None = None  # frames `fill` writes when it succeeds
    synthesized: int | None = None  # of which synthesized
    check: object = None  # (output path, its frames) -> None: extra assertions
    warns: list[str] = field(default_factory=list)  # phrases `fill` logs as warnings


def _kept_exact(slots_to_scene):
    """Output slot s equals `moving_scene(n)` for each (s, n) given (lossless inputs)."""

    def check(out, frames):
        for slot, n in slots_to_scene:
            np.testing.assert_array_equal(frames[slot].image, moving_scene(n))

    return check


def _tiny_kept(w, h):
    def check(out, frames):
        assert frames[0].image.shape == (h, w, 3)
        for slot in (0, 1, 2, 5, 6):
            np.testing.assert_array_equal(frames[slot].image, moving_scene(slot, w, h))

    return check


def _gray(out, frames):
    for k, frame in enumerate(frames):
        gray = cv2.cvtColor(moving_scene(k), cv2.COLOR_RGB2GRAY)
        for c in range(3):
            np.testing.assert_array_equal(frame.image[..., c], gray)


def _kept_first_recording(out, frames):
    """Frames whose time goes back land on slots already written: the first take stays."""
    for k, frame in enumerate(frames):
        err = [np.abs(frame.image.astype(int) - moving_scene(k, seed=s)).mean() for s in (0, 1)]
        assert err[0] < 3 < err[1]


def _rotation_kept(out, frames):
    assert probe(out).rotation == 90  # stored again, not applied to the pixels
    assert frames[0].image.shape == (48, 64, 3)


CASES = {
    "empty file": Case(bm.empty_file, 1, 1, "file is empty"),
    "random bytes as .mp4": Case(bm.random_bytes, 1, 1, "not a readable video"),
    "MP4 without moov atom": Case(bm.mp4_without_moov, 1, 1, "not a readable video"),
    "MP4 cut mid-stream": Case(
        bm.mp4_cut_mid_stream, 0, 0, "missing:       14 slots", 20, 14,
        warns=["frames stop at slot 6"],
    ),
    "audio only": Case(bm.audio_only, 1, 1, "no video stream"),
    "single frame": Case(bm.single_frame, 0, 0, "grid slots:    1", 1, 0),
    "1x1 frames": Case(bm.one_by_one, 0, 0, "size:          1x1", 7, 2, _tiny_kept(1, 1)),
    "7x5 frames": Case(bm.seven_by_five, 0, 0, "size:          7x5", 7, 2, _tiny_kept(7, 5)),
    "16-bit PNGs, gap in numbering": Case(
        bm.png16_folder_with_gap, 0, 0, "slots         3-4", 7, 2,
        _kept_exact([(0, 1), (1, 2), (2, 3), (5, 6), (6, 7)]),
    ),
    "mixed frame sizes in a folder": Case(bm.mixed_size_folder, 1, 1, "image size differs"),
    "grayscale": Case(bm.grayscale, 0, 0, "pixel format:  gray", 6, 0, _gray),
    "alpha channel": Case(
        bm.with_alpha, 0, 0, "pixel format:  bgra", 6, 0, _kept_exact([(k, k) for k in range(6)])
    ),
    "rotated (display matrix)": Case(bm.rotated, 0, 0, "rotation:      90 deg", 6, 1, _rotation_kept),
    "1000 fps slow motion": Case(bm.slow_motion, 0, 0, "1000 (1000.000 fps)", 24, 0),
    "VFR with jitter": Case(
        bm.vfr_jitter, 0, 0, "dropped:       1 frames", 11, 2, warns=["were dropped"]
    ),
    "timestamps going backwards": Case(
        bm.timestamps_backwards, 0, 0, "dropped:       8 frames", 8, 0, _kept_first_recording,
        warns=["timestamps going backwards"],
    ),
    "huge declared frame size": Case(bm.huge_frame_size_mkv, 1, 1, "16000x16000 is too large"),
    "huge PNG header": Case(bm.huge_png_folder, 1, 1, "image is too large"),
    "huge declared duration": Case(
        bm.huge_declared_duration, 0, 0, "grid slots:    6", 6, 0,
        warns=["is not synthesized"],
    ),
    "non-ASCII and spaces in paths": Case(bm.odd_path, 0, 0, "slots           2", 5, 1),
}  # fmt: skip


def _run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    # CliRunner reports an escaped exception as exit code 1 too: it must be Click's own exit.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def _partials(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if "partial" in p.name]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, tmp_path, caplog):
    case = CASES[name]
    src_dir = tmp_path / "in"
    src_dir.mkdir()
    src = case.make(src_dir)  # type: ignore[operator]
    before = sha256(src)
    out_dir = tmp_path / ("out é x" if "ASCII" in name else "out")
    out_dir.mkdir()
    out = out_dir / "filled.mkv"

    code, text = _run("info", src)
    assert code == case.info_code, text
    if code == 0:
        assert case.says in text, text
    else:
        errors = [line for line in text.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and case.says in errors[0], text

    caplog.clear()
    code, text = _run("fill", src, "-o", out, "--method", "flow", "--no-progress")
    assert code == case.fill_code, text
    if code == 0:
        _, frames = read_all(out)
        assert len(frames) == case.frames
        assert f", {case.synthesized} synthesized" in text, text
        if case.check is not None:
            case.check(out, frames)  # type: ignore[operator]
        for phrase in case.warns:
            assert phrase in caplog.text
    else:
        assert text.startswith("Error:") and len(text.strip().splitlines()) == 1, text
        assert case.says in text
        assert not out.exists()

    assert sha256(src) == before, "the input was modified"
    assert _partials(tmp_path) == []
    assert sorted(p.name for p in out_dir.iterdir()) == (["filled.mkv"] if code == 0 else [])


@pytest.mark.parametrize("suffix", [".mp4", ".gif", ""])
@pytest.mark.parametrize("make", [bm.one_by_one, bm.seven_by_five], ids=["1x1", "7x5"])
def test_tiny_frames_to_every_output_kind(tmp_path, make, suffix):
    src = make(tmp_path)
    out = tmp_path / f"filled{suffix}"
    code, text = _run("fill", src, "-o", out, "--method", "flow", "--no-progress")
    assert code == 0, text
    info, frames = read_all(out)
    assert len(frames) == 7
    w, h = probe(src).width, probe(src).height
    assert (info.width, info.height) == ((w + w % 2, h + h % 2) if suffix == ".mp4" else (w, h))


def test_model_fills_tiny_frames(tmp_path, tiny_ckpt):
    """A learned model pads frames smaller than its stride and crops the prediction back."""
    for make in (bm.one_by_one, bm.seven_by_five):
        src = make(tmp_path)
        out = tmp_path / f"{src.stem}.filled.mkv"
        code, text = _run("fill", src, "-o", out, "--method", "model", "--model", tiny_ckpt,
                          "--no-progress")  # fmt: skip
        assert code == 0, text
        info, frames = read_all(out)
        src_info = probe(src)
        assert len(frames) == 7 and (info.width, info.height) == (src_info.width, src_info.height)
