"""`framepred fill`: synthesize the missing frames of a video."""

from __future__ import annotations

from pathlib import Path

import click

from cli.fill_batch import run_batch
from cli.options import (
    adapt_option,
    crf_option,
    device_option,
    ensemble_option,
    fps_option,
    model_option,
    overwrite_option,
    precision_option,
    working_size_option,
)
from framepred.batch.inputs import FORMATS
from framepred.gaps import DETECTORS
from framepred.synth.methods import METHODS


def _check_frames(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from framepred.gaps import SlotSpecError, parse_slot_spec

    if value is not None:
        try:
            parse_slot_spec(value)
        except SlotSpecError as err:
            raise click.BadParameter(str(err)) from None
    return value


@click.command("fill")
@click.argument(
    "inputs", metavar="INPUT...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Output: .mp4 (H.264), .mkv (FFV1, lossless), .gif, or a folder (PNG frames). "
    "In batch mode: the folder that receives every input's output (OUTDIR).",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(FORMATS),
    default=None,
    help="Batch mode: each output's kind, OUTDIR/NAME.mp4|.mkv|.gif or a PNG folder "
    "OUTDIR/NAME/ [default: mp4]. Giving it asks for batch mode.",
)
@click.option(
    "-r",
    "--recursive",
    is_flag=True,
    help="Batch mode: also fill the videos in subfolders (the tree is mirrored in OUTDIR).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Batch mode: files filled at once (the cores are split between them).",
)
@click.option(
    "--detect",
    type=click.Choice(DETECTORS),
    multiple=True,
    default=("timestamps",),
    show_default=True,
    help="What counts as missing (repeat the option to combine): timestamp gaps, "
    "duplicate/frozen frames, black frames.",
)
@click.option(
    "--frames",
    callback=_check_frames,
    metavar="SLOTS",
    help="Slots to treat as missing, e.g. 12-14,40 (0-based on the output's frame grid).",
)
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="model",
    show_default=True,
    help="model (the learned motion model; --model picks the checkpoint), or the "
    "classical flow (DIS optical flow), blend (cross-fade), repeat (nearest frame).",
)
@model_option
@adapt_option(
    "First fine-tune the model for STEPS steps on this video's own frames (hide known "
    "frames, learn to bring them back); reports held-out PSNR before and after."
)
@click.option(
    "--guard/--no-guard",
    default=True,
    show_default=True,
    help="With the model: in each shot, hide a few known frames, rebuild them with the model "
    "and with flow, and fill the shot with flow (or a mix of the two) where the model is worse "
    "(--report lists the choice per shot).",
)
@click.option(
    "--max-gap",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Gaps longer than this many slots are reported and handled by --on-long-gap.",
)
@click.option(
    "--on-long-gap",
    type=click.Choice(["fill", "hold"]),
    default="fill",
    show_default=True,
    help="fill: synthesize long gaps anyway; hold: repeat the nearest known frame.",
)
@fps_option(
    "Frame rate of the output grid (image folders default to 25; videos keep their own). A "
    "new rate converts a video: --fps 50 on 25 fps synthesizes every other frame; any other "
    "rate (24 -> 60, 30 -> 25) makes each output frame at its own time between the video's "
    "frames, keeping those that fall on one."
)
@crf_option
@click.option(
    "--preset",
    type=click.Choice(
        ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower"]
    ),
    default="medium",
    show_default=True,
    help="H.264 speed/size trade-off for .mp4 output.",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a JSON report: each synthesized slot, its time, why it was missing, method.",
)
@working_size_option("For --method model and flow.")
@ensemble_option("For --method model or flow.")
@device_option
@precision_option
@overwrite_option("OUTPUT and --report (batch mode: redo every file, even complete ones)")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def fill_command(
    inputs: tuple[Path, ...],
    output: Path,
    format_: str | None,
    recursive: bool,
    jobs: int,
    detect: tuple[str, ...],
    frames: str | None,
    method: str,
    model: str | None,
    adapt: int,
    guard: bool,
    max_gap: int,
    on_long_gap: str,
    fps: float | None,
    crf: int,
    preset: str,
    report: Path | None,
    device: str,
    ensemble: str,
    working_size: int | None,
    precision: str,
    overwrite: bool,
    no_progress: bool,
) -> None:
    """Fill the missing frames of INPUT and write a constant-frame-rate OUTPUT.

    INPUT is a video file or a folder of numbered images. The output keeps the source's
    nominal frame grid: kept frames pass through unchanged (bit-exact with .mkv or a PNG
    folder), missing slots are synthesized, audio is carried over (mp4/mkv).

    Batch mode, `fill IN... -o OUTDIR`, when there are several inputs, a folder of videos
    (a folder of numbered images stays one input), a glob pattern ('clips/*.mp4'),
    --recursive or --format: each input's output goes to OUTDIR under its own name, the
    model is loaded once, and OUTDIR/framepred-summary.json records every file. A bad file
    is reported and the rest go on (exit 1 if any failed); Ctrl-C or SIGTERM stops cleanly;
    running the same command again skips the files already done (--overwrite redoes them);
    with other settings, an output already there is kept and its file fails (--overwrite).
    Under torchrun or SLURM (srun) each process fills its share and rank 0 writes the
    summary.
    """
    from framepred.batch.inputs import is_batch
    from framepred.fill import fill_video

    if ensemble != "1" and method in ("repeat", "blend"):
        raise click.BadParameter(
            f"applies to --method model and flow only, not {method}", param_hint="--ensemble"
        )
    if working_size is not None and method in ("repeat", "blend"):
        raise click.BadParameter(
            f"applies to --method model and flow only, not {method}", param_hint="--working-size"
        )
    if is_batch(inputs, recursive=recursive, format=format_):
        if output.suffix.lower() in (".mp4", ".mkv", ".gif") and not output.is_dir():
            raise click.BadParameter(
                f"{len(inputs)} inputs (batch mode) need an output folder, not {output}",
                param_hint="-o",
            )
        if report is not None:
            raise click.BadParameter(
                "in batch mode each file's report is in OUTDIR/framepred-summary.json",
                param_hint="--report",
            )
        run_batch(inputs, output, format=format_ or "mp4", recursive=recursive, jobs=jobs,
                  overwrite=overwrite, method=method, model=model, device=device,
                  precision=precision, progress=not no_progress, detect=detect, frames=frames,
                  max_gap=max_gap, on_long_gap=on_long_gap, fps=fps, crf=crf, preset=preset,
                  adapt=adapt, ensemble=int(ensemble), guard=guard,
                  working_size=working_size)  # fmt: skip
        return
    input_path = inputs[0]
    result = fill_video(
        input_path,
        output,
        detect=detect,
        frames=frames,
        method=method,
        model=model,
        max_gap=max_gap,
        on_long_gap=on_long_gap,
        fps=fps,
        crf=crf,
        preset=preset,
        report=report,
        device=device,
        overwrite=overwrite,
        progress=not no_progress,
        adapt=adapt,
        precision=precision,
        ensemble=int(ensemble),
        guard=guard,
        working_size=working_size,
    )
    if result.adapt:
        a = result.adapt
        click.echo(
            f"adapted {a['steps']} steps in {a['seconds']:.0f} s: held-out PSNR "
            f"{a['psnr_before']:.2f} -> {a['psnr_after']:.2f} dB"
            + (f" (kept step {a['kept_step']})" if a["kept_step"] else " (model unchanged)"),
            err=True,
        )
    click.echo(
        f"wrote {output}: {result.n_slots} frames at {result.frame_rate} fps, "
        f"{result.n_filled} synthesized ({result.method}) in {len(result.gaps)} gaps",
        err=True,
    )
