"""Plots as PNG files: a training run's loss curves, and `evaluate`'s PSNR per frame/step.

Drawn with matplotlib's object API on the Agg canvas (no display, no global pyplot state);
written atomically like every other output.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

from framepred.errors import FramepredError
from framepred.io.atomic import atomic_path, check_output_target
from framepred.io.marks import png_info


class PlotError(FramepredError):
    """A plot's data is missing or unreadable."""


def _figure(n_panels: int, width: float = 6.0, height: float = 4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * n_panels, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, [fig.add_subplot(1, n_panels, i + 1) for i in range(n_panels)]


def _save(fig, path: Path, overwrite: bool) -> Path:
    with atomic_path(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format="png", metadata=png_info())
    return path


def metrics_path(run_dir: Path | str) -> Path:
    """The CSVLogger file of a `framepred train --out` folder (or the file itself)."""
    run_dir = Path(run_dir)
    return run_dir / "logs" / "metrics.csv" if run_dir.is_dir() else run_dir


def read_metrics(run_dir: Path | str) -> dict[str, list[tuple[int, float]]]:
    """The CSVLogger file of a `framepred train` run: column -> [(step, value), ...]."""
    path = metrics_path(run_dir)
    if not path.is_file():
        raise PlotError(
            f"no logs/metrics.csv in {run_dir} (is it a `framepred train --out` folder?)"
        )
    series: dict[str, list[tuple[int, float]]] = {}
    try:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                step = row.get("step")
                if not step:
                    continue
                for key, value in row.items():
                    if key in ("step", "epoch") or not value:
                        continue
                    try:
                        series.setdefault(key, []).append((int(float(step)), float(value)))
                    except ValueError:
                        continue
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise PlotError(f"cannot read {path}: {err}") from None
    if not series:
        raise PlotError(f"{path} holds no logged values yet")
    return series


def plot_training(run_dir: Path | str, output: Path | str, *, overwrite: bool = False) -> Path:
    """Loss curves (train/loss, val/loss; log scale) and validation quality against step.

    The second panel shows val/psnr if logged, else val/mse; it is left out when neither is.
    An existing `output` is replaced only with `overwrite`, and only if framepred wrote it.
    """
    series = read_metrics(run_dir)
    check_output_target(Path(output), [metrics_path(run_dir)], overwrite)
    losses: list[str] = [k for k in ("train/loss", "train/loss_step", "val/loss") if k in series]
    if not losses:
        losses = [k for k in series if k.endswith("loss")]
    if not losses:
        raise PlotError(f"no loss column in the metrics of {run_dir}")
    quality = next((k for k in ("val/psnr", "val/mse", "val/ssim") if k in series), None)
    fig, axes = _figure(2 if quality else 1)
    ax = axes[0]
    for key in losses:
        steps, values = zip(*series[key], strict=True)
        ax.plot(steps, values, marker="o" if key.startswith("val") else None,
                markersize=3, label=key)  # fmt: skip
    if all(v > 0 for key in losses for _, v in series[key]):
        ax.set_yscale("log")
    ax.set(xlabel="step", ylabel="loss", title=f"training: {Path(run_dir).name}")
    ax.grid(alpha=0.3)
    ax.legend()
    if quality:
        steps, values = zip(*series[quality], strict=True)
        axes[1].plot(steps, values, marker="o", markersize=3, color="tab:green")
        axes[1].set(xlabel="step", ylabel=quality, title=f"validation {quality.split('/')[1]}")
        axes[1].grid(alpha=0.3)
    return _save(fig, Path(output), overwrite)


def plot_eval(result, output: Path | str, *, overwrite: bool = False) -> Path:
    """PSNR per horizon step (futureN) or per hidden frame (xN, gapN) for each method.

    With a context sweep a second panel plots the model's PSNR against its context length,
    the classical methods as horizontal lines.
    """
    sweep = sorted({s.context for s in result.scores if s.context is not None})
    fig, axes = _figure(2 if len(sweep) > 1 else 1)
    ax = axes[0]
    future = result.pattern.startswith("future")
    for s in result.ranked():
        if future:
            xs: Sequence[float] = range(1, len(s.psnr_per_step) + 1)
            ys: Sequence[float] = s.psnr_per_step
        else:
            xs = sorted(s.psnr_per_frame)
            ys = [s.psnr_per_frame[x] for x in xs]
        ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.2 if future else 0.8,
                label=f"{s.label}: {s.psnr:.2f} dB")  # fmt: skip
    ax.set(xlabel="horizon step" if future else "frame (hidden)", ylabel="PSNR (dB)",
           title=f"{Path(result.input).name}: {result.pattern}")  # fmt: skip
    if future:
        ax.set_xticks(range(1, max(len(s.psnr_per_step) for s in result.scores) + 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if len(sweep) > 1:
        ax2 = axes[1]
        model = sorted((s for s in result.scores if s.context is not None),
                       key=lambda s: s.context)  # fmt: skip
        ax2.plot([s.context for s in model], [s.psnr for s in model], marker="o",
                 label="model")  # fmt: skip
        for s in result.scores:
            if s.context is None and math.isfinite(s.psnr):
                ax2.axhline(s.psnr, linestyle="--", linewidth=1, label=s.method,
                            color=f"C{1 + result.scores.index(s) % 9}")  # fmt: skip
        ax2.set_xscale("log", base=2)
        ax2.set_xticks(sweep, [str(k) for k in sweep])
        ax2.set(xlabel="context length (frames)", ylabel="mean PSNR (dB)",
                title="quality against context length")  # fmt: skip
        ax2.grid(alpha=0.3)
        ax2.legend(fontsize=8)
    return _save(fig, Path(output), overwrite)
