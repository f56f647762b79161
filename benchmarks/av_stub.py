"""A placeholder `av` module where PyAV is not installed (imported for that side effect).

The GPU check imports framepred.fill, whose video modules import PyAV at the top; the check
never decodes or encodes, so on a machine without PyAV this placeholder stands in: any use
raises RuntimeError("PyAV is not installed").
"""

from __future__ import annotations

import importlib.util
import sys
import types


def _stub_av() -> None:
    """framepred.fill imports the video modules, which import PyAV at the top. This check
    never decodes or encodes, so where PyAV is missing a placeholder module stands in."""
    if importlib.util.find_spec("av") is not None:
        return

    class _Missing:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("PyAV is not installed")

    def missing(attr: str) -> type:
        # Dunder lookups must fail as on a real module: `inspect` (run by torchvision's
        # import) reads `__file__` of every module and breaks on anything else.
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Missing

    for name in ("av", "av.container"):
        mod = types.ModuleType(name)
        mod.__getattr__ = missing  # type: ignore[method-assign]
        sys.modules[name] = mod


_stub_av()
