"""`framepred train`."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import FiniteFloat
from framepred.train.config import PRESETS


@click.command("train")
@click.argument("data", nargs=-1, required=True)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for checkpoints (last and best) and the CSV log.",
)
@click.option(
    "--preset",
    type=click.Choice(sorted(PRESETS)),
    default=None,
    help="Model preset [default: mmnist for mmnist, motion for clips/synthetic; "
    "motion-forecast trains the forward-only model for `predict`, on clips or on mmnist].",
)
@click.option(
    "--max-steps",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many optimizer steps.",
)
@click.option(
    "--max-time",
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="Stop after this many minutes of training; the learning rate anneals over it.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Sequences per step (per device).",
)
@click.option(
    "--lr",
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="Peak learning rate of AdamW [default: 2e-3 for the pixel models, 1e-3 for motion "
    "models].",
)
@click.option(
    "--loss",
    type=click.Choice(["bce", "mse", "l1"]),
    default="bce",
    show_default=True,
    help="Training loss of the pixel model; motion models use Charbonnier L1 (l1, the default "
    "on clips) or mse (the default on mmnist).",
)
@click.option(
    "--ssim-weight",
    type=FiniteFloat(min=0),
    default=0.0,
    show_default=True,
    help="Weight of an extra 1-SSIM loss term.",
)
@click.option(
    "--precision",
    type=click.Choice(["32-true", "32", "bf16-mixed", "16-mixed"]),
    default="32-true",
    show_default=True,
    help="Numeric precision (Lightning's names).",
)
@click.option("--accelerator", default="auto", show_default=True, help="cpu, gpu or auto.")
@click.option("--devices", default="auto", show_default=True, help="Number of devices (or 'auto').")
@click.option("--strategy", default="auto", show_default=True, help="auto, ddp, ddp_spawn, ...")
@click.option(
    "--num-nodes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Machines (with torchrun/SLURM).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Data-loading worker processes.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the run.")
@click.option(
    "--init",
    "init",
    default=None,
    metavar="PATH|NAME",
    help="Start from this model's weights and config (fine-tuning), e.g. the built-in mmnist.",
)
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option(
    "--val-every",
    type=click.IntRange(min=1),
    default=250,
    show_default=True,
    help="Validate every N steps.",
)
@click.option(
    "--ckpt-every",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Write last.ckpt every N steps, so --resume loses at most N steps after a crash.",
)
@click.option(
    "--working",
    type=click.IntRange(min=32),
    default=96,
    show_default=True,
    help="Motion models: side of the working-resolution training crops.",
)
@click.option(
    "--accel",
    is_flag=True,
    help="Fill models: also read the flows to the outer context frames and learn how much "
    "quadratic (accelerating) motion to trust, given where those frames lie; with --init, "
    "the model is grown (what it lacks of this is added) and starts exactly where it was.",
)
@click.option(
    "--backtest",
    is_flag=True,
    help="Forecast models: forward-project the base motion and let its velocity decay by a "
    "factor chosen per video by back-testing on a 10-frame context (windows are cut with 10 "
    "context frames); with --init, the model keeps its weights and is switched over.",
)
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def train_command(
    data: tuple[str, ...],
    out: Path,
    preset: str | None,
    max_steps: int | None,
    max_time: float | None,
    batch_size: int,
    lr: float | None,
    loss: str,
    ssim_weight: float,
    precision: str,
    accelerator: str,
    devices: str,
    strategy: str,
    num_nodes: int,
    workers: int,
    seed: int,
    init: str | None,
    resume: bool,
    val_every: int,
    ckpt_every: int,
    working: int,
    accel: bool,
    backtest: bool,
    no_progress: bool,
) -> None:
    """Train a model on DATA and print the final checkpoint's path as the last stdout line.

    DATA is `mmnist` (Moving MNIST generated on the fly: the pixel forecaster, or with
    `--preset motion-forecast` the forward-only motion model), or any mix of video files,
    folders of videos or numbered frames, and `synthetic` (motion generated from the shipped
    photos; `synthetic:DIR` uses your own): the motion model that fills gaps, or with
    `--preset motion-forecast` the one that predicts.
    """
    from framepred.train.config import TrainConfig, task_of
    from framepred.train.fit import train

    motion = task_of(list(data)) == "motion"
    preset = preset or ("motion" if motion else "mmnist")
    cfg = TrainConfig(
        data=list(data),
        out=out,
        model=dict(PRESETS[preset]),
        max_steps=max_steps or -1,
        max_time=max_time * 60 if max_time else None,
        batch_size=batch_size,
        lr=lr,
        loss=loss,
        ssim_weight=ssim_weight,
        precision="32-true" if precision == "32" else precision,
        accelerator=accelerator,
        devices=int(devices) if devices.isdigit() else devices,
        strategy=strategy,
        num_nodes=num_nodes,
        num_workers=workers,
        seed=seed,
        resume=resume,
        init=init,
        val_every=val_every,
        ckpt_every=ckpt_every,
        progress=not no_progress,
        working=working,
        accel=accel,
        backtest=backtest,
    )
    path = train(cfg)
    click.echo(str(path))
