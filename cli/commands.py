"""Where each command lives. Modules are imported only when their command runs, so
`framepred fill` does not pay for importing Lightning (which `train` needs)."""

from __future__ import annotations

from importlib import import_module

import click

# name -> "module:attribute", in the order `framepred --help` lists them.
COMMANDS: dict[str, str] = {
    "fill": "cli.fill:fill_command",
    "info": "cli.info:info_command",
    "predict": "cli.predict:predict_command",
    "train": "cli.train:train_command",
    "eval": "cli.eval:eval_command",
    "plot": "cli.plot:plot_command",
}


def load(name: str) -> click.Command:
    module, attr = COMMANDS[name].split(":")
    command = getattr(import_module(module), attr)
    assert isinstance(command, click.Command)
    return command
