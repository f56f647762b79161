"""`framepred plot`."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import overwrite_option


@click.command("plot")
@click.argument("run_dir", metavar="DIR", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="PNG to write (default: DIR/loss.png).",
)
@overwrite_option("the PNG")
def plot_command(run_dir: Path, output: Path | None, overwrite: bool) -> None:
    """Plot the loss curves of a training run (DIR is a `framepred train --out` folder).

    Reads DIR/logs/metrics.csv: train/loss and val/loss against step (log scale), and
    val/psnr (or val/mse) in a second panel when logged.
    """
    from framepred.eval.plots import plot_training

    output = output or run_dir / "loss.png"
    plot_training(run_dir, output, overwrite=overwrite)
    click.echo(f"wrote {output}", err=True)
