"""Where each command lives, and the line `framepred --help` shows for it.

The group lists commands from this table alone and imports a command's module only when
that command is asked for; each module imports the library (and with it torch or
Lightning) inside its command function. So `framepred --help` and `framepred CMD --help`
answer at once, and `framepred fill` does not pay for Lightning, which `train` needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import NamedTuple

import click


class CommandEntry(NamedTuple):
    target: str  # "module:attribute" of the click.Command
    short_help: str  # its line in the group's help


# In the order `framepred --help` lists them.
COMMANDS: dict[str, CommandEntry] = {
    "fill": CommandEntry("cli.fill:fill_command", "Synthesize the missing frames of a video."),
    "info": CommandEntry("cli.info:info_command", "Stream facts and the gaps fill would fill."),
    "predict": CommandEntry("cli.predict:predict_command", "Predict the frames after a context."),
    "train": CommandEntry("cli.train:train_command", "Train a model; prints its checkpoint."),
    "eval": CommandEntry("cli.eval:eval_command", "Score the model against classical methods."),
    "plot": CommandEntry("cli.plot:plot_command", "Plot the loss curves of a training run."),
}


def load(name: str) -> click.Command:
    """The command called `name`, importing its module now."""
    module, attr = COMMANDS[name].target.split(":")
    command = getattr(import_module(module), attr)
    assert isinstance(command, click.Command)
    return command
