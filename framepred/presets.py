"""The model presets `framepred train --preset` offers: plain model-config fields.

Kept apart from the training code, with nothing but the standard library imported, so the
command line can list the preset names in its help without loading torch or Lightning.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    # The Moving MNIST model: recurrent part at 16x16 (patch 4) and 8x8.
    "mmnist": {
        "in_chs": 1,
        "patch_size": 4,
        "stem_chs": 32,
        "stage_chs": [48, 64],
        "kernel_size": 3,
    },
    # A tiny model for tests and smoke runs.
    "tiny": {"in_chs": 1, "patch_size": 4, "stem_chs": 8, "stage_chs": [8, 8], "kernel_size": 3},
    # The motion model for natural video (the shipped `default`).
    "motion": {"head": "motion", "chs": [16, 32, 48, 64]},
    # Ablation: the same model seeing only the two frames around the gap (no P, N context).
    "motion-ctx1": {"head": "motion", "chs": [16, 32, 48, 64], "context": 1},
    # A tiny motion model for tests and smoke runs.
    "motion-tiny": {"head": "motion", "chs": [4, 8, 8, 8]},
    # The forward-only motion model for prediction (the shipped `forecast`).
    "motion-forecast": {"head": "motion-forecast", "chs": [16, 32, 48, 64]},
    "motion-forecast-tiny": {"head": "motion-forecast", "chs": [4, 8, 8, 8]},
}
