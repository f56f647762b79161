"""framepred's mark on the files it writes, so `--overwrite` can tell them from a user's own.

Each format carries the mark inside the file where it can:

- .mp4 / .mkv: the container's `comment` tag, `framepred <version>`;
- .png (frames, plots, strips): a tEXt chunk `Software=framepred <version>` after IHDR;
- .gif: a comment extension `framepred <version>` before the trailer;
- .json (reports, summaries, folder manifests): `"tool": "framepred"` as the first key.

The mark is a label a person (or a tool) can read; it is not the proof. The proof is the
registry of written outputs: every file framepred publishes (.npy and .pt too, which cannot
carry a mark) gets one JSON line (real path, size, mtime_ns, inode, device) in
`cache_dir()/outputs.jsonl`, appended with one `write` in append mode. A file counts as
framepred's only while all of these are unchanged, so a file edited, replaced, or made by
another tool from a framepred output (FFmpeg copies the comment tag) does not.
"""

from __future__ import annotations

import json
import logging
import os
import re
import struct
import tempfile
import zlib
from pathlib import Path

from framepred import __version__
from framepred.cache import cache_dir

log = logging.getLogger(__name__)

TOOL = "framepred"
MARK = f"{TOOL} {__version__}"
VIDEO_TAG = "comment"  # mp4: ©cmt; mkv: COMMENT
REGISTRY = "outputs.jsonl"
REGISTRY_MAX = 1 << 20  # bytes; past this the next record drops entries that no longer match

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JSON_HEAD = re.compile(rb'\A\s*\{\s*"tool"\s*:\s*"framepred"')


# -- writing the mark --------------------------------------------------------------------------


def video_metadata() -> dict[str, str]:
    """Container tags that mark an .mp4/.mkv (PyAV `container.metadata`)."""
    return {VIDEO_TAG: MARK}


FFMPEG_MARK = ("-metadata", f"{VIDEO_TAG}={MARK}")  # the same tag from the ffmpeg command line


def mark_png(data: bytes) -> bytes:
    """PNG bytes with a `Software` tEXt chunk inserted right after IHDR."""
    if not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG stream")
    end = 8 + 12 + struct.unpack(">I", data[8:12])[0]  # signature, then IHDR's chunk
    body = b"tEXt" + b"Software\x00" + MARK.encode()
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    return data[:end] + chunk + data[end:]


def png_info() -> dict[str, str]:
    """matplotlib `savefig(metadata=...)` for a marked PNG."""
    return {"Software": MARK}


def mark_gif(path: Path) -> None:
    """Add a comment extension before the GIF trailer (FFmpeg's muxer writes none)."""
    text = MARK.encode()
    with open(path, "r+b") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) != b";":
            raise ValueError(f"{path} does not end with a GIF trailer")
        f.seek(-1, os.SEEK_END)
        f.write(b"\x21\xfe" + bytes([len(text)]) + text + b"\x00;")


def json_text(data: dict) -> str:
    """A report as JSON with `"tool": "framepred"` first (the mark a later run looks for)."""
    return json.dumps({"tool": TOOL, **{k: v for k, v in data.items() if k != "tool"}}, indent=2)


# -- reading it back --------------------------------------------------------------------------


def _png_marked(path: Path) -> bool:
    with open(path, "rb") as f:
        if f.read(8) != _PNG_SIGNATURE:
            return False
        for _ in range(64):  # chunks before the image data (ours comes right after IHDR)
            header = f.read(8)
            if len(header) < 8 or header[4:] == b"IDAT":
                return False
            size, kind = struct.unpack(">I", header[:4])[0], header[4:]
            if kind != b"tEXt" or size > 4096:
                f.seek(size + 4, os.SEEK_CUR)  # the chunk and its CRC
                continue
            key, _, value = f.read(size).partition(b"\x00")
            f.seek(4, os.SEEK_CUR)
            if key == b"Software" and value.startswith(TOOL.encode()):
                return True
    return False


