"""Outputs appear whole or not at all: write to a temporary path beside the target, then rename.

The temporary path lives in the target's own folder so the final `os.replace` is an atomic
rename on the same filesystem. On any error (or KeyboardInterrupt, SIGINT) the temporary
path is removed and the previous target, if any, is left as it was.

A process killed outright (SIGKILL, power loss) cannot clean up: its partial file stays,
hidden (`.<stem>.<pid>-<hex>.partial<suffix>`), beside the untouched target. The next write
to the same target removes such partials when the process that wrote them is gone.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from framepred.errors import VideoWriteError

log = logging.getLogger(__name__)


def check_writable_target(target: Path, *, overwrite: bool = True) -> None:
    """Fail early, with one clear line, if `target` cannot be written."""
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise VideoWriteError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK):
        raise VideoWriteError(f"output folder is not writable: {parent}")
    if target.exists() and not overwrite:
        raise VideoWriteError(f"output exists (use --overwrite to replace it): {target}")


@contextmanager
def atomic_path(target: Path | str, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to `target`; move it onto `target` only on success.

    Args:
        target: the final file or folder.
        is_dir: create the temporary path as a folder (for PNG-sequence outputs).
    """
    target = Path(target)
    check_writable_target(target)
    remove_stale_partials(target)
    tmp = partial_path(target)
    if is_dir:
        tmp.mkdir()
    try:
        yield tmp
        if target.is_dir() and is_dir:
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


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
