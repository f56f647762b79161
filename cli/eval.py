"""`framepred eval`."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import (
    device_option,
    ensemble_option,
    model_option,
    overwrite_option,
    working_size_option,
)
from framepred.errors import InputShapeError


def _check_pattern(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from framepred.eval.video import parse_pattern

    try:
        parse_pattern(value)
    except InputShapeError as err:
        raise click.BadParameter(str(err)) from None
    return value


def _contexts(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        ks = [int(k) for k in value.split(",") if k.strip()]
    except ValueError:
        ks = []
    if not ks or min(ks) < 1:
        raise click.BadParameter(f"give frame counts >= 1, e.g. 10 or 2,4,8,16; got {value!r}")
    return ks


@click.command("eval")
@click.argument("input_name", metavar="INPUT")
@click.option(
    "--pattern",
    default="future5",
    show_default=True,
    callback=_check_pattern,
    help="Frames to hide: xN (keep 1 in N), gapN (keep 2, hide N), futureN (predict N after "
    "the context). Video input.",
)
@click.option(
    "--methods",
    default=None,
    metavar="LIST",
    help="Comma-separated methods to score (fill patterns: model,flow,blend,repeat; future: "
    "model,copy-last,flow). Default: all (model only with --model or a shipped default).",
)
@model_option
@click.option(
    "--context",
    callback=_contexts,
    metavar="K[,K...]",
    help="Frames the model sees (per side when filling); a list such as 2,4,8,16 sweeps it. "
    "Default 10. With mmnist: context frames before the 10 scored ones.",
)
@click.option(
    "--stride",
    type=click.IntRange(min=1),
    default=None,
    help="futureN: frames between window starts (default N).",
)
@click.option(
    "--max-frames",
    type=click.IntRange(min=2),
    default=300,
    show_default=True,
    help="Evaluate the first N frames of a video only (bounds memory).",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a PNG of PSNR per horizon step / per frame for each method.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every score (per frame and step too) as JSON.",
)
@overwrite_option("the --plot and --json files")
@ensemble_option("Fill patterns: adds a row model+ensN for the motion model.")
@working_size_option("Fill patterns: adds a row model+wsN, the motion model at this size.")
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
    default=None,
    help="Sequences per batch (default 64 for mmnist, 8 windows for a video).",
)
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def eval_command(
    input_name: str,
    pattern: str,
    methods: str | None,
    model: str | None,
    context: list[int] | None,
    stride: int | None,
    max_frames: int,
    plot: Path | None,
    json_path: Path | None,
    overwrite: bool,
    ensemble: str,
    working_size: int | None,
    device: str,
    sequences: int,
    batch_size: int | None,
    no_progress: bool,
) -> None:
    """Score the model next to classical methods on INPUT and print a table.

    INPUT is a video file or image folder: frames are hidden by --pattern, synthesized by
    each method and scored (PSNR and SSIM on 8-bit RGB, frames/s of the synthesis).

    INPUT `mmnist` runs the Moving MNIST protocol (10 -> 10 frames on test digits) and prints
    MSE and MAE (per frame, summed over pixels in [0,1]), SSIM and PSNR.
    """
    from framepred.eval.video import evaluate
    from framepred.io.atomic import check_output_target

    if input_name == "mmnist":
        _eval_mmnist(model, device, sequences, batch_size or 64, context)
        return
    path = Path(input_name)
    if not path.exists():
        raise click.BadParameter(
            f"{input_name!r} is neither a video nor an image folder (only 'mmnist' is built in)",
            param_hint="INPUT",
        )
    for target in (plot, json_path):
        if target is not None:  # before any work: never onto the input or a user's file
            check_output_target(target, [path], overwrite)
    result = evaluate(
        path,
        pattern,
        methods=None if methods is None else [m.strip() for m in methods.split(",") if m.strip()],
        model=model,
        context=context or 10,
        stride=stride,
        max_frames=max_frames,
        device=device,
        batch_size=batch_size or 8,
        progress=not no_progress,
        ensemble=int(ensemble),
        working_size=working_size,
    )
    click.echo(
        f"{path.name}: {result.pattern}, {result.n_slots} frames at {result.frame_rate} fps, "
        f"{result.n_windows} {'windows' if pattern.startswith('future') else 'gaps'} scored",
        err=True,
    )
    click.echo(result.table())
    if plot is not None:
        from framepred.eval.plots import plot_eval

        plot_eval(result, plot, overwrite=overwrite)
        click.echo(f"wrote {plot}", err=True)
    if json_path is not None:
        from framepred.io.atomic import atomic_path

        with atomic_path(json_path, overwrite=overwrite) as tmp:
            tmp.write_text(result.to_json())
        click.echo(f"wrote {json_path}", err=True)


def _eval_mmnist(
    model: str | None, device: str, sequences: int, batch_size: int, contexts: list[int] | None
) -> None:
    from framepred.eval.mmnist import Predictor, copy_last, evaluate_mmnist, zeros
    from framepred.predict.predictor import FramePredictor, load_predictor

    predictor = load_predictor(model or "mmnist", device=device, batch_size=batch_size)
    predictors: dict[str, Predictor | FramePredictor] = {
        "framepred": predictor,
        "copy-last": copy_last,
        "zeros": zeros,
    }
    if contexts is None:  # the standard protocol: 10 -> 10
        results = evaluate_mmnist(predictors, n_sequences=sequences, batch_size=batch_size)
        click.echo("| method | MSE | MAE | SSIM | PSNR |")
        click.echo("|---|---:|---:|---:|---:|")
        for name, s in results.items():
            click.echo("| " + " | ".join([name, *s.row()]) + " |")
        return
    # A context sweep: the same 10 future frames after K = 2, 4, ... context frames.
    click.echo("| method | context | MSE | MAE | SSIM | PSNR |")
    click.echo("|---|---:|---:|---:|---:|---:|")
    for k in sorted(set(contexts)):
        results = evaluate_mmnist(
            predictors, n_sequences=sequences, context=k, batch_size=batch_size
        )
        for name, s in results.items():
            click.echo("| " + " | ".join([name, str(k), *s.row()]) + " |")
