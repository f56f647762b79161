"""Running one batch as several processes: under `torchrun`, SLURM's `srun`, or any launcher
that sets torch.distributed's variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, ...).

Every rank lists the same inputs in the same order and takes every `world`-th one from its own
rank on (`share`), so each file is filled exactly once with no coordination. When a gloo
process group can be set up (torchrun always gives one; under SLURM, Lightning's
`SLURMEnvironment` finds the address and port), the ranks meet at a barrier at the end and
rank 0 merges the summary; otherwise rank 0 polls OUTDIR for the other ranks' finished
journals, up to a timeout.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from framepred.batch.summary import ended

log = logging.getLogger(__name__)

T = TypeVar("T")
POLL = 2.0  # seconds between looks at the other ranks' journals
SETUP_TIMEOUT = 600.0  # seconds the ranks wait for each other to start


@dataclass(frozen=True)
class Ranks:
    """Where this process stands in a distributed run (a lone process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1  # processes of this run on this machine
    launcher: str = "none"  # torchrun (or any RANK/WORLD_SIZE launcher) | slurm | none


def _int(name: str, default: int) -> int:
    text = os.environ.get(name, "")
    digits = text.split("(")[0].split(",")[0]  # SLURM writes "2(x3)" for 2 tasks on 3 nodes
    return int(digits) if digits.isdigit() else default


def detect() -> Ranks:
    """This process's rank from the environment: torch.distributed's variables first, then
    SLURM's (one task per process, as `srun` starts them)."""
    env = os.environ
    if "RANK" in env and "WORLD_SIZE" in env:
        world = _int("WORLD_SIZE", 1)
        return Ranks(_int("RANK", 0), world, _int("LOCAL_RANK", 0),
                     _int("LOCAL_WORLD_SIZE", world), "torchrun")  # fmt: skip
    if "SLURM_PROCID" in env and _int("SLURM_NTASKS", 1) > 1:
        world = _int("SLURM_NTASKS", 1)
        local = _int("SLURM_NTASKS_PER_NODE", _int("SLURM_STEP_TASKS_PER_NODE", world))
        return Ranks(_int("SLURM_PROCID", 0), world, _int("SLURM_LOCALID", 0), local, "slurm")
    return Ranks()


def share(items: list[T], ranks: Ranks) -> list[T]:
    """This rank's items: those whose index in the sorted list is its rank modulo the world."""
    return [item for i, item in enumerate(items) if i % ranks.world == ranks.rank]


def threads_per_job(jobs: int, ranks: Ranks) -> int:
    """CPU threads for each of `jobs` concurrent files of each process on this machine, so
    that jobs x processes x threads stays within the cores this process may use."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // (jobs * max(1, ranks.local_world)))


def device_for(device: str, ranks: Ranks) -> str:
    """`auto` on a machine with GPUs: the GPU of this process's local rank."""
    if device != "auto" or ranks.world == 1:
        return device
    import torch

    if torch.cuda.is_available():
        return f"cuda:{ranks.local_rank % torch.cuda.device_count()}"
    return device


class Group:
    """The ranks of one run: a gloo process group where one can be set up, else files.

    `run` is an id all ranks share (rank 0's, broadcast; without a group the launcher's job
    id), which marks this run's journal entries.
    """

    def __init__(self, ranks: Ranks, timeout: float = SETUP_TIMEOUT) -> None:
        self.ranks = ranks
        self.dist: Any = None  # torch.distributed, once a group is set up
        self.group: Any = None  # the gloo group when the caller had set up one already
        self.run = uuid.uuid4().hex[:12]
        if ranks.world == 1:
            return
        self.run = _launcher_run_id() or "shared"
        try:
            self.dist, self.group = _init_gloo(ranks, timeout)
        except Exception as err:  # no network, no store: fall back to polling files
            log.warning("rank %d: no process group (%s); the ranks meet through OUTDIR's "
                        "journals instead", ranks.rank, str(err).splitlines()[0] if str(err) else err)  # fmt: skip
            return
        ids = [self.run + "-" + uuid.uuid4().hex[:8]]
        self.dist.broadcast_object_list(ids, src=0, group=self.group)
        self.run = ids[0]

    def wait_for_all(self, out_dir: Path, timeout: float) -> bool:
        """Wait until every rank has finished its share (and written its journal). False if
        some rank did not within `timeout` seconds."""
        if self.ranks.world == 1:
            return True
        if self.dist is not None:
            try:
                self.dist.monitored_barrier(group=self.group, timeout=timedelta(seconds=timeout),
                                            wait_all_ranks=True)  # fmt: skip
                return True
            except RuntimeError as err:
                log.warning("ranks did not all finish: %s", str(err).splitlines()[0])
                return False
        if self.ranks.rank != 0:
            return True  # only rank 0 merges
        waiting = set(range(1, self.ranks.world))
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            waiting = {r for r in waiting if not ended(out_dir, r, self.run)}
            if waiting:
                time.sleep(POLL)
        if waiting:
            log.warning("ranks %s did not finish within %.0f s; their files are marked not "
                        "done", sorted(waiting), timeout)  # fmt: skip
        return not waiting

    def all_ok(self, ok: bool) -> bool:
        """Rank 0's verdict on the whole batch, told to every rank (each rank's own without a
        group)."""
        if self.dist is None:
            return ok
        verdict = [ok]
        self.dist.broadcast_object_list(verdict, src=0, group=self.group)
        return bool(verdict[0])

    def close(self) -> None:
        if self.dist is not None:
            self.dist.destroy_process_group(self.group)
            self.dist = None


def _launcher_run_id() -> str | None:
    env = os.environ
    if env.get("TORCHELASTIC_RUN_ID", "none") != "none":
        return env["TORCHELASTIC_RUN_ID"]
    if "SLURM_JOB_ID" in env:
        return f"slurm-{env['SLURM_JOB_ID']}-{env.get('SLURM_STEP_ID', '0')}"
    return None


def _init_gloo(ranks: Ranks, timeout: float):
    import torch.distributed as dist

    if dist.is_initialized():  # the caller's group (maybe NCCL): a gloo group beside it
        return dist, dist.new_group(backend="gloo", timeout=timedelta(seconds=timeout))
    if ranks.launcher == "slurm" and "MASTER_ADDR" not in os.environ:
        from lightning.fabric.plugins.environments import SLURMEnvironment

        env = SLURMEnvironment()
        os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = env.main_address, str(env.main_port)
    if "MASTER_ADDR" not in os.environ or "MASTER_PORT" not in os.environ:
        raise RuntimeError("MASTER_ADDR/MASTER_PORT are not set")
    dist.init_process_group("gloo", rank=ranks.rank, world_size=ranks.world,
                            timeout=timedelta(seconds=timeout))  # fmt: skip
    return dist, None
