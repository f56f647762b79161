"""Outputs appear whole or not at all: write to a temporary path beside the target, then rename.

The temporary path lives in the target's own folder so the final `os.replace` is an atomic
rename on the same filesystem. On any error (or KeyboardInterrupt, SIGINT) the temporary
path is removed and the previous target, if any, is left as it was.

A process killed outright (SIGKILL, power loss) cannot clean up: its partial file stays,
hidden (`.<stem>.<pid>-<hex>.partial<suffix>`), beside the untouched target. The next write
to the same target removes such partials when the process that wrote them is gone.

Nothing framepred did not write is ever deleted or replaced: a PNG folder framepred writes
carries a manifest (`.framepred.json`, written last, listing its frames), and every file it
writes carries its mark or is listed in its registry (`marks.py`); `--overwrite` replaces
only such a file or such a folder (its listed files only), checked before any work and again
at the final publish. Without overwrite, the final publish refuses a target that appeared
while the output was written (a concurrent run): a hard link, which fails if the name
exists, instead of a rename.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from framepred.errors import VideoWriteError
from framepred.io.marks import is_framepred_file, json_text, record_output

log = logging.getLogger(__name__)


MANIFEST = ".framepred.json"  # marks a folder framepred wrote; written last


def check_writable_target(target: Path, *, overwrite: bool = True) -> None:
    """Fail early, with one clear line, if `target` cannot be written."""
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise VideoWriteError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK):
        raise VideoWriteError(f"output folder is not writable: {parent}")
    if os.path.lexists(target) and not overwrite:
        raise VideoWriteError(f"output exists (use --overwrite to replace it): {target}")


def write_folder_manifest(folder: Path, files: Iterable[str]) -> None:
    """Mark `folder` as framepred's own: a manifest listing the files it holds (write it
    last, after every frame)."""
    from framepred import __version__

    names = sorted(files)
    digests = {n: _sha256(folder / n) for n in names}  # each file as written
    (folder / MANIFEST).write_text(
        json_text(
            {"version": __version__, "frames": len(names), "files": names, "sha256": digests}
        )  # fmt: skip
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest_files(folder: Path) -> list[str] | None:
    """The files framepred's manifest in `folder` lists, or None if it has none."""
    try:
        data = json.loads((folder / MANIFEST).read_text())
        files = data["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if data.get("tool") != "framepred" or not isinstance(files, list):
        return None
    if not all(isinstance(f, str) and f == Path(f).name and f not in ("", ".", "..")
               for f in files):  # fmt: skip
        return None  # a name with a folder in it is not one framepred writes
    digests = data.get("sha256")
    if not isinstance(digests, dict):
        return None
    for name in files:  # a frame the user edited or replaced since is no longer framepred's
        try:
            if digests.get(name) != _sha256(folder / name):
                return None
        except FileNotFoundError:
            continue
        except OSError:
            return None
    return files


def is_framepred_folder(folder: Path) -> bool:
    """True for a real folder (not a symlink) that framepred wrote, holding only what its
    manifest lists."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    files = _manifest_files(folder)
    return files is not None and {p.name for p in folder.iterdir()} <= {*files, MANIFEST}


def check_output_target(output: Path, inputs: Iterable[Path], overwrite: bool) -> None:
    """The guard every writing command runs before any work.

    Refuses an output that is, contains, or lies inside an input (symlinks resolved); anything
    at the output path but a file framepred wrote (`marks.is_framepred_file`) or a folder
    framepred wrote (`is_framepred_folder`), with or without `overwrite` (the message says it
    was not framepred's, so `--overwrite` is not suggested); and framepred's own earlier
    output without `overwrite`.
    """
    dst = output.resolve()
    for item in inputs:
        src = Path(item).resolve()
        if dst == src:
            raise VideoWriteError(f"output is the input; choose another path: {output}")
        if src.is_relative_to(dst):
            raise VideoWriteError(f"output may not contain the input ({item}): {output}")
        if dst.is_relative_to(src):
            raise VideoWriteError(f"output may not be inside the input ({item}): {output}")
    check_writable_target(output)  # the folder exists and is writable
    if not os.path.lexists(output):
        return
    if output.is_dir():
        if not is_framepred_folder(output):
            what = ("is a link to a folder" if output.is_symlink()
                    else "holds files framepred did not write" if _manifest_files(output)
                    else "is a folder that framepred did not write")  # fmt: skip
            raise VideoWriteError(
                f"output {what}; it is never replaced (choose another path): {output}"
            )
    elif output.is_symlink():
        raise VideoWriteError(f"output is a symbolic link framepred did not make; it is never "
                              f"replaced (choose another path): {output}")  # fmt: skip
    elif not output.is_file():
        raise VideoWriteError(f"output exists and is not a regular file: {output}")
    elif not is_framepred_file(output):
        raise _not_ours(output)
    # framepred's own earlier output: replaced only when asked
    check_writable_target(output, overwrite=overwrite)


def _not_ours(path: Path) -> VideoWriteError:
    return VideoWriteError(f"{path} was not written by framepred; not replaced (remove it "
                           f"yourself or choose another output)")  # fmt: skip


def _remove_framepred_folder(folder: Path) -> None:
    """Delete the files framepred's manifest lists, the manifest, then the folder if empty."""
    if not is_framepred_folder(folder):
        raise VideoWriteError(f"output is a folder that framepred did not write; it is never "
                              f"replaced (choose another path): {folder}")  # fmt: skip
    for name in _manifest_files(folder) or []:
        (folder / name).unlink(missing_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)
    folder.rmdir()  # fails, leaving the rest, if anything else appeared meanwhile


def _appeared(target: Path) -> VideoWriteError:
    return VideoWriteError(
        f"output appeared while this run wrote it (another run?); not replaced: {target}"
    )


def _publish(tmp: Path, target: Path, overwrite: bool, replace_any: bool = False) -> None:
    """Move the finished `tmp` onto `target`; without `overwrite`, never replace anything,
    with it only a file framepred wrote (anything, for `replace_any`)."""
    if tmp.is_dir():
        if os.path.lexists(target):
            if not overwrite:
                raise _appeared(target)
            _remove_framepred_folder(target)
        try:
            os.rename(tmp, target)  # fails onto a non-empty folder or a file
        except OSError as err:
            if err.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                raise _appeared(target) from None
            raise
        return
    if overwrite:
        if not replace_any and os.path.lexists(target) and not is_framepred_file(target):
            raise _not_ours(target)  # it appeared, or was replaced, while this run wrote
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # atomic, and fails if `target` exists
    except FileExistsError:
        raise _appeared(target) from None
    except OSError:  # no hard links here (FAT, some network shares): reserve the name
        try:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            raise _appeared(target) from None
        os.replace(tmp, target)
        return
    tmp.unlink()


@contextmanager
def atomic_path(
    target: Path | str, *, is_dir: bool = False, overwrite: bool = True, replace_any: bool = False
) -> Iterator[Path]:
    """Yield a temporary path next to `target`; move it onto `target` only on success.

    The caller writes framepred's mark into the file (`marks.py`); a file whose format
    cannot carry one is recorded in the registry once published.

    Args:
        target: the final file or folder.
        is_dir: create the temporary path as a folder (for PNG-sequence outputs).
        overwrite: replace an existing `target` if framepred wrote it (a marked or recorded
            file, or a folder with its manifest); False also refuses one that appeared while
            the output was written.
        replace_any: for the files of a run folder framepred rewrites as it goes
            (checkpoints, logs): replace what is there, unchecked and unrecorded.
    """
    target = Path(target)
    check_writable_target(target, overwrite=overwrite)
    remove_stale_partials(target)
    tmp = partial_path(target)
    if is_dir:
        tmp.mkdir()
    try:
        yield tmp
        _publish(tmp, target, overwrite, replace_any)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise
    if not (is_dir or replace_any):
        record_output(target)  # what later proves the file is framepred's (the mark is a label)


def partial_path(target: Path) -> Path:
    """A fresh temporary name beside `target` that records this process's id.

    The suffix is kept so writers that choose a format by extension still work.
    """
    return target.with_name(
        f".{target.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial{target.suffix}"
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale_partials(target: Path) -> list[Path]:
    """Delete partial outputs for `target` left by processes that no longer run.

    A partial whose process still runs (a concurrent write) is left alone. Returns what was
    removed.
    """
    pattern = re.compile(rf"\.{re.escape(target.stem)}\.(\d+)-[0-9a-f]{{8}}\.partial")
    removed = []
    parent = target.parent if str(target.parent) else Path(".")
    for path in parent.glob(f".{glob.escape(target.stem)}.*.partial*"):
        match = pattern.match(path.name)
        if match is None or int(match[1]) == os.getpid() or _alive(int(match[1])):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    if removed:
        log.info("removed %d partial output(s) left by an interrupted run", len(removed))
    return removed
