"""The `framepred` command group and the error policy shared by every command.

Exit codes: 0 success, 1 a clear error (one line; `--debug` shows the traceback),
2 bad usage (Click's own convention). SIGTERM (`kill`, `timeout`, `docker stop`, systemd) is
handled like Ctrl-C (SIGINT): partial outputs are removed and the command exits 1 with
"Error: interrupted".
"""

from __future__ import annotations

import logging
import signal
import sys

import click

from cli.commands import COMMANDS, load
from framepred.errors import FramepredError


class FramepredGroup(click.Group):
    """A group that loads its commands lazily (its help lists them from `COMMANDS` without
    importing any) and turns library errors into one clean line and exit code 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load(cmd_name) if cmd_name in COMMANDS else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, entry.short_help) for name, entry in COMMANDS.items()])

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        debug = ctx.params.get("debug", False) or "--debug" in sys.argv
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            raise click.ClickException("interrupted") from None
        except FramepredError as err:
            if debug:
                raise
            raise click.ClickException(str(err)) from None
        except MemoryError:
            if debug:
                raise
            raise click.ClickException("out of memory") from None
        except OSError as err:
            if debug:
                raise
            raise click.ClickException(
                f"{err.strerror or err}: {err.filename or ''}".strip(": ")
            ) from None


@click.group(cls=FramepredGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logging.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.version_option(package_name="framepred")
def cli(debug: bool, quiet: bool) -> None:
    """framepred: learn how a video moves and synthesize the frames that are not there."""
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s", stream=sys.stderr)
    for noisy in ("lightning", "lightning.pytorch", "lightning.fabric", "torch"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM: the same cleanup and exit as Ctrl-C


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _terminated)
    cli(prog_name="framepred")


if __name__ == "__main__":
    main()
