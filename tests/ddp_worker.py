"""Run by tests/test_ddp.py under torchrun: a few DDP steps, then each rank saves its weights."""

import sys
from pathlib import Path

import torch
from conftest import tiny_config
from lightning.pytorch.callbacks import Callback

from framepred.train.fit import train


class SaveRankWeights(Callback):
    def __init__(self, out: Path) -> None:
        self.out = out

    def on_train_end(self, trainer, module) -> None:
        torch.save(module.state_dict(), self.out / f"rank{trainer.global_rank}.pt")


if __name__ == "__main__":
    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    cfg = tiny_config(
        out / "run", max_steps=3, val_size=4, accelerator="cpu", devices=2, strategy="ddp"
    )
    train(cfg, extra_callbacks=[SaveRankWeights(out)])
