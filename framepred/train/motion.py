"""The LightningModules that train the motion models: `MotionInterpolator` to fill gaps,
`MotionForecaster` to predict.

Batches come from `framepred.data.interp.GapBatches`: windows with a hidden gap, frames at
full and working resolution, and DIS flows. The loss is the Charbonnier (smooth L1) error of
the rendered full-resolution frames; validation also renders the classical `flow` result
(the model with its corrections switched off), logged as `val/loss_flow` and
`val/psnr_flow`, so `val/gain` says how many dB the learned part adds on the same frames.

A training batch may also carry target flows for one of its slots (`FLOW_TARGETS`: a
teacher's motion, e.g. `scripts.distill_rife`); their weighted distance to the slot's flows
is added to the loss and logged as `train/flow_target`.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor

from framepred.errors import TrainingError
from framepred.eval.metrics import psnr_8bit
from framepred.models.forecaster import MotionForecastConfig, MotionForecaster, Step
from framepred.models.interpolator import Accel, MotionConfig, MotionInterpolator, Slot, speed_up
from framepred.models.warp import slot_flows
from framepred.predict.backtest import batch_damping
from framepred.train.pixel import warmup_cosine


def charbonnier(x: Tensor, eps: float = 1e-3) -> Tensor:
    return torch.sqrt(x * x + eps * eps).mean()


# Batch keys of flow targets: flows t->A, t->B (B, 4, h, w) at working resolution, their
# per-pixel weights (B, 2, h, w; the loss weight folded in) and which slot they are for.
FLOW_TARGETS = ("target_flows", "target_weights", "target_slot")


def flow_target_loss(slot: Slot, target: Tensor, weight: Tensor) -> Tensor:
    """Weighted Charbonnier end-point error of a slot's flows t->A, t->B to `target`."""
    parts = []
    for i, flow in enumerate((slot.ft0, slot.ft1)):
        err = (flow - target[:, 2 * i : 2 * i + 2]).pow(2).sum(1, keepdim=True)
        parts.append((weight[:, i : i + 1] * torch.sqrt(err + 1e-6)).mean())
    return parts[0] + parts[1]


def motion_loss(err: Tensor, kind: str) -> Tensor:
    if kind == "mse":
        return err.pow(2).mean()
    if kind == "charbonnier":
        return charbonnier(err)
    raise ValueError(f"unknown motion loss {kind!r}")


