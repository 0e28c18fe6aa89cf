"""Distributed data-parallel training: the device, the process group, the shards and the collectives.

How a run is split (the choice, and why):

* Every rank draws the *same* seeded permutation each epoch (one `torch.Generator` per run, seeded alike) and
  takes its slice ``batch[rank::world_size]`` of every global batch, so the ranks see disjoint shards and an
  epoch covers the data once, as in a single process.
* The **global** batch and the learning rate stay the recipe's: each rank computes ``batch_size / world_size``
  samples and DistributedDataParallel averages the gradients, so N processes take the same steps with the
  same hyperparameters as one process (and a checkpoint can be resumed with another process count). More
  processes make each step faster; they do not change the recipe.
* Augmentation: with more than one rank, each rank draws its distortions from a generator seeded by
  (seed, step, rank), so ranks distort differently and a resumed run distorts exactly as a straight one.
* Batch norm: on CUDA, ``SyncBatchNorm`` (statistics over the global batch). On CPU (gloo) PyTorch has no
  SyncBatchNorm: each rank normalises its own shard (per-rank BN, as with several GPUs without sync); the
  running statistics are rank 0's, broadcast by DDP before every forward pass.
* Only rank 0 evaluates, writes checkpoints, metrics and TensorBoard; the others wait at a barrier.

Workers find their rank in the environment variables a launcher sets (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR/PORT): ``digits train --nproc N`` (`training.launch`) or ``torchrun --nproc-per-node=N -m
digitreader train ...``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from digitreader.errors import DigitreaderError

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
TIMEOUT = dt.timedelta(minutes=30)  # a rank waiting longer than this at a collective gives up


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: its rank among `world_size` processes and the device it computes on."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        """Whether several processes train together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that evaluates, logs and writes files."""
        return self.rank == 0


def world_from_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment variables; (0, 1, 0) when absent."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise DigitreaderError("RANK / WORLD_SIZE / LOCAL_RANK must be integers") from None
    if world < 1 or not 0 <= rank < world:
        raise DigitreaderError(f"bad distributed environment: RANK={rank}, WORLD_SIZE={world}")
    return rank, world, local


def in_worker() -> bool:
    """Whether this process was started by a distributed launcher (as one of several workers)."""
    return world_from_env()[1] > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """`auto` (CUDA when there is a GPU, else CPU), `cpu` or `cuda` (the GPU of this local rank)."""
    if name not in DEVICES:
        raise DigitreaderError(f"--device {name!r}: choose one of {', '.join(DEVICES)}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DigitreaderError("--device cuda: this torch build sees no CUDA GPU (use --device cpu)")
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise DigitreaderError(f"local rank {local_rank} has no GPU of its own (this machine has {count})")
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def setup(device: str = "auto") -> DistInfo:
    """Join the process group when the environment says so (gloo on CPU, NCCL on CUDA); pick the device."""
    rank, world, local = world_from_env()
    target = resolve_device(device, local)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if target.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=rank, world_size=world, timeout=TIMEOUT)
        log.info("rank %d of %d joined the %s process group on %s", rank, world, backend, target)
    return DistInfo(rank=rank, world_size=world, local_rank=local, device=target)


def teardown(info: DistInfo) -> None:
    """Leave the process group (after a last barrier, so no rank exits while others still talk)."""
    if info.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait until every rank arrives (no-op in a single process)."""
    if info.enabled:
        dist.barrier()


def shard(indices: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """This rank's part of a global batch: ``indices[rank::world_size]`` (disjoint, sizes differ by <= 1)."""
    return indices[info.rank :: info.world_size] if info.enabled else indices


def check_batch(global_batch: int, info: DistInfo) -> None:
    """Every rank needs at least one sample of each global batch."""
    if global_batch < info.world_size:
        raise DigitreaderError(
            f"batch size {global_batch} is smaller than the {info.world_size} processes sharing it"
        )


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True on every rank when `flag` is true on any (e.g. Ctrl-C reached one of them): all stop together."""
    if not info.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=_comm_device(info))
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def sum_across(values: Mapping[str, float], info: DistInfo) -> dict[str, float]:
    """Each value summed over the ranks (running totals of loss, correct answers, samples seen)."""
    if not info.enabled:
        return dict(values)
    keys = sorted(values)
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=_comm_device(info))
    dist.all_reduce(tensor)
    return dict(zip(keys, tensor.cpu().tolist(), strict=True))


def max_weight_difference(model: nn.Module, info: DistInfo) -> float:
    """Largest |difference| between a parameter here and on rank 0, agreed on all ranks (0.0: in step)."""
    if not info.enabled:
        return 0.0
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    reference = flat.clone()
    dist.broadcast(reference, src=0)
    gap = (flat - reference).abs().max().reshape(1).to(torch.float64)
    dist.all_reduce(gap, op=dist.ReduceOp.MAX)
    return float(gap.item())


def wrap(model: nn.Module, info: DistInfo) -> nn.Module:
    """`model` on its device; with several ranks wrapped in DistributedDataParallel (SyncBN on CUDA).

    The returned module is the one to call in training steps; keep `model` itself for evaluation, EMA and
    checkpoints (its parameters are the same tensors).
    """
    model.to(info.device)
    if not info.enabled:
        return model
    if info.device.type == "cuda":
        nn.SyncBatchNorm.convert_sync_batchnorm(model)  # in place for BN layers inside the model
    device_ids = [info.device.index] if info.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def augmentation_generator(seed: int, step: int, info: DistInfo) -> torch.Generator:
    """A generator for one step's distortions on this rank, a pure function of (seed, step, rank)."""
    mixed = (seed * 0x9E3779B1 + step * 0x85EBCA77 + info.rank * 0xC2B2AE3D) % (2**63 - 1)
    return torch.Generator().manual_seed(mixed)


def _comm_device(info: DistInfo) -> torch.device:
    return info.device if info.device.type == "cuda" else torch.device("cpu")
