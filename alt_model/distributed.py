"""DDP through torchrun's environment only (nanoGPT's way): no launcher of our own, no `--local_rank`.

`torchrun --nproc-per-node N alt-train ...` sets RANK, LOCAL_RANK and WORLD_SIZE; multi-node runs
add torchrun's rendezvous flags and need no change here. NCCL on GPUs, gloo on CPUs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from alt_common.device import auto_device, resolve_device

from .errors import ModelError


@dataclass(frozen=True)
class Dist:
    """This process's place in the run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: str = "auto") -> Dist:
    """Join the process group torchrun describes (if any) and pick this process's device: `auto` is
    this process's GPU (cuda:LOCAL_RANK) where torch can use one, else the CPU (`auto_device`: with a
    warning when an NVIDIA GPU is here but this torch cannot use it); `cpu` or `cuda` force one;
    `cuda:N` names one GPU (a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = auto_device()
    chosen = resolve_device(device)
    if chosen.type == "cuda" and chosen.index is not None and world > 1:
        raise ModelError(f"--device {device} names one GPU, but torchrun started {world} processes; use --device cuda")
    cuda = chosen.type == "cuda"
    device = torch.device("cuda", local_rank if chosen.index is None else chosen.index) if cuda else chosen
    if cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return Dist(rank, world, local_rank, device)


def teardown(d: Dist) -> None:
    if d.world > 1 and dist.is_initialized():
        dist.destroy_process_group()


def sum_all(tensor: Tensor, d: Dist) -> Tensor:
    """The sum of `tensor` over all processes (a no-op for one process)."""
    if d.world > 1:
        tensor = tensor.to(d.device)
        dist.all_reduce(tensor)
    return tensor.cpu()


def gather(obj: Any, d: Dist) -> list[Any]:
    """Every process's `obj`, in rank order."""
    if d.world == 1:
        return [obj]
    out: list[Any] = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def barrier(d: Dist) -> None:
    if d.world > 1:
        dist.barrier()