class MotionFillModule(L.LightningModule):
    """Train a `MotionInterpolator`.

    Args:
        model: a `MotionConfig` as a dict.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW's decoupled weight decay.
        warmup: fraction of the budget spent warming the learning rate up.
        loss: "charbonnier" (smooth L1) or "mse" (what PSNR measures).
    """

    def __init__(
        self,
        model: dict | None = None,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        warmup: float = 0.03,
        loss: str = "charbonnier",
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        # The faster layout: ~1.15x faster training steps on the CPU here
        # (benchmarks/motion_train_speed.py), same results (tests/test_fast_paths.py).
        self.net = speed_up(self.build_net(model or {}))
        self.progress = 0.0  # fraction of the training budget used, set by BudgetSchedule

    @staticmethod
    def build_net(model: dict) -> MotionInterpolator:
        return MotionInterpolator(MotionConfig.from_dict(model))

    @property
    def config(self) -> MotionConfig:
        return self.net.config

    def lr_at(self, progress: float) -> float:
        return warmup_cosine(progress, self.hparams["lr"], self.hparams["warmup"])

    def _unpack(self, batch: dict[str, Any]):
        k, n = self.net.config.context, int(batch["n"])
        full = batch["full"].float().div_(255.0)  # (B, T, 3, H, W)
        small = batch["small"].float().div_(255.0)  # (B, T, 3, h, w)
        if full.shape[1] != n + 2 * k:
            raise TrainingError(f"batch windows have {full.shape[1]} frames, need {n + 2 * k}")
        times = [(i + 1) / (n + 1) for i in range(n)]
        return k, n, full, small, times

    def _shared_step(self, batch: dict[str, Any], stage: str) -> Tensor:
        k, n, full, small, times = self._unpack(batch)
        f01, f10 = batch["f01"].float(), batch["f10"].float()
        slots = self.net(small[:, :k], small[:, k + n :], f01, f10, times, batch_accel(batch))
        a, b = full[:, k - 1], full[:, k + n]
        preds = [self.net.render(a, b, s, clamp=stage != "train") for s in slots]
        pred = torch.stack(preds, 1)  # (B, n, 3, H, W)
        truth = full[:, k : k + n]
        loss = motion_loss(pred - truth, self.hparams.get("loss", "charbonnier"))
        if stage == "train" and FLOW_TARGETS[0] in batch:
            target, weight, i = (batch[key] for key in FLOW_TARGETS)
            extra = flow_target_loss(slots[int(i)], target.float(), weight.float())
            self.log("train/flow_target", extra, on_step=True, batch_size=full.shape[0])
            loss = loss + extra
        if not torch.isfinite(loss):
            raise TrainingError(
                f"non-finite {stage} loss ({loss.item()}) at step {self.global_step}; "
                "lower the learning rate or check the data"
            )
        on_step, bs = stage == "train", full.shape[0]
        self.log(
            f"{stage}/loss",
            loss,
            prog_bar=True,
            on_step=on_step,
            on_epoch=not on_step,
            batch_size=bs,
        )
        if stage != "train":
            base = [
                self.net.render(a, b, self._classical(s, f01, f10, t))
                for s, t in zip(slots, times, strict=True)
            ]
            flow = torch.stack(base, 1)
            psnr = psnr_8bit(pred.flatten(0, 1), truth.flatten(0, 1))
            psnr_flow = psnr_8bit(flow.flatten(0, 1), truth.flatten(0, 1))
            loss_flow = motion_loss(flow - truth, self.hparams.get("loss", "charbonnier"))
            self.log(f"{stage}/loss_flow", loss_flow, batch_size=bs)
            self.log(f"{stage}/psnr", psnr, prog_bar=True, batch_size=bs)
            self.log(f"{stage}/psnr_flow", psnr_flow, batch_size=bs)
            self.log(f"{stage}/gain", psnr - psnr_flow, prog_bar=True, batch_size=bs)
        return loss

    @staticmethod
    def _classical(slot: Slot, f01: Tensor, f10: Tensor, t: float) -> Slot:
        """The slot with the learned corrections removed: the classical flow method."""
        ft0, ft1 = slot_flows(f01, f10, t)
        zero = torch.zeros_like(slot.logit)
        return Slot(ft0, ft1, zero, torch.zeros_like(slot.residual), slot.base_alpha)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._shared_step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._shared_step(batch, "test")

    def configure_optimizers(self) -> Any:
        return torch.optim.AdamW(
            self.parameters(), lr=self.hparams["lr"], weight_decay=self.hparams["weight_decay"]
        )


class MotionForecastModule(MotionFillModule):
    """Train a `MotionForecaster` (forward-only prediction) on forecast batches.

    Validation also renders the model's base motion (constant-velocity, or decaying, backward-warp
    extrapolation: the model with its corrections switched off) as `val/psnr_flow`, so
    `val/gain` is what the learned part adds.
    """

    @staticmethod
    def build_net(model: dict) -> MotionForecaster:  # type: ignore[override]
        return MotionForecaster(MotionForecastConfig.from_dict(model))

    def _shared_step(self, batch: dict[str, Any], stage: str) -> Tensor:
        net: MotionForecaster = self.net  # type: ignore[assignment]
        k, n = net.config.context, int(batch["n"])
        full = batch["full"].float().div_(255.0)  # (B, K + n, 3, H, W)
        small = batch["small"].float().div_(255.0)  # (B, K, 3, h, w)
        if full.shape[1] != k + n or small.shape[1] != k:
            raise TrainingError(f"batch windows have {full.shape[1]} frames, need {k + n}")
        back = batch["back"].float()
        damping = batch_damping(net, batch, back.device)
        steps = net(small, back, n, damping)
        last = full[:, k - 1]
        pred = torch.stack([net.render(last, s, clamp=stage != "train") for s in steps], 1)
        truth = full[:, k:]
        kind = self.hparams.get("loss", "charbonnier")
        loss = motion_loss(pred - truth, kind)
        if not torch.isfinite(loss):
            raise TrainingError(
                f"non-finite {stage} loss ({loss.item()}) at step {self.global_step}; "
                "lower the learning rate or check the data"
            )
        on_step, bs = stage == "train", full.shape[0]
        self.log(f"{stage}/loss", loss, prog_bar=True, on_step=on_step, on_epoch=not on_step,
                 batch_size=bs)  # fmt: skip
        if stage != "train":
            base = torch.stack(
                [net.render(last, Step(f, torch.zeros_like(s.residual)))
                 for f, s in zip(net.base_flows(back, n, damping), steps, strict=True)], 1
            )  # fmt: skip
            psnr = psnr_8bit(pred.flatten(0, 1), truth.flatten(0, 1))
            psnr_flow = psnr_8bit(base.flatten(0, 1), truth.flatten(0, 1))
            self.log(f"{stage}/loss_flow", motion_loss(base - truth, kind), batch_size=bs)
            self.log(f"{stage}/psnr", psnr, prog_bar=True, batch_size=bs)
            self.log(f"{stage}/psnr_flow", psnr_flow, batch_size=bs)
            self.log(f"{stage}/gain", psnr - psnr_flow, prog_bar=True, batch_size=bs)
        return loss


def batch_accel(batch: dict[str, Any]) -> Accel | None:
    """The quadratic-motion inputs of a gap batch cut with `accel` (else None)."""
    if "fap" not in batch:
        return None
    return Accel(*(batch[key].float() for key in ("fap", "fpa", "fbn", "fnb", "sp", "sn")))
