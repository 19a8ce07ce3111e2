"""Training past one process: PyTorch's DistributedDataParallel, launched by ``torchrun``.

One process is the default and needs nothing from here. ``torchrun --nproc-per-node N -m ...``
starts N copies of a command and tells each, through environment variables (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``), who it is; :func:`init_from_env` joins them
into one process group (``gloo`` on CPUs, ``nccl`` on GPUs). After that:

- :class:`course_utils.data.BatchLoader` gives each process its share of every global batch;
- :func:`course_utils.train.fit` wraps the model in ``DistributedDataParallel`` (gradients are
  averaged across processes in ``backward``), reduces its metrics across processes, and lets
  only process 0 print and write checkpoints.

Nothing here starts processes or touches the network on import.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def is_distributed() -> bool:
    """True inside a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world() -> tuple[int, int]:
    """(rank, world_size) of this process: (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """True on the process that prints and writes files (rank 0)."""
    return world()[0] == 0


def init_from_env(backend: str | None = None) -> bool:
    """Join the process group that ``torchrun`` describes in the environment; False when run alone.

    ``backend``: "gloo" (CPU) or "nccl" (GPU); by default nccl when CUDA is available.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size < 1:
        raise ValueError(f"WORLD_SIZE={size} must be at least 1")
    if size == 1 or (dist.is_available() and dist.is_initialized()):
        return is_distributed()
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    return True


def local_device(device: torch.device) -> torch.device:
    """On a multi-GPU machine each process takes its own GPU (``cuda:LOCAL_RANK``)."""
    if device.type == "cuda" and device.index is None and is_distributed():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def shutdown() -> None:
    """Leave the process group (no-op when there is none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: list[float], device: torch.device | str = "cpu") -> list[float]:
    """Sum a few numbers over all processes (returns them unchanged when run alone)."""
    if not is_distributed():
        return list(values)
    dev = torch.device(device) if dist.get_backend() == "nccl" else torch.device("cpu")
    tensor = torch.tensor(values, dtype=torch.float64, device=dev)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def gather_objects(obj) -> list:
    """Every process's ``obj``, in rank order (``[obj]`` when run alone)."""
    if not is_distributed():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    """Wait until every process gets here (no-op when run alone)."""
    if is_distributed():
        dist.barrier()


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``DistributedDataParallel(model)`` inside a process group, the model itself otherwise."""
    if not is_distributed():
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def shard_bounds(size: int, rank: int, world_size: int) -> tuple[int, int]:
    """Rows [start, stop) of a global batch of ``size`` rows that process ``rank`` takes."""
    return (rank * size) // world_size, ((rank + 1) * size) // world_size