def _gif_marked(path: Path) -> bool:
    with open(path, "rb") as f:
        if not f.read(6).startswith(b"GIF8"):
            return False
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 300))
        tail = f.read()
    found = re.search(rb"\x21\xfe(.)(framepred[^\x00]*)\x00;\Z", tail, re.DOTALL)
    return found is not None and found[1][0] == len(found[2])


def _video_marked(path: Path) -> bool:
    import av

    try:
        with av.open(str(path)) as container:
            tags = container.metadata
    except (av.FFmpegError, UnicodeDecodeError):
        return False
    return any(k.lower() == VIDEO_TAG and v.startswith(TOOL) for k, v in tags.items())


def _json_marked(path: Path) -> bool:
    with open(path, "rb") as f:
        return _JSON_HEAD.match(f.read(4096)) is not None


_READERS = {".mp4": _video_marked, ".mkv": _video_marked, ".gif": _gif_marked,
            ".png": _png_marked, ".json": _json_marked}  # fmt: skip


def has_mark(path: Path | str) -> bool:
    """True if the regular file at `path` carries framepred's mark (by its suffix's format)."""
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None or path.is_symlink() or not path.is_file():
        return False
    try:
        return reader(path)
    except (OSError, ValueError):
        return False


def is_framepred_file(path: Path | str) -> bool:
    """True for a regular file (not a symlink) framepred wrote: the registry lists it unchanged
    (size, mtime, inode), or it carries the mark at a path framepred published to before (its
    own output, damaged or touched since). The mark alone is no proof: FFmpeg copies a
    container's comment tag into what it makes from it, and a JSON file can be edited."""
    path = Path(path)
    return in_registry(path) or (has_mark(path) and published_here(path))


# -- the registry of outputs that cannot carry the mark ----------------------------------------


def _entry(path: Path) -> dict | None:
    if path.is_symlink():
        return None
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    return {"path": real, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino,
            "dev": st.st_dev}  # fmt: skip


def _entries(registry: Path) -> list[dict]:
    try:
        lines = registry.read_text(errors="replace").splitlines()
    except OSError:
        return []
    entries = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def in_registry(path: Path | str) -> bool:
    """True if the registry lists the file at `path` with its current size, mtime and inode."""
    entry = _entry(Path(path))
    if entry is None or not Path(entry["path"]).is_file():
        return False
    return entry in _entries(cache_dir() / REGISTRY)


def published_here(path: Path | str) -> bool:
    """True if framepred has published a file at `path`'s real path before (any version)."""
    entry = _entry(Path(path))
    if entry is None:
        return False
    return any(e.get("path") == entry["path"] for e in _entries(cache_dir() / REGISTRY))


def record_output(path: Path | str) -> None:
    """Add a written file to the registry; a cache that cannot be written only costs a warning
    (that file is then never replaced by a later --overwrite)."""
    entry = _entry(Path(path))
    if entry is None:
        return
    registry = cache_dir() / REGISTRY
    try:
        registry.parent.mkdir(parents=True, exist_ok=True)
        if registry.is_file() and registry.stat().st_size > REGISTRY_MAX:
            _compact(registry)
        fd = os.open(registry, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(entry) + "\n").encode())
        finally:
            os.close(fd)
    except OSError as err:
        log.warning("cannot record %s in %s (%s); --overwrite will not replace it",
                    path, registry, err.strerror or err)  # fmt: skip


def _compact(registry: Path) -> None:
    """Rewrite the registry with only the entries whose files are still unchanged."""
    keep = [e for e in _entries(registry)
            if isinstance(e.get("path"), str) and _entry(Path(e["path"])) == e]  # fmt: skip
    fd, name = tempfile.mkstemp(prefix=f".{registry.name}.", suffix=".tmp", dir=registry.parent)
    try:  # a fresh name: never over a file that happens to have a fixed one
        with os.fdopen(fd, "w") as f:
            f.write("".join(json.dumps(e) + "\n" for e in keep))
        os.replace(name, registry)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
