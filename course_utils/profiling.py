"""Measure what the notebooks claim: wall time and peak memory of a function.

Peak memory is the growth of the process's resident memory while the function runs,
read from Linux's /proc (the peak counter is reset first). Elsewhere (macOS, Windows)
it returns NaN rather than guessing.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from pathlib import Path
from typing import Callable

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def _status_bytes(key: str) -> int:
    match = re.search(rf"^{key}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    if match is None:
        raise OSError(f"{key} not in {_STATUS}")
    return int(match.group(1)) * 1024


def peak_memory_supported() -> bool:
    """True where the peak of resident memory can be reset and read (Linux)."""
    try:
        _CLEAR.write_text("5")
        _status_bytes("VmHWM")
        return True
    except OSError:
        return False


def peak_memory(fn: Callable[[], object]) -> float:
    """Bytes by which the process's resident memory peaked above its level before ``fn()``; NaN if unknown."""
    if not peak_memory_supported():
        return math.nan
    base = _status_bytes("VmRSS")
    fn()
    return float(max(0, _status_bytes("VmHWM") - base))


def time_fn(fn: Callable[[], object], repeat: int = 5, warmup: int = 1, min_seconds: float = 0.0) -> float:
    """Median seconds of ``fn()`` over ``repeat`` runs after ``warmup`` runs (more runs until ``min_seconds``)."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeat or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
