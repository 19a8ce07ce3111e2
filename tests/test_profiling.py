import math

import pytest
import torch

from course_utils import profiling


def test_time_fn_runs_enough_times():
    calls = []
    seconds = profiling.time_fn(lambda: calls.append(1), repeat=4, warmup=2)
    assert len(calls) == 6 and seconds >= 0


@pytest.mark.skipif(not profiling.peak_memory_supported(), reason="peak memory is read from Linux's /proc")
def test_peak_memory_sees_a_large_tensor():
    peak = profiling.peak_memory(lambda: torch.ones(10_000_000))  # 40 MB, touched
    assert 35e6 < peak < 80e6


def test_attention_cost_rows():
    rows = profiling.attention_cost([32, 64], repeat=1)
    assert [r["length"] for r in rows] == [32, 64]
    for r in rows:
        assert r["naive_s"] > 0 and r["fused_s"] > 0 and r["scores_bytes"] == 4 * r["length"] ** 2 * 4
        assert math.isnan(r["naive_bytes"]) or r["naive_bytes"] >= 0


@pytest.mark.skipif(not profiling.peak_memory_supported(), reason="peak memory is read from Linux's /proc")
def test_fresh_process_memory_follows_the_score_matrices():
    (row,) = profiling.attention_cost([1024], repeat=1, measure=("memory",), fresh_process=True)
    # scores and weights: two (4, 1024, 1024) float32 matrices at once
    assert row["naive_bytes"] == pytest.approx(2 * row["scores_bytes"], rel=0.15)
    assert row["fused_bytes"] < 0.1 * row["naive_bytes"]
