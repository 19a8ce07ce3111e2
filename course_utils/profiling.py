"""Measure what the notebooks claim: wall time and peak memory of a function.

Peak memory is the growth of the process's resident memory while the function runs,
read from Linux's /proc (the peak counter is reset first). Elsewhere (macOS, Windows)
it returns NaN rather than guessing. On glibc, the first measurement fixes malloc's mmap
threshold at 64 KiB for this process, so that every large tensor is a fresh mapping (glibc
otherwise raises the threshold as memory is freed and quietly reuses heap pages, which would
hide an allocation from the resident-memory count). Tensors behave the same either way.
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


_MALLOC_FIXED = False


def _fix_malloc_threshold() -> None:
    global _MALLOC_FIXED
    if _MALLOC_FIXED:
        return
    _MALLOC_FIXED = True
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD = 64 KiB, no dynamic raise
    except (OSError, AttributeError):
        pass  # not glibc: measurements may read low for small sizes


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
    _fix_malloc_threshold()
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


def attention_cost(lengths, dim: int = 64, num_heads: int = 4, repeat: int = 5,
                   measure: tuple[str, ...] = ("time", "memory"), fresh_process: bool = False) -> list[dict]:
    """Time and peak memory of written-out attention vs ``F.scaled_dot_product_attention``.

    One sequence (batch 1) of each length in ``lengths``, ``num_heads`` heads of ``dim / num_heads``
    channels, forward pass only. Returns one dict per length: length, and for "time" naive_s and
    fused_s, for "memory" naive_bytes, fused_bytes and scores_bytes (one L×L matrix per head).

    ``fresh_process=True`` measures each quantity in a new Python process (what the benchmark
    and the notebook do): in a long-lived process memory freed earlier is reused first, so the
    peak reads low, and the malloc setting that memory needs would slow the timings down.
    """
    if fresh_process:
        rows = [{"length": n} for n in lengths]
        for what in measure:
            for row, part in zip(rows, _in_subprocess(list(lengths), dim, num_heads, repeat, what)):
                row.update(part)
        return rows
    import torch
    import torch.nn.functional as F

    from .attention import scaled_dot_product_attention

    if "memory" in measure and "time" not in measure:
        _fix_malloc_threshold()  # before any large allocation
    g = torch.Generator().manual_seed(0)
    rows = []
    with torch.inference_mode():
        for length in lengths:
            q, k, v = (torch.randn(1, num_heads, length, dim // num_heads, generator=g) for _ in range(3))
            naive = lambda: scaled_dot_product_attention(q, k, v)  # noqa: E731
            fused = lambda: F.scaled_dot_product_attention(q, k, v)  # noqa: E731
            row = {"length": length}
            if "time" in measure:
                torch.testing.assert_close(naive()[0], fused(), atol=1e-5, rtol=1e-4)
                row.update(naive_s=time_fn(naive, repeat=repeat, min_seconds=0.05),
                           fused_s=time_fn(fused, repeat=repeat, min_seconds=0.05))
            if "memory" in measure:
                naive(), fused()  # warm up: first calls load kernels and grow thread pools
                row.update(naive_bytes=peak_memory(naive), fused_bytes=peak_memory(fused),
                           scores_bytes=num_heads * length * length * 4)
            rows.append(row)
    return rows


def _in_subprocess(lengths: list[int], dim: int, num_heads: int, repeat: int, what: str,
                   function: str = "attention_cost", **extra) -> list[dict]:
    import json
    import subprocess
    import sys

    kwargs = "".join(f", {k}={v!r}" for k, v in extra.items())
    code = (f"import json; from course_utils.profiling import {function}; "
            f"print(json.dumps({function}({lengths!r}, {dim}, {num_heads}, {repeat}, measure=({what!r},){kwargs})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the {what} measurement failed in its subprocess:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def window_cost(sides, dim: int = 48, num_heads: int = 3, repeat: int = 3, window_size: int = 4,
                measure: tuple[str, ...] = ("time", "memory"), fresh_process: bool = False) -> list[dict]:
    """Global vs window attention on a side×side token map: time and peak memory (forward pass).

    Global: every token attends to every token (the written-out form, so the (hw)² matrix exists).
    Window: Swin's WindowAttention on M×M windows. Rows: side, tokens, global_s, window_s,
    global_bytes, window_bytes.
    """
    if fresh_process:
        rows = [{"side": n, "tokens": n * n} for n in sides]
        for what in measure:
            for row, part in zip(rows, _in_subprocess(list(sides), dim, num_heads, repeat, what, "window_cost",
                                                      window_size=window_size)):
                row.update(part)
        return rows
    import torch

    from .attention import MultiHeadAttention
    from .swin import WindowAttention, window_partition

    if "memory" in measure and "time" not in measure:
        _fix_malloc_threshold()
    torch.manual_seed(0)
    glob, local = MultiHeadAttention(dim, num_heads).eval(), WindowAttention(dim, window_size, num_heads).eval()
    rows = []
    with torch.inference_mode():
        for side in sides:
            x = torch.randn(1, side, side, dim)
            tokens = x.view(1, side * side, dim)
            windows = window_partition(x, window_size).view(-1, window_size**2, dim)
            run_global = lambda: glob(tokens, return_attention=True)  # noqa: E731
            run_window = lambda: local(windows)  # noqa: E731
            row = {"side": side, "tokens": side * side}
            if "time" in measure:
                row.update(global_s=time_fn(run_global, repeat=repeat, min_seconds=0.05),
                           window_s=time_fn(run_window, repeat=repeat, min_seconds=0.05))
            if "memory" in measure:
                run_global(), run_window()
                row.update(global_bytes=peak_memory(run_global), window_bytes=peak_memory(run_window))
            rows.append(row)
    return rows
