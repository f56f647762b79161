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
