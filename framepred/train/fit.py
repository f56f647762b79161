"""Training as a function: the CLI calls it, the tests call it.

`train()` builds the LightningModule and DataModule, runs `Trainer.fit` with checkpoints
(last + best by validation score) and a CSV log in the output folder, and returns the path of
the final checkpoint. Two tasks: `mmnist` trains the pixel encoder-forecaster on Moving MNIST
(or, with the `motion-forecast` preset, the forward-only motion model on the same digits);
anything else (video files, folders of videos or frames, `synthetic` motion from photos)
trains the motion model that fills gaps in natural video. The learning rate follows warm-up + cosine over the *budget*, which is
steps or wall-clock time, whichever runs out first, so a `--max-time` run anneals properly.
The same call scales out with Lightning's DDP (`devices=N, strategy="ddp"`), launched by
torchrun or SLURM.
"""

from __future__ import annotations

import csv
import logging
import time
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, Timer
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO

from framepred.errors import CheckpointError, FramepredError, TrainingError
from framepred.io.atomic import atomic_path
from framepred.train.config import (
    ACCEL,
    BACKTEST,
    FORECAST_HORIZON,
    MMNIST_HORIZON,
    MMNIST_SIDE,
    MOTION_LOSS,
    TrainConfig,
    fits_task,
    is_motion_config,
    peak_lr,
    task_of,
)
from framepred.train.pixel import FramePredictorModule
from framepred.train.run_folder import check_run_folders, take_run_folders

log = logging.getLogger(__name__)


class BudgetSchedule(Callback):
    """Set the learning rate and scheduled-sampling progress from the fraction of the budget
    (steps or time) used so far."""

    def __init__(self, max_steps: int, max_time: float | None) -> None:
        self.max_steps, self.max_time = max_steps, max_time

    def on_train_batch_start(
        self, trainer: L.Trainer, module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        fractions = [0.0]
        if self.max_steps and self.max_steps > 0:
            fractions.append(trainer.global_step / self.max_steps)
        if self.max_time:
            timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)  # type: ignore[attr-defined]
            if timer is not None:
                fractions.append((timer.time_elapsed("train") or 0.0) / self.max_time)
        progress = min(1.0, max(fractions))
        module.progress = progress  # type: ignore[assignment]
        lr = module.lr_at(progress)  # type: ignore[operator]
        for opt in trainer.optimizers:
            for group in opt.param_groups:
                group["lr"] = lr


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written whole or not at all (`atomic.atomic_path`): a write interrupted by
    Ctrl-C, SIGTERM or a full disk leaves the previous checkpoint and no partial file."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any,
                        storage_options: Any = None) -> None:  # fmt: skip
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, replace_any=True) as tmp:
            torch.save(checkpoint, tmp)


def _check_budget(cfg: TrainConfig) -> None:
    if cfg.max_steps <= 0 and not cfg.max_time and not cfg.fast_dev_run:
        raise FramepredError("give a training budget: --max-steps and/or --max-time")
    if not cfg.data:
        raise FramepredError("no training data given")
    task = task_of(cfg.data)
    if not fits_task(cfg.model, task):
        raise FramepredError(
            "--preset does not fit the data: use mmnist, tiny or motion-forecast with mmnist, "
            "a motion preset with clips or synthetic"
        )


def _check_resumable(last: Path, cfg: TrainConfig) -> None:
    """A clear error, before Lightning loads it, for a corrupt, unsafe or mismatched last.ckpt."""
    from framepred.models.checkpoints import config_from_dict, read_checkpoint

    saved = (read_checkpoint(last).get("hyper_parameters") or {}).get("model")
    try:
        same = config_from_dict(dict(saved or {})) == config_from_dict(dict(cfg.model))
    except (TypeError, ValueError):
        same = False
    if not same:
        raise CheckpointError(
            f"{last} was trained with another model config; resume it with the same --preset"
        )


def _set_aside(metrics: Path) -> Path | None:
    """Move a resumed run's metrics.csv aside (Lightning deletes it); a history left aside by
    a resume that was killed before it merged goes back in first, so no row is lost."""
    earlier = metrics.with_name("metrics.before-resume.csv")
    if earlier.is_file():
        _merge_metrics(earlier, metrics)
    if not metrics.is_file():
        return None
    metrics.replace(earlier)
    return earlier


def _merge_metrics(history: Path, metrics: Path) -> None:
    """Write the earlier rows, then the resumed run's, into one metrics.csv (union header)."""
    rows: list[dict[str, str]] = []
    for path in (history, metrics):
        if path.is_file():
            with open(path, newline="") as f:
                rows.extend(csv.DictReader(f))
    fields = sorted({k for row in rows for k in row}, key=lambda k: (k not in ("epoch", "step"), k))
    with atomic_path(metrics, replace_any=True) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    history.unlink()


