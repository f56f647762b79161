"""Scripts and the registry write through `io.atomic` too: never over a user's file, never
under a fixed temporary name, whole or not at all."""

from __future__ import annotations

import os

import pytest
from conftest import gappy, write_video

from framepred.cache import cache_dir
from framepred.io import marks
from framepred.io.atomic import atomic_path

USERS = b"the user's own"


def test_registry_compaction_never_writes_over_a_file_of_its_old_temp_name(
    framepred_cache, monkeypatch, tmp_path
):
    monkeypatch.setattr(marks, "REGISTRY_MAX", 500)
    fixed = cache_dir() / f".{marks.REGISTRY}.{os.getpid()}.tmp"  # the name it used to use
    fixed.parent.mkdir(parents=True, exist_ok=True)
    fixed.write_bytes(USERS)
    kept = tmp_path / "kept.npy"
    kept.write_bytes(b"x")
    marks.record_output(kept)
    for i in range(20):
        gone = tmp_path / f"gone{i}.npy"
        gone.write_bytes(b"y")
        marks.record_output(gone)
        gone.unlink()
    assert (cache_dir() / marks.REGISTRY).stat().st_size < 500 + 200  # it did compact
    assert marks.in_registry(kept) and fixed.read_bytes() == USERS
    assert sorted(p.name for p in cache_dir().iterdir()) == [fixed.name, marks.REGISTRY]


@pytest.mark.parametrize("suffix", [".png", ".gif"])
def test_show_synthetic_never_replaces_a_users_file(framepred_cache, tmp_path, suffix, monkeypatch):
    from scripts import show_synthetic

    out = tmp_path / f"strip{suffix}"
    monkeypatch.setattr("sys.argv", ["show_synthetic", "--out", str(out), "--clips", "2",
                                     "--length", "2", "--size", "32"])  # fmt: skip
    out.write_bytes(USERS)
    with pytest.raises(SystemExit, match="not written by framepred"):
        show_synthetic.main()
    assert out.read_bytes() == USERS
    out.unlink()
    show_synthetic.main()
    assert marks.is_framepred_file(out) and marks.has_mark(out)
    show_synthetic.main()  # its own output: replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_make_sample_never_replaces_a_users_file(framepred_cache, tmp_path, monkeypatch):
    from scripts import make_sample

    source = write_video(tmp_path / "src.mp4", gappy(list(range(30))))
    out = tmp_path / "sample.mp4"
    monkeypatch.setattr("sys.argv", ["make_sample", str(source), "-o", str(out)])
    out.write_bytes(USERS)
    with pytest.raises(SystemExit, match="not written by framepred"):
        make_sample.main()
    assert out.read_bytes() == USERS
    out.unlink()
    make_sample.main()
    assert marks.is_framepred_file(out) and marks.has_mark(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample.mp4", "src.mp4"]


def test_a_wrong_unseen_clip_is_never_published(framepred_cache, tmp_path):
    from scripts.fetch import FetchError
    from scripts.unseen_clips import CLIPS, trim

    source = write_video(tmp_path / "src.mp4", gappy(list(range(10))))
    out = tmp_path / "city.mp4"
    with atomic_path(out) as tmp:  # framepred's own earlier clip
        tmp.write_bytes(b"the earlier clip")
    with pytest.raises(FetchError, match="want 60"):
        trim(source, out, CLIPS[0])  # 60 frames wanted, 10 there
    assert out.read_bytes() == b"the earlier clip"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["city.mp4", "src.mp4"]
