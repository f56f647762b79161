"""`framepred predict`."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from cli.options import (
    adapt_option,
    crf_option,
    device_option,
    fps_option,
    model_option,
    overwrite_option,
    precision_option,
)
from framepred.errors import InputShapeError
from framepred.predict.forecasters import FORECASTERS

VIDEO_ONLY = (
    "guard",
    "start",
    "context",
    "with_context",
    "compare",
    "compare_with",
    "method",
    "fps",
    "crf",
    "adapt",
)


def _check_start(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from framepred.predict.video import parse_start

    if value is not None:
        try:
            parse_start(value)
        except InputShapeError as err:
            raise click.BadParameter(str(err).removeprefix("--start ")) from None
    return value


@click.command("predict")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Output: .mp4, .mkv (lossless), .gif, a folder (PNG frames) or .npy.",
)
@click.option(
    "--horizon",
    type=click.IntRange(min=1),
    required=True,
    help="Frames to predict after the context.",
)
@click.option(
    "--context",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Frames before --start the prediction starts from (video input).",
)
@click.option(
    "--start",
    callback=_check_start,
    metavar="FRAME|TIME",
    help="First frame to predict: a frame number (120) or a time (4.8s, 0:04.8). "
    "Default: after the last frame.",
)
@click.option(
    "--method",
    type=click.Choice(FORECASTERS),
    default="model",
    show_default=True,
    help="model (--model; on video the shipped `forecast` model, on .npy `mmnist`), "
    "copy-last (repeat the last frame) or flow (DIS optical flow extrapolated at constant "
    "velocity).",
)
@model_option
@adapt_option(
    "Video input: first fine-tune the motion model for STEPS steps on the frames before "
    "--start (predict their last frames from the first ones); reports held-out PSNR."
)
@click.option(
    "--with-context", is_flag=True, help="Write the context frames before the prediction."
)
@click.option(
    "--compare",
    is_flag=True,
    help="Also write OUTPUT_compare (truth | prediction | error video) and OUTPUT_strip.png; "
    "needs a --start inside the video.",
)
@click.option(
    "--compare-with",
    type=click.Choice(FORECASTERS),
    multiple=True,
    help="Add this method's prediction as a row of the strip (repeat the option for more).",
)
@fps_option()
@crf_option
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Sequences per forward pass of the model.",
)
@click.option(
    "--guard/--no-guard",
    default=True,
    show_default=True,
    help="With the model: predict the context's last frames from its first ones with the model "
    "and with flow extrapolation, and predict with the better one (or a mix of the two).",
)
@device_option
@precision_option
@overwrite_option("OUTPUT (and the --compare files)")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.pass_context
def predict_command(
    ctx: click.Context,
    input_path: Path,
    output: Path,
    horizon: int,
    context: int,
    start: str | None,
    method: str,
    model: str | None,
    adapt: int,
    with_context: bool,
    compare: bool,
    compare_with: tuple[str, ...],
    fps: float | None,
    crf: int,
    batch_size: int,
    guard: bool,
    device: str,
    precision: str,
    overwrite: bool,
    no_progress: bool,
) -> None:
    """Predict HORIZON frames after the context in INPUT.

    INPUT is a video file, a folder of numbered images, or a .npy array. For a video the
    context is the --context frames before --start; the output holds the prediction (after
    the context with --with-context) at the source's frame rate, with the source's audio of
    the same span (mp4/mkv), padded with silence past its end.

    A .npy INPUT (T,H,W[,C]) or (N,T,H,W[,C]), uint8 or float in [0,1], gives a .npy
    output with only the predicted frames, shape (...,HORIZON,H,W[,C]), same dtype.
    """
    from framepred.predict.npy import predict_file
    from framepred.predict.video import predict_video

    if input_path.suffix.lower() == ".npy":
        given = [
            f"--{name.replace('_', '-')}"
            for name in VIDEO_ONLY
            if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
        ]
        if given:
            raise click.BadParameter(
                f"{', '.join(given)} apply to video input only", param_hint="INPUT"
            )
        # Pixel models on arrays: bf16 is not measured there, so fp32 unless asked for.
        asked = ctx.get_parameter_source("precision") == ParameterSource.COMMANDLINE
        result = predict_file(
            input_path,
            output,
            horizon=horizon,
            model=model,
            device=device,
            overwrite=overwrite,
            precision=precision if asked else "32",
        )
        click.echo(f"wrote {result.shape} {result.dtype} predictions to {output}", err=True)
        return
    if compare_with and not compare:
        raise click.BadParameter("needs --compare", param_hint="--compare-with")
    report = predict_video(
        input_path,
        output,
        horizon=horizon,
        context=context,
        start=start,
        method=method,
        model=model,
        with_context=with_context,
        compare=compare,
        compare_with=compare_with,
        device=device,
        batch_size=batch_size,
        crf=crf,
        fps=fps,
        overwrite=overwrite,
        progress=not no_progress,
        adapt=adapt,
        precision=precision,
        guard=guard,
    )
    if report.adapt:
        a = report.adapt
        click.echo(
            f"adapted {a['steps']} steps in {a['seconds']:.0f} s: held-out PSNR "
            f"{a['psnr_before']:.2f} -> {a['psnr_after']:.2f} dB"
            + (f" (kept step {a['kept_step']})" if a["kept_step"] else " (model unchanged)"),
            err=True,
        )
    scored = [p for p in report.psnr_per_step if p is not None]
    quality = f"; PSNR vs truth {sum(scored) / len(scored):.2f} dB" if scored else ""
    click.echo(
        f"wrote {output}: {report.n_written} frames ({report.method}), predicting from "
        f"frame {report.start_slot} ({report.start_time:.3f} s){quality}",
        err=True,
    )
    for path in report.compare:
        click.echo(f"wrote {path}", err=True)
