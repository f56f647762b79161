"""Outputs appear whole or not at all: write to a temporary path beside the target, then rename.

The temporary path lives in the target's own folder so the final `os.replace` is an atomic
rename on the same filesystem. On any error (or KeyboardInterrupt) the temporary path is
removed and the previous target, if any, is left as it was.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from framepred.errors import VideoWriteError


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
    # Keep the suffix so writers that choose a format by extension still work.
    tmp = target.with_name(f".{target.stem}.{uuid.uuid4().hex[:8]}.partial{target.suffix}")
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
