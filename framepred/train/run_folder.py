"""A training run's `--out` folder: which of its files are framepred's, so a rerun or a resume
never replaces (Lightning's CSV logger: deletes) a file the user put there.

Each of `logs/` and `checkpoints/` carries its own mark, `.framepred-run.json`, written (and
recorded in the registry of outputs, `io.marks`) when a run takes the folder, that is when it
makes it or finds it empty. A folder holding anything but a recorded mark and the files a run
writes there (by name; hidden partials of an interrupted write too) is refused before any
work. A run folder from before these marks (no mark, only such names) is taken on `--resume`.
"""

from __future__ import annotations

import re
from pathlib import Path

from framepred.errors import FramepredError, VideoWriteError
from framepred.io.atomic import atomic_path
from framepred.io.marks import is_framepred_file, json_text

RUN_MARK = ".framepred-run.json"
FOLDERS = ("logs", "checkpoints")
# What Lightning and `fit` write into each: the CSV log, its hyperparameters and a resumed
# run's set-aside history; the last checkpoint and the best one (`fit.train` names them).
_OWN = {
    "logs": re.compile(r"metrics\.csv|metrics\.before-resume\.csv|hparams\.yaml"),
    "checkpoints": re.compile(r"last(-v\d+)?\.ckpt|best-step\d+-.*\.ckpt"),
}
_PARTIAL = re.compile(r"\.(.+)\.\d+-[0-9a-f]{8}\.partial(\.csv|\.ckpt)")  # `atomic.partial_path`


def _foreign(folder: Path, own: re.Pattern, marked: bool) -> Path | None:
    """The first entry of `folder` that no run writes there, or None."""
    for path in sorted(folder.iterdir()):
        if path.name == RUN_MARK and marked:
            continue
        partial = _PARTIAL.fullmatch(path.name)
        name = f"{partial[1]}{partial[2]}" if partial else path.name
        if path.is_symlink() or not path.is_file() or not own.fullmatch(name):
            return path
    return None


def check_run_folders(out: Path, *, resume: bool) -> None:
    """Refuse, before any work, an `--out` whose logs/ or checkpoints/ hold a file that no
    framepred run wrote: one the run would replace or delete, or one it would mix with."""
    for name in FOLDERS:
        folder = out / name
        if not (folder.exists() or folder.is_symlink()):
            continue
        if folder.is_symlink() or not folder.is_dir():
            raise VideoWriteError(f"{folder} is not a folder framepred made; choose another --out")
        marked = is_framepred_file(folder / RUN_MARK)
        if not marked and not resume and any(folder.iterdir()):
            raise VideoWriteError(f"{out} already holds {name}/, which a new run would replace; "
                                  f"choose another --out")  # fmt: skip
        foreign = _foreign(folder, _OWN[name], marked)
        if foreign is not None:
            raise VideoWriteError(f"{foreign} was not written by framepred; a run in {out} "
                                  f"would mix with it (choose another --out)")  # fmt: skip


def take_run_folders(out: Path) -> None:
    """Make logs/ and checkpoints/ (after `check_run_folders`) and mark them as this run's."""
    for name in FOLDERS:
        folder = out / name
        folder.mkdir(exist_ok=True)
        mark = folder / RUN_MARK
        if is_framepred_file(mark):
            continue
        try:
            with atomic_path(mark, overwrite=False) as tmp:
                tmp.write_text(json_text({"run": str(out), "folder": name}))
        except VideoWriteError:
            if not is_framepred_file(mark):  # another rank of this run may have written it
                raise FramepredError(f"cannot mark {folder} as this run's: {mark} exists") from None
