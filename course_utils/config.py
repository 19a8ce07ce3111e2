"""Smoke mode, seeding, device choice and a one-line environment summary.

Smoke mode (``COURSE_SMOKE=1``) shrinks datasets and epochs so that every notebook
executes in CI within minutes; the lecture run leaves it unset. Notebooks read the
mode through this module only, never ad hoc.
"""

from __future__ import annotations

import os
import platform
import random
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def smoke_mode() -> bool:
    """Read ``COURSE_SMOKE`` now: True for 1/true/yes/on, False for unset or 0/false/no/off."""
    raw = os.environ.get("COURSE_SMOKE", "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"COURSE_SMOKE={raw!r} is not understood: use 1 (smoke run) or 0 (lecture run)")


SMOKE: bool = smoke_mode()
"""The mode at import time; call :func:`smoke_mode` to re-read the variable."""


def pick(lecture: T, smoke: T) -> T:
    """Return ``smoke`` in smoke mode and ``lecture`` otherwise (e.g. ``epochs = pick(10, 1)``)."""
    return smoke if smoke_mode() else lecture


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA); return a torch.Generator seeded the same."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed {seed!r} must be a non-negative integer")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """Choose cuda, then mps, then cpu; ``prefer`` or ``COURSE_DEVICE`` overrides the choice."""
    wanted = prefer or os.environ.get("COURSE_DEVICE") or ""
    wanted = wanted.strip().lower()
    if wanted:
        if wanted.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"device {wanted!r} was asked for but CUDA is not available here")
        if wanted == "mps" and not _mps_available():
            raise RuntimeError("device 'mps' was asked for but Apple's MPS is not available here")
        try:
            return torch.device(wanted)
        except RuntimeError as exc:
            raise ValueError(f"device {wanted!r} is not a torch device (use cpu, cuda, cuda:0 or mps)") from exc
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


PRECISIONS = ("fp32", "bf16", "fp16")
"""What ``train.fit(precision=...)`` accepts: float32, bfloat16 autocast, float16 autocast (GPUs)."""


def fast_precision(device: torch.device | str | None = None) -> str:
    """"bf16" where the hardware computes bfloat16 natively, else "fp32".

    CPUs with AVX512-BF16 or AMX (recent Xeon / EPYC) train about 1.3× faster under bfloat16
    autocast; on other CPUs (most laptops) bfloat16 is emulated and slower, so keep fp32.
    """
    device = torch.device(device) if device is not None else get_device()
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        checks = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        return "bf16" if any(check is not None and check() for check in checks) else "fp32"
    return "fp32"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "COLAB_RELEASE_TAG" in os.environ or "COLAB_GPU" in os.environ


def summary(device: torch.device | None = None) -> str:
    """One line: Python, torch, device, CPU threads, and the mode (smoke or lecture)."""
    device = device or get_device()
    name = str(device)
    if device.type == "cuda":
        name += f" ({torch.cuda.get_device_name(device)})"
    mode = "SMOKE (CI-sized data and epochs)" if smoke_mode() else "lecture"
    where = "Colab" if in_colab() else platform.system()
    return (
        f"Python {platform.python_version()} | torch {torch.__version__} | device {name} | "
        f"{torch.get_num_threads()} CPU threads | {where} | mode: {mode}"
    )
