"""`framepred fill` and `framepred info` through Click: success paths and every bad input."""

from __future__ import annotations

import functools
import json
import logging
from fractions import Fraction

import av
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import gappy, moving_scene, psnr, read_all, sha256, write_video

from cli.main import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_clean_failure(result, code, phrase):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if "Error:" in ln]
    assert len(lines) == 1 and phrase in lines[0], result.output


def leftovers(folder):
    return [p.name for p in folder.iterdir() if "partial" in p.name]


def test_fill_cli_writes_output_and_report(gappy_mkv, tmp_path):
    out, rep = tmp_path / "o.mp4", tmp_path / "r.json"
    result = run("fill", gappy_mkv, "-o", out, "--method", "flow", "--report", rep,
                 "--crf", "20", "--preset", "ultrafast", "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    info, frames = read_all(out)
    assert len(frames) == 30 and info.frame_rate == 25
    assert json.loads(rep.read_text())["n_filled"] == 9


def test_info_lists_gaps(gappy_mkv):
    result = run("info", gappy_mkv, "--frames", "20")
    assert result.exit_code == 0, result.output
    assert "25 (25.000 fps)" in result.output and "grid slots:    30" in result.output
    assert "missing:       10 slots in 5 gaps" in result.output
    assert "5-7" in result.output and "explicit" in result.output


def test_help_documents_every_option():
    result = run("fill", "--help")
    assert result.exit_code == 0
    for opt in ("--detect", "--frames", "--method", "--model", "--max-gap", "--crf",
                "--preset", "--report", "--device", "--overwrite"):  # fmt: skip
        assert opt in result.output


def _truncated(path):
    src = write_video(path.with_name("full.mkv"), gappy(range(20)))
    path.write_bytes(src.read_bytes()[: int(src.stat().st_size * 0.5)])
    src.unlink()
    return path


def _zero_frames(path):
    with av.open(str(path), "w") as c:
        s = c.add_stream("ffv1", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "bgr0"
        c.start_encoding()  # a valid header, then no frames at all
    return path


@pytest.mark.parametrize(
    "make, name, phrase",
    [
        (lambda p: p, "missing.mp4", "no such file"),
        (lambda p: (p.write_text("just text\n" * 50), p)[1], "text.mp4", "not a readable video"),
        (lambda p: (p.write_bytes(b""), p)[1], "empty.mp4", "empty"),
        (_zero_frames, "zero.mkv", "not a readable video"),
    ],
)
def test_bad_inputs_fail_cleanly(tmp_path, make, name, phrase):
    src = make(tmp_path / name)
    before = sha256(src) if src.exists() else None
    out = tmp_path / "out.mkv"
    for cmd in (("fill", src, "-o", out, "--method", "flow"), ("info", src)):
        result = run(*cmd)
        assert_clean_failure(result, 1, phrase)
    assert not out.exists() and leftovers(tmp_path) == []
    if before:
        assert sha256(src) == before


def test_truncated_video_uses_frames_up_to_damage(tmp_path, caplog):
    src = _truncated(tmp_path / "cut.mkv")
    before = sha256(src)
    good = len(read_all(src)[1])
    assert 3 <= good < 20
    out = tmp_path / "o.mkv"
    with caplog.at_level(logging.WARNING):
        result = run("fill", src, "-o", out, "--method", "blend", "--no-progress")
    assert result.exit_code == 0 and "Traceback" not in result.output
    # Matroska's header still declares 20 frames: the lost tail is synthesized, with a warning.
    assert "frames stop at slot" in caplog.text
    frames = read_all(out)[1]
    assert len(frames) == 20 and sha256(src) == before
    for k in range(good):
        np.testing.assert_array_equal(frames[k].image, moving_scene(k))


def test_one_frame_video(tmp_path):
    src = write_video(tmp_path / "one.mkv", gappy([0]))
    out = tmp_path / "o.mkv"
    result = run("fill", src, "-o", out, "--method", "flow", "--no-progress")
    assert result.exit_code == 0, result.output
    assert len(read_all(out)[1]) == 1
    result = run("fill", src, "-o", tmp_path / "o2.mkv", "--frames", "0", "--method", "flow")
    assert_clean_failure(result, 1, "every frame of the video is missing")
    assert not (tmp_path / "o2.mkv").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "output, extra, code, phrase",
    [
        ("{src}", (), 1, "output is the input"),
        ("nowhere/o.mkv", (), 1, "output folder does not exist"),
        ("o.avi", (), 1, "unknown output type"),
        ("o.mkv", ("--frames", "12-x"), 2, "not a slot number"),
        ("o.mkv", ("--frames", "3,40"), 1, "out of range"),
        ("o.mkv", ("--frames", "9-4"), 2, "end before start"),
        ("o.mkv", ("--method", "magic"), 2, "magic"),
    ],
)
def test_bad_usage_fails_cleanly(gappy_mkv, tmp_path, output, extra, code, phrase):
    before = sha256(gappy_mkv)
    out = gappy_mkv if output == "{src}" else tmp_path / output
    result = run("fill", gappy_mkv, "-o", out, "--method", "flow", *extra)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and phrase in result.output
    assert sha256(gappy_mkv) == before
    assert leftovers(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["gappy.mkv"]


def test_existing_output_needs_overwrite(gappy_mkv, tmp_path):
    out = tmp_path / "o.mkv"
    assert run("fill", gappy_mkv, "-o", out, "--method", "blend").exit_code == 0  # framepred's own
    old = out.read_bytes()
    assert_clean_failure(run("fill", gappy_mkv, "-o", out, "--method", "repeat"), 1, "--overwrite")
    assert out.read_bytes() == old
    assert run("fill", gappy_mkv, "-o", out, "--method", "repeat", "--overwrite").exit_code == 0
    assert len(read_all(out)[1]) == 30 and out.read_bytes() != old


def test_image_folder_input_with_fps(tmp_path):
    import cv2

    folder = tmp_path / "in"
    folder.mkdir()
    for n in (10, 11, 14):
        cv2.imwrite(str(folder / f"img{n}.png"), moving_scene(n)[..., ::-1])
    result = run("fill", folder, "-o", tmp_path / "out", "--fps", "12", "--method", "flow")
    assert result.exit_code == 0, result.output
    info, frames = read_all(tmp_path / "out")
    assert len(frames) == 5
    assert [f.pts for f in frames][-1] == Fraction(4, 25)  # a PNG folder reads back at 25 fps


def test_fps_multiple_converts_a_video_up(tmp_path, caplog):
    """25 -> 50 fps: the video's frames keep their times and pass through bit-exact, the slots
    between are synthesized (closer to the true in-between frames than repeating a
    neighbour), and the last frame's own span is filled without a cut-short warning."""
    src = write_video(tmp_path / "in.mkv", [(Fraction(j, 25), moving_scene(2 * j)) for j in range(12)],
                      end=Fraction(12, 25))  # fmt: skip
    out, rep = tmp_path / "o.mkv", tmp_path / "r.json"
    with caplog.at_level(logging.WARNING):
        result = run("fill", src, "-o", out, "--fps", "50", "--method", "flow", "--report", rep)
    assert result.exit_code == 0, result.output
    assert "cut short" not in caplog.text and "judder" not in caplog.text
    info, frames = read_all(out)
    assert info.frame_rate == 50 and len(frames) == 24
    assert [f.pts for f in frames] == [Fraction(i, 50) for i in range(24)]
    for j in range(12):
        assert np.array_equal(frames[2 * j].image, moving_scene(2 * j))
    for j in range(11):
        truth, got = moving_scene(2 * j + 1), frames[2 * j + 1].image
        assert psnr(got, truth) > psnr(frames[2 * j].image, truth) + 3
    report = json.loads(rep.read_text())
    assert report["n_filled"] == 12 and report["source_frame_rate"] == "25"


# Retiming tests: a square moving 6 px a source frame at 25 fps, drawn 128 px wide so that the
# truth at any output time of 30 fps (5k/6 source frames along) is the square 5k px along.
retime_scene = functools.partial(moving_scene, w=128, speed=1)


def retime_source(tmp_path, lost: tuple[int, ...] = ()):
    frames = [(Fraction(j, 25), retime_scene(6 * j)) for j in range(10) if j not in lost]
    return write_video(tmp_path / "in.mkv", frames, end=Fraction(10, 25))


def test_fps_not_a_multiple_retimes_the_video(tmp_path, caplog):
    """25 -> 30 fps: output frame k lies 5k/6 of the way along the video's frames. Those on a
    frame (k = 0, 6) are that frame, bit-exact; the others are made at their own times,
    closer to the true frames there than the nearest frame is; the last frame's own span is
    held."""
    scene, src = retime_scene, retime_source(tmp_path)
    out, rep = tmp_path / "o.mkv", tmp_path / "r.json"
    with caplog.at_level(logging.WARNING):
        result = run("fill", src, "-o", out, "--fps", "30", "--method", "flow", "--report", rep)
    assert result.exit_code == 0, result.output
    assert caplog.text == ""
    info, frames = read_all(out)
    assert info.frame_rate == 30 and len(frames) == 12  # 10 frames of 1/25 s at 30 fps
    assert [round(f.pts * 30) for f in frames] == list(range(12))
    for k in (0, 6):
        assert np.array_equal(frames[k].image, scene(6 * k * 5 // 6))
    for k in (1, 2, 3, 4, 5, 7, 8, 9, 10):
        truth, nearest = scene(5 * k), scene(6 * round(5 * k / 6))
        assert psnr(frames[k].image, truth) > psnr(nearest, truth) + 6, k
    assert np.array_equal(frames[11].image, scene(54))  # 9 1/6: after the last frame
    report = json.loads(rep.read_text())
    assert report["n_slots"] == 12 and report["n_kept"] == 2 and report["n_filled"] == 10
    assert report["source_frame_rate"] == "25" and report["frame_rate"] == "30"
    assert [s["slot"] for s in report["slots"]] == [1, 2, 3, 4, 5, 7, 8, 9, 10, 11]


def test_info_tells_what_retiming_will_make(tmp_path):
    """`info --fps` is fill's dry run: on a 25 fps video with frame 3 lost, 30 fps is 12
    frames, two of them the video's own (frames 0 and 5), as fill then reports."""
    src = retime_source(tmp_path, lost=(3,))
    result = run("info", src, "--fps", "30")
    assert result.exit_code == 0, result.output
    assert "frame rate:    25 " in result.output and "1 slots in 1 gaps" in result.output
    assert (
        "to 30 fps by fill: 12 frames, 2 of them the video's own, 10 synthesized" in result.output
    )
    rep = tmp_path / "r.json"
    assert run("fill", src, "-o", tmp_path / "o.mkv", "--fps", "30", "--method", "blend",
               "--report", rep).exit_code == 0  # fmt: skip
    report = json.loads(rep.read_text())
    assert (report["n_slots"], report["n_kept"], report["n_filled"]) == (12, 2, 10)


def test_fps_retiming_frames_names_the_video_s_own_frames(tmp_path):
    """With retiming, --frames 5 hides the video's frame 5 (output frame 6 lies on it): that
    output frame is made between frames 4 and 6, and reported as explicitly missing."""
    scene, src = retime_scene, retime_source(tmp_path)
    rep = tmp_path / "r.json"
    result = run("fill", src, "-o", tmp_path / "o.mkv", "--fps", "30", "--method", "flow",
                 "--frames", "5", "--report", rep)  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(rep.read_text())
    assert report["n_kept"] == 1
    assert {s["slot"]: s["reason"] for s in report["slots"]}[6] == "explicit"
    _, frames = read_all(tmp_path / "o.mkv")
    assert not np.array_equal(frames[6].image, scene(30))  # made, not the hidden frame
    assert psnr(frames[6].image, scene(30)) > psnr(scene(24), scene(30)) + 6


def test_fps_down_by_a_whole_factor_keeps_every_other_frame(tmp_path, caplog):
    src = write_video(tmp_path / "in.mkv", [(Fraction(j, 50), moving_scene(j)) for j in range(10)],
                      rate=50, end=Fraction(10, 50))  # fmt: skip
    with caplog.at_level(logging.WARNING):
        result = run("fill", src, "-o", tmp_path / "o.mkv", "--fps", "25", "--method", "flow")
    assert result.exit_code == 0, result.output
    assert caplog.text == ""  # no frames "dropped" on a taken slot: they are not on the grid
    info, frames = read_all(tmp_path / "o.mkv")
    assert info.frame_rate == 25 and len(frames) == 5
    for k, f in enumerate(frames):
        assert np.array_equal(f.image, moving_scene(2 * k))


def test_fps_retiming_fills_the_video_s_own_gaps_from_real_frames(tmp_path):
    """A lost frame of the video widens the span an output frame lies in: 25 -> 30 with frame 3
    missing makes output frames 3 and 4 (2.5 and 3 1/3 frames along) between frames 2 and 4."""
    scene, src = retime_scene, retime_source(tmp_path, lost=(3,))
    rep = tmp_path / "r.json"
    result = run("fill", src, "-o", tmp_path / "o.mkv", "--fps", "30", "--method", "flow",
                 "--report", rep)  # fmt: skip
    assert result.exit_code == 0, result.output
    _, frames = read_all(tmp_path / "o.mkv")
    assert len(frames) == 12
    for k in (3, 4):
        assert psnr(frames[k].image, scene(5 * k)) > psnr(scene(12), scene(5 * k)) + 6, k
    assert json.loads(rep.read_text())["n_kept"] == 2


def test_fps_retiming_refuses_a_forecaster(tmp_path):
    src = write_video(tmp_path / "in.mkv", [(Fraction(j, 25), moving_scene(j)) for j in range(6)])
    result = run("fill", src, "-o", tmp_path / "o.mkv", "--fps", "30", "--model", "mmnist-pixel")
    assert_clean_failure(result, 1, "use a method that interpolates")
    assert leftovers(tmp_path) == [] and not (tmp_path / "o.mkv").exists()
