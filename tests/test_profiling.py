import math

import pytest

from course_utils import profiling


def fake_clock(monkeypatch, stamps):
    """time.perf_counter returns ``stamps`` one after the other."""
    it = iter(stamps)
    monkeypatch.setattr(profiling.time, "perf_counter", lambda: float(next(it)))


def test_time_fn_runs_enough_times_and_takes_the_median(monkeypatch):
    calls = []
    # start, then (t0, t1) per timed run: the runs take 3, 1, 2, 5, 4 s
    fake_clock(monkeypatch, [0, 0, 3, 3, 4, 4, 6, 6, 11, 11, 15, 15])  # and a last look: min_seconds is met
    seconds = profiling.time_fn(lambda: calls.append(1), repeat=5, warmup=2)
    assert len(calls) == 7 and seconds == 3.0  # 2 warm-up runs untimed, the median of 3, 1, 2, 5, 4


def test_time_fn_runs_on_until_min_seconds(monkeypatch):
    calls = []
    clock = iter(range(10_000))  # every look at the clock: one second later
    monkeypatch.setattr(profiling.time, "perf_counter", lambda: float(next(clock)))
    seconds = profiling.time_fn(lambda: calls.append(1), repeat=2, warmup=0, min_seconds=10)
    # start 0; run k reads t0, t1 and then (from the third run on) the loop's own look at the clock
    assert seconds == 1.0 and len(calls) == 4


@pytest.mark.skipif(not profiling.peak_memory_supported(), reason="peak memory is read from Linux's /proc")
@pytest.mark.ci_may_skip(reason="a platform without /proc (macOS, Windows), not a missing dependency")
def test_peak_memory_sees_a_large_tensor():
    """In a fresh process, as the benchmarks measure: in this long-lived one, memory freed by earlier tests
    can hold the tensor without the resident size growing (the peak then reads 0, depending on test order)."""
    import subprocess
    import sys

    code = ("import torch; from course_utils import profiling; "
            "print(profiling.peak_memory(lambda: torch.ones(10_000_000)))")  # 40 MB, touched
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    peak = float(done.stdout.split()[-1])
    assert 35e6 < peak < 80e6


def test_attention_cost_rows(monkeypatch):
    clock = iter(range(10**6))  # each timed run: exactly one second
    monkeypatch.setattr(profiling.time, "perf_counter", lambda: float(next(clock)))
    rows = profiling.attention_cost([32, 64], repeat=1, measure=("time",))
    assert rows == [{"length": 32, "naive_s": 1.0, "fused_s": 1.0}, {"length": 64, "naive_s": 1.0, "fused_s": 1.0}]
    monkeypatch.undo()
    rows = profiling.attention_cost([32, 64], num_heads=2, repeat=1, measure=("memory",))
    assert [sorted(r) for r in rows] == [["fused_bytes", "length", "naive_bytes", "scores_bytes"]] * 2
    assert [r["scores_bytes"] for r in rows] == [2 * 32 * 32 * 4, 2 * 64 * 64 * 4]  # one float32 L×L per head
    for r in rows:
        if profiling.peak_memory_supported():
            # read from /proc in kB: whole multiples of 1024 bytes (NaN only where /proc is missing)
            assert r["naive_bytes"] % 1024 == 0 and r["fused_bytes"] % 1024 == 0
        else:
            assert math.isnan(r["naive_bytes"]) and math.isnan(r["fused_bytes"])


def test_window_cost_rows(monkeypatch):
    clock = iter(range(10**6))
    monkeypatch.setattr(profiling.time, "perf_counter", lambda: float(next(clock)))
    rows = profiling.window_cost([8, 16], repeat=1, measure=("time",))
    assert rows == [{"side": 8, "tokens": 64, "global_s": 1.0, "window_s": 1.0},
                    {"side": 16, "tokens": 256, "global_s": 1.0, "window_s": 1.0}]


@pytest.mark.skipif(not profiling.peak_memory_supported(), reason="peak memory is read from Linux's /proc")
@pytest.mark.ci_may_skip(reason="a platform without /proc (macOS, Windows), not a missing dependency")
def test_fresh_process_memory_follows_the_score_matrices():
    (row,) = profiling.attention_cost([1024], repeat=1, measure=("memory",), fresh_process=True)
    # scores and weights: two (4, 1024, 1024) float32 matrices at once
    assert row["naive_bytes"] == pytest.approx(2 * row["scores_bytes"], rel=0.15)
    assert row["fused_bytes"] < 0.1 * row["naive_bytes"]
