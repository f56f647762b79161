"""`framepred eval`."""

from __future__ import annotations

import click

from cli.options import device_option, model_option
from framepred.evaluate import copy_last, evaluate_mmnist, zeros
from framepred.predict import load_predictor


@click.command("eval")
@click.argument("input_name", metavar="INPUT")
@model_option
@device_option
@click.option(
    "--sequences",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Test sequences to generate (Moving MNIST).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Sequences per batch.",
)
def eval_command(
    input_name: str, model: str | None, device: str, sequences: int, batch_size: int
) -> None:
    """Score a model on INPUT (`mmnist`: 10 -> 10 frames on test digits) next to baselines.

    Prints a table of MSE and MAE (per frame, summed over pixels in [0,1]), SSIM and PSNR.
    """
    if input_name != "mmnist":
        raise click.BadParameter(
            "only 'mmnist' can be evaluated in this version", param_hint="INPUT"
        )
    predictor = load_predictor(model or "mmnist", device=device, batch_size=batch_size)
    results = evaluate_mmnist(
        {"framepred": predictor, "copy-last": copy_last, "zeros": zeros},
        n_sequences=sequences,
        batch_size=batch_size,
    )
    click.echo("| method | MSE | MAE | SSIM | PSNR |")
    click.echo("|---|---:|---:|---:|---:|")
    for name, s in results.items():
        click.echo("| " + " | ".join([name, *s.row()]) + " |")