def _task_parts(cfg: TrainConfig) -> tuple[L.LightningModule, L.LightningDataModule]:
    """Moving MNIST: the pixel encoder-forecaster and generated digit sequences."""
    from framepred.data.mmnist import MovingMNISTDataModule

    module = FramePredictorModule(
        model=cfg.model,
        loss=cfg.loss,
        lr=peak_lr(cfg),
        ssim_weight=cfg.ssim_weight,
        teacher_decay=cfg.teacher_decay,
    )
    data = MovingMNISTDataModule(
        batch_size=cfg.batch_size, num_workers=cfg.num_workers, val_length=cfg.val_size
    )
    return module, data


def _motion_parts(cfg: TrainConfig) -> tuple[L.LightningModule, L.LightningDataModule]:
    """Clips and synthetic motion: the motion model and gap batches cut from windows.
    Moving MNIST (forward-only model): forecast batches of 64 x 64 digit sequences."""
    from framepred.data.clips import make_dataset
    from framepred.data.forecast import ForecastDataModule
    from framepred.data.interp import GapBatches, GapDataModule
    from framepred.data.mmnist import MovingMNIST
    from framepred.predict.backtest import SPAN as BACKTEST_SPAN
    from framepred.train.motion import MotionFillModule, MotionForecastModule

    mmnist = task_of(cfg.data) == "mmnist"
    # --loss l1 is the Charbonnier (smooth L1) loss; bce (the mmnist default) means the
    # motion model's own default: Charbonnier on video, MSE (the scored metric) on mmnist.
    default_loss = "mse" if mmnist else MOTION_LOSS
    loss = {"mse": "mse", "l1": "charbonnier"}.get(cfg.loss, default_loss)
    forecast = cfg.model.get("head") == "motion-forecast"
    module_cls = MotionForecastModule if forecast else MotionFillModule
    module = module_cls(model=cfg.model, lr=peak_lr(cfg), loss=loss)
    scales = (1,) if mmnist else tuple(cfg.scales)
    working = MMNIST_SIDE if mmnist else cfg.working
    side = working * max(scales)
    context = module.config.context
    horizon = MMNIST_HORIZON if mmnist else FORECAST_HORIZON
    # The longest gap trained on plus context, or the context and the frames to predict.
    accel = not forecast and bool(cfg.model.get("accel", False))
    span = BACKTEST_SPAN if forecast and cfg.model.get("backtest") else 0
    window = (
        max(context, span) + horizon if forecast else GapBatches.window_length(3, context, accel)
    )
    if mmnist:
        train_set: Any = MovingMNIST("train", 10**9, channels=3)
        val_set: Any = MovingMNIST("val", cfg.val_size, seed=1, channels=3)
    else:
        try:
            kw = {"length": window, "size": (side, side), "cache_mb": cfg.clip_cache_mb}
            train_set = make_dataset(cfg.data, split="train", **kw)
            val_set = make_dataset(cfg.data, split="val", seed=cfg.seed + 1, **kw)
        except (OSError, ValueError) as err:
            raise FramepredError(f"cannot use the training data: {err}") from None
    extra: dict[str, Any] = {"horizon": horizon, "span": span} if forecast else {"accel": accel}
    data = (ForecastDataModule if forecast else GapDataModule)(
        train_set,
        val_set,
        batch_size=cfg.batch_size,
        num_workers=cfg.num_workers,
        val_batches=max(1, cfg.val_size // cfg.batch_size),
        working=working,
        scales=scales,
        context=context,
        **extra,
    )
    return module, data


def train(cfg: TrainConfig, extra_callbacks: list[Callback] | None = None) -> Path:
    """Train a model and return the path of its final checkpoint (`out/checkpoints/last.ckpt`).

    Args:
        cfg: the run's options.
        extra_callbacks: extra Lightning callbacks (for API users and tests).
    """
    _check_budget(cfg)
    if cfg.accel:  # before a resume compares configs
        cfg.model = {**cfg.model, **ACCEL}
    if cfg.backtest:
        cfg.model = {**cfg.model, **BACKTEST}
    task = task_of(cfg.data)
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise FramepredError(f"--out is not a folder: {out}")
    ckpt_dir = out / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    resume_from = None
    if cfg.resume:
        if not last.is_file():
            raise FramepredError(f"nothing to resume: {last} does not exist")
        _check_resumable(last, cfg)
        resume_from = str(last)
    elif last.exists():
        raise FramepredError(
            f"{out} already holds a run; pass --resume to continue it or choose another --out"
        )
    check_run_folders(out, resume=cfg.resume)  # Lightning would replace (CSVLogger: delete)

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    start = None
    if cfg.init and not cfg.resume:
        from framepred.models.checkpoints import load_model

        start, _ = load_model(cfg.init)
        cfg.model = start.config.to_dict()
        if not fits_task(cfg.model, task):
            kind = "motion (gap-filling)" if is_motion_config(cfg.model) else "pixel Moving MNIST"
            raise FramepredError(
                f"--init {cfg.init} is a {kind} model; it cannot train on this data"
            )
    if cfg.backtest:
        if cfg.model.get("head") != "motion-forecast":
            raise FramepredError("--backtest applies to forecast models (--preset motion-forecast)")
        cfg.model.update(BACKTEST)  # an --init model is switched over (same weights)
    if cfg.accel:
        if cfg.model.get("head") != "motion":
            raise FramepredError("--accel applies to fill models (the motion preset) only")
        if cfg.model.get("context", 2) != 2:
            raise FramepredError("--accel needs two context frames on each side of a gap")
        cfg.model.update(ACCEL)
        if start is not None:
            from framepred.models.interpolator import grow_to_accel

            start = grow_to_accel(start)  # type: ignore[arg-type]
    motion = is_motion_config(cfg.model)
    module, data = _motion_parts(cfg) if motion else _task_parts(cfg)
    if start is not None:
        module.net.load_state_dict(start.state_dict())  # type: ignore[union-attr]
    try:  # only now: a run refused above leaves no empty --out folder behind
        out.mkdir(parents=True, exist_ok=True)
        take_run_folders(out)  # logs/ and checkpoints/, each with this run's mark
    except OSError as err:
        raise FramepredError(f"cannot create output folder {out}: {err.strerror}") from None
    monitor, best_name = (
        ("val/loss", "best-step{step}-psnr{val/psnr:.2f}")
        if motion
        else ("val/mse", "best-step{step}-mse{val/mse:.1f}")
    )
    callbacks: list[Callback] = [
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename=best_name,
            monitor=monitor,
            mode="min",
            save_top_k=1,
            auto_insert_metric_name=False,
        ),
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="last",
            every_n_train_steps=cfg.ckpt_every,
            save_top_k=1,
            monitor="step",
            mode="max",
            auto_insert_metric_name=False,
        ),
        BudgetSchedule(cfg.max_steps, cfg.max_time),
        *(extra_callbacks or []),
    ]
    trainer = L.Trainer(
        default_root_dir=out,
        max_steps=cfg.max_steps,
        max_time=timedelta(seconds=cfg.max_time) if cfg.max_time else None,
        max_epochs=-1,
        precision=cfg.precision,  # type: ignore[arg-type]
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=cfg.strategy,
        num_nodes=cfg.num_nodes,
        logger=CSVLogger(out, name="", version="logs"),
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        val_check_interval=cfg.val_every,
        check_val_every_n_epoch=None,
        log_every_n_steps=min(10, cfg.val_every),
        enable_progress_bar=cfg.progress,
        enable_model_summary=cfg.progress,
        fast_dev_run=cfg.fast_dev_run,
        gradient_clip_val=1.0,
    )
    # Both folders were checked above (`check_run_folders`) and hold this run's mark: the
    # warnings that they are not empty (and that old logs "will be deleted") are not news.
    for message in (r"Experiment logs directory .* exists and is not empty",
                    r"Checkpoint directory .* exists and is not empty"):  # fmt: skip
        warnings.filterwarnings("ignore", message=message)
    started = time.perf_counter()
    # Lightning's CSV logger deletes an existing metrics.csv; keep the history of a resumed run.
    history = _set_aside(out / "logs" / "metrics.csv") if resume_from else None
    try:
        trainer.fit(module, datamodule=data, ckpt_path=resume_from, weights_only=True)
    except TrainingError:
        raise
    except SystemExit:  # Lightning exits on Ctrl-C (or SIGTERM, see cli.main)
        if trainer.interrupted:
            raise KeyboardInterrupt from None
        raise
    except torch.OutOfMemoryError:
        raise TrainingError("out of memory: lower --batch-size") from None
    finally:
        if history is not None and trainer.is_global_zero:
            _merge_metrics(history, out / "logs" / "metrics.csv")
    log.info("training took %.0f s, %d steps", time.perf_counter() - started, trainer.global_step)
    if cfg.fast_dev_run:
        return out
    # Always leave a final checkpoint at the exact stopping step.
    trainer.save_checkpoint(last, weights_only=False)  # full state: --resume needs it
    return last
