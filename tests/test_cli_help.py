"""`framepred --help` and `framepred CMD --help` answer at once: no torch, no Lightning.

Each help runs in a fresh interpreter (this one has torch loaded already), through
`cli.main` as the console script does, and reports which heavy modules it imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli.commands import COMMANDS, load
from cli.main import cli

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "lightning")

# Run the group on argv, then write the heavy modules it imported to stderr as JSON.
SHOW_HELP = f"""
import json, sys
from cli.main import cli
try:
    cli.main(args=sys.argv[1:], prog_name="framepred")
finally:
    print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)
"""


def _help(*args: str) -> tuple[str, list[str]]:
    """stdout of `framepred ARGS --help` in a fresh interpreter, and the heavy modules loaded."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", SHOW_HELP, *args, "--help"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, json.loads(proc.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("name", list(COMMANDS))
def test_command_help_loads_neither_torch_nor_lightning(name):
    text, loaded = _help(name)
    assert loaded == []
    assert text.startswith(f"Usage: framepred {name} [OPTIONS]")
    assert "--help" in text


def test_group_help_lists_every_command_without_loading_any():
    text, loaded = _help()
    assert loaded == []
    listed = text.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed] == list(COMMANDS)
    for line, entry in zip(listed, COMMANDS.values(), strict=True):
        assert line.split(maxsplit=1)[1] == entry.short_help


def test_every_listed_command_loads_under_its_name():
    for name in COMMANDS:
        command = load(name)
        assert isinstance(command, click.Command) and command.name == name


def test_an_unknown_command_is_a_usage_error():
    result = CliRunner().invoke(cli, ["fil", "x"])
    assert result.exit_code == 2
    assert "No such command 'fil'" in result.output


def test_train_offers_every_preset():
    from framepred.train.config import PRESETS

    preset = next(p for p in load("train").params if p.name == "preset")
    assert isinstance(preset.type, click.Choice)
    assert list(preset.type.choices) == sorted(PRESETS)
    assert "motion-large" in preset.type.choices
