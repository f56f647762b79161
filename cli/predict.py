"""`framepred predict`."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import device_option, model_option
from framepred.predict_io import predict_file


@click.command("predict")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="Output file (.npy)."
)
@click.option(
    "--horizon",
    type=click.IntRange(min=1),
    required=True,
    help="Frames to predict after the context.",
)
@model_option
@device_option
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
def predict_command(
    input_path: Path, output: Path, horizon: int, model: str | None, device: str, overwrite: bool
) -> None:
    """Predict HORIZON frames after the frames in INPUT.

    INPUT may be a .npy array (T,H,W[,C]) or (N,T,H,W[,C]), uint8 or float in [0,1]; the
    output .npy then holds only the predicted frames, shape (...,N,H,W[,C]), same dtype.
    """
    result = predict_file(
        input_path, output, horizon=horizon, model=model, device=device, overwrite=overwrite
    )
    click.echo(f"wrote {result.shape} {result.dtype} predictions to {output}", err=True)
