"""Fine-tune the shipped `default` fill model toward its own two-member self-ensemble.

The teacher is the frozen shipped model; its target for each training window is the mean of
its fill and its fill of the same window played backwards (`fill --ensemble 2`, computed in
the graph: the past and future context swap, the flows swap, the slot times mirror). The
student starts from the same weights and learns `(1 - w) * truth + w * teacher`. `--weight 0`
is the control: the same fine-tune on the truth alone, so that what more training brings is
not credited to the teacher. Data and settings are those of the shipped model's last stage
(the OpenCV sample clips from `benchmarks/dev_clips.py` and synthetic motion). Score the
result with `benchmarks/fill_models.py CLIP default OUT/checkpoints/last.ckpt`:

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/distill_ensemble.py --weight 0.5 --out runs/dist05
    OMP_NUM_THREADS=1 taskset -c 1 python benchmarks/distill_ensemble.py --weight 0 --out runs/dist00
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import framepred.train.motion as lit_motion  # noqa: E402
from benchmarks.dev_clips import DEST, MEMBERS  # noqa: E402
from framepred.models.interpolator import Accel  # noqa: E402
from framepred.train.checkpoints import load_model  # noqa: E402
from framepred.train.fit import PRESETS, TrainConfig, train  # noqa: E402

CLIPS = [DEST / "clean" / f"{name}.mp4" for name in MEMBERS]


def reversed_accel(acc: Accel | None) -> Accel | None:
    """The quadratic-motion inputs of the gap played backwards: N and P, B and A swap."""
    return None if acc is None else Accel(acc.fbn, acc.fnb, acc.fap, acc.fpa, acc.sn, acc.sp)


@torch.no_grad()
def two_way(net, k, n, full, small, f01, f10, times, acc):
    """`net`'s fills of a gap batch forwards and backwards, (B, n, 3, H, W) each, in slot order."""
    a, b = full[:, k - 1], full[:, k + n]
    fwd = net(small[:, :k], small[:, k + n :], f01, f10, times, acc)
    fwd = torch.stack([net.render(a, b, s) for s in fwd], 1)
    back_times = [1 - t for t in times[::-1]]
    bwd = net(small[:, k + n :].flip(1), small[:, :k].flip(1), f10, f01, back_times,
              reversed_accel(acc))  # fmt: skip
    bwd = torch.stack([net.render(b, a, s) for s in bwd][::-1], 1)
    return fwd, bwd


def distilling(teacher, weight: float):
    class Distill(lit_motion.MotionFillModule):
        def _shared_step(self, batch, stage):
            if stage != "train":
                return super()._shared_step(batch, stage)
            k, n, full, small, times = self._unpack(batch)
            f01, f10 = batch["f01"].float(), batch["f10"].float()
            acc = lit_motion.batch_accel(batch)
            truth = full[:, k : k + n]
            # The teacher runs at --weight 0 too: the control then costs the same per step and
            # takes as many steps in the same time.
            fwd, bwd = two_way(teacher, k, n, full, small, f01, f10, times, acc)
            target = (1 - weight) * truth + weight * 0.5 * (fwd + bwd)
            slots = self.net(small[:, :k], small[:, k + n :], f01, f10, times, acc)
            a, b = full[:, k - 1], full[:, k + n]
            pred = torch.stack([self.net.render(a, b, s, clamp=False) for s in slots], 1)
            loss = lit_motion.motion_loss(pred - target, self.hparams.get("loss", "mse"))
            self.log("train/loss", loss, prog_bar=True, on_step=True, batch_size=full.shape[0])
            return loss

    return Distill


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weight", type=float, default=0.5, help="share of the teacher in the target")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=55)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    missing = [str(c) for c in CLIPS if not c.is_file()]
    if missing:
        raise SystemExit(
            f"distill_ensemble: {missing[0]} not found; run python benchmarks/dev_clips.py"
        )
    teacher, _ = load_model("default")
    teacher.eval().requires_grad_(False)
    # train() builds its module from this name: swap in the distilling one.
    lit_motion.MotionFillModule = distilling(teacher, args.weight)  # type: ignore[misc]
    cfg = TrainConfig(data=[str(c) for c in CLIPS] + ["synthetic"], out=args.out, model=dict(PRESETS["motion"]),
                      max_time=args.minutes * 60, batch_size=8, lr=3e-4, loss="mse",
                      precision="bf16-mixed", init="default", val_every=500, working=64,
                      seed=args.seed)  # fmt: skip
    print(train(cfg))


if __name__ == "__main__":
    main()
