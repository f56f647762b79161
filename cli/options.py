"""Options shared by several commands."""

from __future__ import annotations

import click

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
    type=click.Choice(["32", "bf16", "auto"]),
    default="32",
    show_default=True,
    help="The network's arithmetic: fp32, bf16 autocast (about 1.5-2x faster on CPUs with "
    "AVX-512 BF16 or AMX and on recent GPUs, within ~0.05 dB), or auto (bf16 where this "
    "machine runs it natively).",
)
fps_option = click.option(
    "--fps",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Nominal frame rate (image folders default to 25; videos use their own).",
)
crf_option = click.option(
    "--crf",
    type=click.IntRange(0, 51),
    default=18,
    show_default=True,
    help="H.264 quality for .mp4 output (lower is better).",
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
