"""The LightningModule that trains an `EncoderForecaster`.

It builds its network from plain hyper-parameters (`save_hyperparameters`), so
`FramePredictorModule.load_from_checkpoint(path)` rebuilds everything from the file.
One shared step serves train/val/test; metrics are logged as `train/loss`, `val/mse`, ...
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from framepred.errors import TrainingError
from framepred.eval import metrics
from framepred.models import EncoderForecaster, ModelConfig

LOSSES = ("bce", "mse", "l1")


class FramePredictorModule(L.LightningModule):
    """Train a frame predictor: `context` frames in, `horizon` frames out.

    Args:
        model: a `ModelConfig` as a dict (plain values, so checkpoints stay pure data).
        context: context frames per training sequence.
        horizon: frames to predict.
        loss: "bce" (Shi et al.'s choice for Moving MNIST), "mse" or "l1".
        ssim_weight: weight of an extra (1 - SSIM) term; 0 disables it.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW's decoupled weight decay.
        warmup: fraction of the budget spent warming the learning rate up.
        teacher_start: scheduled sampling: chance of feeding the true frame at the start of
            training, decayed linearly to 0 over `teacher_decay` of the budget.
        teacher_decay: fraction of the budget over which teacher forcing fades out.
    """

    def __init__(
        self,
        model: dict | None = None,
        context: int = 10,
        horizon: int = 10,
        loss: str = "bce",
        ssim_weight: float = 0.0,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        warmup: float = 0.03,
        teacher_start: float = 1.0,
        teacher_decay: float = 0.5,
    ) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        self.save_hyperparameters()
        self.net = EncoderForecaster(ModelConfig.from_dict(model or {}))
        self.progress = 0.0  # fraction of the training budget used, set by BudgetSchedule

    @property
    def config(self) -> ModelConfig:
        return self.net.config

    def forward(self, context: Tensor, n_future: int) -> Tensor:
        return self.net.rollout(context, n_future)

    # -- the shared step ---------------------------------------------------------------------
    def _loss(self, logits: Tensor, target: Tensor) -> Tensor:
        kind = self.hparams["loss"]
        if kind == "bce":
            loss = F.binary_cross_entropy_with_logits(logits, target)
        elif kind == "mse":
            loss = F.mse_loss(torch.sigmoid(logits), target)
        else:
            loss = F.l1_loss(torch.sigmoid(logits), target)
        if self.hparams["ssim_weight"] > 0:
            loss = loss + self.hparams["ssim_weight"] * metrics.ssim_loss(
                torch.sigmoid(logits), target
            )
        return loss

    def teacher_prob(self) -> float:
        hp = self.hparams
        if hp["teacher_decay"] <= 0:
            return 0.0
        return hp["teacher_start"] * max(0.0, 1.0 - self.progress / hp["teacher_decay"])

    def _shared_step(self, batch: Tensor, stage: str) -> Tensor:
        k, n = self.hparams["context"], self.hparams["horizon"]
        if batch.shape[1] < k + n:
            raise TrainingError(
                f"sequences have {batch.shape[1]} frames, need context+horizon={k + n}"
            )
        context, target = batch[:, :k], batch[:, k : k + n]  # (B, K, C, H, W), (B, N, C, H, W)
        teacher = self.teacher_prob() if stage == "train" else 0.0
        logits = self.net(context, n, target=target, teacher_prob=teacher)
        loss = self._loss(logits, target)
        if not torch.isfinite(loss):
            raise TrainingError(
                f"non-finite {stage} loss ({loss.item()}) at step {self.global_step}; "
                "lower the learning rate or check the data"
            )
        on_step = stage == "train"
        self.log(f"{stage}/loss", loss, prog_bar=True, on_step=on_step, on_epoch=not on_step)
        if stage != "train":
            pred = torch.sigmoid(logits).float()
            target = target.float()
            self.log(f"{stage}/mse", metrics.frame_mse(pred, target), prog_bar=True)
            self.log(f"{stage}/mae", metrics.frame_mae(pred, target))
            self.log(f"{stage}/psnr", metrics.psnr(pred, target))
            self.log(f"{stage}/ssim", metrics.ssim(pred, target))
        else:
            self.log("train/teacher", teacher)
        return loss

    def training_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        return self._shared_step(batch, "val")

    def test_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        return self._shared_step(batch, "test")

    def predict_step(self, batch: Tensor, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Predict `horizon` frames after the first `context` frames of each sequence."""
        k = self.hparams["context"]
        return self.net.rollout(batch[:, :k], self.hparams["horizon"])

    def configure_optimizers(self) -> Any:
        return torch.optim.AdamW(
            self.parameters(), lr=self.hparams["lr"], weight_decay=self.hparams["weight_decay"]
        )

    # -- learning-rate schedule over the budget (steps or wall-clock) -------------------------
    def lr_at(self, progress: float) -> float:
        return warmup_cosine(progress, self.hparams["lr"], self.hparams["warmup"])


def warmup_cosine(progress: float, peak: float, warm: float) -> float:
    """Linear warm-up, then cosine decay to 2% of the peak, over progress in [0, 1]."""
    if progress < warm:
        return peak * max(progress / warm, 0.01)
    t = min(1.0, (progress - warm) / max(1e-8, 1.0 - warm))
    return peak * (0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * t)))
