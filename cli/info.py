"""`framepred info`: stream facts and the gaps `fill` would fill."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import fps_option
from framepred.gaps import DETECTORS


@click.command("info")
@click.argument("input_path", metavar="INPUT", required=False, type=click.Path(path_type=Path))
@click.option(
    "--detect",
    type=click.Choice(DETECTORS),
    multiple=True,
    default=("timestamps",),
    show_default=True,
    help="What counts as missing (as for fill); duplicates/black decode the whole video.",
)
@click.option("--frames", metavar="SLOTS", help="Slots to treat as missing, e.g. 12-14,40.")
@fps_option()
@click.option(
    "--max-gap",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="As for fill: a lost tail only the header declares is counted up to this many slots.",
)
@click.option("--models", is_flag=True, help="List the built-in model names and exit.")
def info_command(
    input_path: Path | None,
    detect: tuple[str, ...],
    frames: str | None,
    fps: float | None,
    max_gap: int,
    models: bool,
) -> None:
    """Print the stream facts of INPUT and the gaps `framepred fill` would fill (a dry run)."""
    if models:
        from framepred.models.checkpoints import builtin_names

        click.echo("\n".join(builtin_names()) or "(no built-in models shipped yet)")
        return
    if input_path is None:
        raise click.BadParameter("INPUT is required (or use --models)", param_hint="INPUT")
    from framepred.gaps import inspect_video

    scan = inspect_video(input_path, detect=detect, frames=frames, fps=fps, max_gap=max_gap)
    info = scan.info
    assert info is not None
    rate = info.frame_rate
    facts = [
        ("file", str(info.path)),
        ("kind", "image folder" if info.is_folder else f"{info.codec} video"),
        ("size", f"{info.width}x{info.height}"),
        ("frame rate", f"{rate} ({float(rate):.3f} fps)"),
        ("pixel format", info.pix_fmt),
        ("time base", str(info.time_base) if info.time_base else "-"),
        ("start", f"{float(info.start):.3f} s"),
        ("stored frames", str(info.n_frames) if info.n_frames is not None else "unknown"),
        ("grid slots", f"{scan.n_slots} ({float(scan.n_slots / rate):.3f} s)"),
        ("audio", "yes" if info.has_audio else "no"),
        ("rotation", f"{info.rotation} deg"),
    ]
    for key, value in facts:
        click.echo(f"{key + ':':15}{value}")
    missing = sum(g.length for g in scan.gaps)
    click.echo(f"{'missing:':15}{missing} slots in {len(scan.gaps)} gaps")
    for gap in scan.gaps:
        t = float(info.start + gap.start_slot / rate)
        span = f"{gap.start_slot}" if gap.length == 1 else f"{gap.start_slot}-{gap.end_slot}"
        click.echo(f"  slots {span:>11}  at {t:8.3f} s  {gap.length:4d} x  {gap.reason}")
    if scan.retime_to is not None:
        n_out, own = scan.retimed()
        click.echo(f"{'retimed:':15}to {float(scan.retime_to):g} fps by fill: {n_out} frames, "
                   f"{own} of them the video's own, {n_out - own} synthesized at their times")  # fmt: skip
    if scan.collisions:
        click.echo(f"{'dropped:':15}{len(scan.collisions)} frames share a slot with an earlier one")
