"""The headline table from `benchmarks/fill.py` output: PSNR per clip x pattern cell, the
margins of the model and the peer over the better classical method in each cell (flow or
minterpolate), and of the model over the peer, as means over cells and worst cells.

    python -m benchmarks.fill CLIPS... --methods flow,minterpolate --peers rife > run.md
    python -m benchmarks.headline run.md [more.md ...] [--model model+guard --peer rife]

`--peer-from OTHER.md ...` takes the peer's rows from other outputs of fill.py on the same
clips, e.g. the default model against another model's run (`--model model+guard --peer
model+guard --peer-from default.md`); the peer is then shown as `base PEER`.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

ROW = re.compile(r"^\| (\S+) \| (x2|gap3) \| (\S+) \| ([\d.]+) \| ([\d.]+) \| ([\d.-]+) \| ")


def read_cells(paths: list[Path]) -> tuple[dict, dict]:
    """(clip, pattern) -> {method: PSNR} and -> {method: synth/s}, from the per-clip tables
    of fill.py outputs."""
    cells: dict[tuple[str, str], dict[str, float]] = {}
    rates: dict[tuple[str, str], dict[str, float]] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            if m := ROW.match(line):
                clip, pattern, method, psnr, _, synth = m.groups()
                cells.setdefault((clip, pattern), {})[method] = float(psnr)
                if synth != "-":
                    rates.setdefault((clip, pattern), {})[method] = float(synth)
    return cells, rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("outputs", nargs="+", type=Path)
    ap.add_argument(
        "--model", default="model+guard", help="the row to score (model+guard: fill's default)"
    )
    ap.add_argument("--peer", default="rife")
    ap.add_argument("--peer-from", nargs="+", type=Path, default=None,
                    help="read the peer's rows from these outputs instead")  # fmt: skip
    args = ap.parse_args()
    try:
        cells, rates = read_cells(args.outputs)
        base_cells, base_rates = read_cells(args.peer_from or [])
    except OSError as err:
        ap.exit(1, f"headline: cannot read {err.filename}: {err.strerror}\n")
    model, peer = args.model, args.peer
    if args.peer_from:
        peer = f"base {args.peer}"
        for key, row in cells.items():
            if args.peer in base_cells.get(key, {}):
                row[peer] = base_cells[key][args.peer]
                if args.peer in base_rates.get(key, {}):
                    rates.setdefault(key, {})[peer] = base_rates[key][args.peer]
    for key, row in cells.items():
        if lacking := [m for m in ("flow", "minterpolate", model, peer) if m not in row]:
            ap.exit(1, f"headline: no {', '.join(lacking)} row for {' '.join(key)} "
                    "(fill.py --methods flow,minterpolate; --peers or --peer-from for the peer)\n")  # fmt: skip
    print(f"| clip | pattern | minterpolate | flow | {model} | {peer} | {model} − best classical "
          f"| {peer} − best classical | {model} − {peer} |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    margins: dict[str, list[tuple[float, str]]] = {"model": [], "peer": [], "mp": [], "mf": []}
    for (clip, pattern), row in cells.items():
        best = max(row["flow"], row["minterpolate"])
        m, p = row[model], row[peer]
        where = f"{clip} {pattern}"
        margins["model"].append((m - best, where))
        margins["peer"].append((p - best, where))
        margins["mp"].append((m - p, where))
        margins["mf"].append((m - row["flow"], where))
        print(f"| {clip} | {pattern} | {row['minterpolate']:.2f} | {row['flow']:.2f} | {m:.2f} | "
              f"{p:.2f} | {m - best:+.2f} | {p - best:+.2f} | {m - p:+.2f} |")  # fmt: skip
    print()
    names = {"model": f"{model} − best classical", "peer": f"{peer} − best classical",
             "mp": f"{model} − {peer}", "mf": f"{model} − flow"}  # fmt: skip
    print(f"| over {len(cells)} cells | mean (dB) | worst cell (dB) |")
    print("|---|---:|---|")
    for key, name in names.items():
        vals = margins[key]
        worst = min(vals)
        print(f"| {name} | {np.mean([v for v, _ in vals]):+.2f} | {worst[0]:+.2f} ({worst[1]}) |")
    print()
    print("| method | synth/s, mean over cells |")
    print("|---|---:|")
    for method in ("minterpolate", "flow", model, peer):
        print(f"| {method} | {np.mean([r[method] for r in rates.values() if method in r]):.2f} |")
    ratios = [r[model] / r[peer] for r in rates.values() if model in r and peer in r]
    print(f"\n{model} synth/s ÷ {peer} synth/s in the same cell: mean {np.mean(ratios):.1f}x, "
          f"lowest {min(ratios):.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
