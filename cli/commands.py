"""The list of commands the group registers; each lives in its own module."""

from __future__ import annotations

import click

from cli.eval import eval_command
from cli.fill import fill_command
from cli.info import info_command
from cli.plot import plot_command
from cli.predict import predict_command
from cli.train import train_command

ALL: list[click.Command] = [
    fill_command,
    info_command,
    train_command,
    predict_command,
    eval_command,
    plot_command,
]
