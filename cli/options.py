"""Options shared by several commands."""

from __future__ import annotations

import math
from typing import Any

import click

from framepred.precision import PRECISIONS


class FiniteFloat(click.FloatRange):
    """A float option that refuses nan and inf (bad usage, exit 2), optionally in a range.

    Every float option of every command uses it: a non-finite rate, time or learning rate
    would otherwise reach the library and hang or crash it."""

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


model_option = click.option(
    "--model",
    "model",
    default=None,
    metavar="PATH|NAME",
    help="Checkpoint path or built-in model name (see `framepred info --models`).",
)
device_option = click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto (CUDA when present), cpu, cuda or cuda:N.",
)
precision_option = click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default="auto",
    show_default=True,
    help="The network's arithmetic: auto (bf16 autocast where this machine runs bf16 faster "
    "than fp32, e.g. a CPU with AVX-512 BF16 or AMX or a CUDA GPU; fp32 elsewhere), bf16, or "
    "32 (fp32). On video, bf16 fills and predicts with the same PSNR as fp32 to two decimals "
    "(docs: measured) and synthesizes about 1.4x faster on such a CPU. A .npy input stays "
    "fp32 unless this is given.",
)


def fps_option(
    help: str = "Nominal frame rate (image folders default to 25; videos use their own).",
):
    return click.option("--fps", type=FiniteFloat(min=0, min_open=True), default=None, help=help)


crf_option = click.option(
    "--crf",
    type=click.IntRange(0, 51),
    default=18,
    show_default=True,
    help="H.264 quality for .mp4 output (lower is better).",
)


def ensemble_option(help: str):
    """`--ensemble N`: average over N mirrored and time-reversed views of each gap."""
    return click.option(
        "--ensemble",
        type=click.Choice(["1", "2", "4", "8"]),
        default="1",
        show_default=True,
        metavar="N",
        help="Average each synthesized frame over N views of its gap (1, 2, 4 or 8: as it "
        "is, played backwards, mirrored left-right, upside down), at about N times the "
        "synthesis time. " + help,
    )


def working_size_option(help: str):
    """`--working-size PIXELS`: the resolution the model and flow estimate motion at."""
    return click.option(
        "--working-size",
        type=click.IntRange(64, 4096),
        default=None,
        metavar="PIXELS",
        help="Longer side of the resolution motion is estimated at (the model's own: 320). "
        "Larger follows fine detail better at about its square in time; fast motion can fare "
        "worse. " + help,
    )


def adapt_option(help: str):
    """`--adapt STEPS`: per-video adaptation before filling or predicting."""
    return click.option(
        "--adapt",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        metavar="STEPS",
        help=help + " Keeps the weights that score best on held-out windows.",
    )


def overwrite_option(what: str):
    """`--overwrite`: replace an earlier output of framepred's, never a user's own file."""
    return click.option(
        "--overwrite",
        is_flag=True,
        help=f"Replace {what} if it exists and framepred wrote it (a file that carries its "
        "mark, or a PNG folder with its manifest); a file or folder of your own is never "
        "replaced.",
    )
