"""Checkers are robust: copies of the inputs, any floating dtype, a time limit, global random state untouched.

The diagnoses themselves are in tests/test_checks_branches.py.
"""

from __future__ import annotations

import math
import threading
import time

import pytest
import torch

from course_utils import checks, patches, positional, swin


def conv_attention(q, k, v):
    w = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(q.shape[1]), dim=-1)
    return v @ w.transpose(1, 2)


# every "implement" checker with a correct answer (a new checker must be added here)
RIGHT = {
    "check_attention_scores": lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]),
    "check_weighted_sum": lambda s, v: (s.softmax(-1) @ v, s.softmax(-1)),
    "check_causal_mask": lambda n: torch.ones(n, n, dtype=torch.bool).tril(),
    "check_padding_mask": lambda lengths, n: (torch.arange(n)[None] < lengths[:, None])[:, None, None],
    "check_split_heads": lambda x, h: x.view(x.shape[0], x.shape[1], h, -1).transpose(1, 2),
    "check_patchify": patches.patchify,
    "check_unpatchify": patches.unpatchify,
    "check_sinusoidal_1d": positional.sinusoidal_1d,
    "check_cosine_similarity": positional.cosine_similarity_matrix,
    "check_encoder_block": lambda x, block: block(x),
    "check_window_partition": swin.window_partition,
    "check_window_reverse": swin.window_reverse,
    "check_relative_index": swin.relative_position_index,
    "check_conv_attention": conv_attention,
    "check_soft_distillation_loss": lambda s, t, tau: tau**2 * (
        (t / tau).softmax(-1) * ((t / tau).log_softmax(-1) - (s / tau).log_softmax(-1))).sum(-1).mean(),
}
# every "predict" and "experiment" checker with an answer that passes
ANSWER = {
    "check_entropy_prediction": (1.7, 0.3),
    "check_cost_growth_prediction": (3.0,),
    "check_token_count": (197, 197**2),
    "check_patch_size_prediction": (0.25, 16.0),
    "check_mean_pool_prediction": ("same", "changes"),
    "check_similarity_prediction": (0.6, 0.35),
    "check_dimension_experiment": (24, "more channels add slower waves"),
    "check_vit_param_count": (1_806_346,),
    "check_patch_cost_prediction": (4.0,),
    "check_window_count": (64, 81),
    "check_window_cost_prediction": (14.0,),
    "check_attention_param_count": (3 * (128 * 128 + 128), 128 * 128 + 128),
    "check_tokens_experiment": (32, "several tokens give the softmax a choice"),
    "check_temperature_prediction": (0.45,),
    "check_tau_squared_experiment": (14.19, "softening shrinks the gradient by one over tau squared"),
}
IMPLEMENT = sorted(RIGHT)
FLOAT_OUT = [n for n in IMPLEMENT if n not in ("check_causal_mask", "check_padding_mask", "check_relative_index")]


def checker(name):
    return checks.CHECKERS[name]


def _map(out, f):
    return tuple(f(o) for o in out) if isinstance(out, tuple) else f(out)


def _wipe(args):
    """Zero every tensor and module parameter among ``args``, in place."""
    with torch.no_grad():
        for a in args:
            if isinstance(a, torch.Tensor):
                a.zero_()
            elif isinstance(a, torch.nn.Module):
                for p in a.parameters():
                    p.zero_()


def test_every_checker_is_listed_here_with_its_kind():
    assert set(RIGHT) | set(ANSWER) == set(checks.CHECKERS)
    for name, fn in checks.CHECKERS.items():
        assert fn.kind == ("implement" if name in RIGHT else "experiment" if "experiment" in name else "predict"), name


@pytest.mark.parametrize("name", IMPLEMENT)
def test_correct_code_that_works_in_place_passes(name):
    """The student's function may scribble on its inputs: the checker's reference never sees them."""
    right = RIGHT[name]

    def in_place(*args):
        out = _map(right(*args), lambda t: t.clone())
        _wipe(args)
        return out

    verdict = checker(name)(in_place)
    assert verdict, repr(verdict)


@pytest.mark.parametrize("name", IMPLEMENT)
def test_zeroing_the_inputs_and_returning_zeros_fails(name):
    """Before copies, a reference computed after the call matched zeros made from zeroed inputs."""
    right = RIGHT[name]

    def zeroing(*args):
        out = right(*args)
        _wipe(args)
        return _map(out, torch.zeros_like)

    assert not checker(name)(zeroing)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", FLOAT_OUT)
def test_a_correct_answer_passes_in_any_floating_dtype(name, dtype):
    right = RIGHT[name]
    verdict = checker(name)(lambda *args: _map(right(*args), lambda t: t.to(dtype)))
    assert verdict, repr(verdict)


@pytest.mark.parametrize("name", IMPLEMENT)
def test_a_wrong_shape_is_named(name):
    verdict = checker(name)(lambda *args: torch.zeros(1))
    assert not verdict and "shape" in repr(verdict) or "two tensors" in repr(verdict), repr(verdict)


@pytest.mark.parametrize("name", IMPLEMENT)
def test_a_function_that_runs_too_long_gets_a_verdict(name, monkeypatch):
    monkeypatch.setattr(checks, "TIME_LIMIT", 0.3)
    start = time.perf_counter()
    verdict = checker(name)(lambda *args: time.sleep(30))
    assert time.perf_counter() - start < 5
    assert not verdict and "more than 0.3 s and was stopped" in repr(verdict), repr(verdict)


def test_an_endless_loop_is_stopped(monkeypatch):
    monkeypatch.setattr(checks, "TIME_LIMIT", 0.3)

    def endless(q, k):
        while True:
            pass

    assert "was stopped" in repr(checks.check_attention_scores(endless))


def test_the_time_limit_holds_off_the_main_thread_too(monkeypatch):
    """Where no SIGALRM timer can be set (a worker thread), a helper thread is given up on instead."""
    monkeypatch.setattr(checks, "TIME_LIMIT", 0.3)
    box = {}
    worker = threading.Thread(target=lambda: box.setdefault("v", checks.check_causal_mask(lambda n: time.sleep(3))))
    start = time.perf_counter()
    worker.start()
    worker.join(10)
    assert time.perf_counter() - start < 2.5
    assert "was stopped" in repr(box["v"])
    box.clear()
    worker = threading.Thread(target=lambda: box.setdefault("v", checks.check_causal_mask(RIGHT["check_causal_mask"])))
    worker.start()
    worker.join(10)
    assert box["v"]


def test_the_alarm_is_cleared_after_a_checker():
    import signal

    checks.check_causal_mask(RIGHT["check_causal_mask"])
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


def _every_call():
    for name in IMPLEMENT:
        yield name, (RIGHT[name],)
    for name, args in ANSWER.items():
        yield name, args


@pytest.mark.parametrize("name, args", list(_every_call()), ids=[n for n, _ in _every_call()])
def test_global_random_state_is_left_alone(name, args, monkeypatch):
    def no_reseeding(*a, **k):
        raise AssertionError("a checker reset torch's global seed")

    for where in (torch, torch.random):
        monkeypatch.setattr(where, "manual_seed", no_reseeding)
    monkeypatch.setattr(torch, "seed", no_reseeding)
    before = torch.get_rng_state()
    assert checker(name)(*args)
    assert torch.equal(torch.get_rng_state(), before)


def test_a_student_function_that_draws_random_numbers_does_not_move_the_notebook_stream():
    before = torch.get_rng_state()
    checks.check_attention_scores(lambda q, k: torch.randn(2, 3, 5))
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("name", sorted(ANSWER))
def test_a_missing_prediction_is_asked_for(name):
    verdict = checker(name)(*(None for _ in ANSWER[name]))
    assert not verdict and "not done yet" in repr(verdict), repr(verdict)
    if checks.CHECKERS[name].kind == "predict":
        assert "write your prediction first" in repr(verdict)


def test_a_prediction_may_be_a_one_element_tensor_but_not_a_bool():
    assert checks.check_cost_growth_prediction(torch.tensor(3.0))
    assert "got True" in repr(checks.check_cost_growth_prediction(True))


def test_predictions_are_recorded_and_a_changed_one_is_noted():
    checks._FIRST_PREDICTION.pop("check_window_cost_prediction", None)
    assert "first prediction" not in repr(checks.check_window_cost_prediction(50))
    verdict = checks.check_window_cost_prediction(14)
    assert verdict and "your first prediction was 50" in repr(verdict)


def test_verdicts_are_recorded_for_grading():
    checks.check_causal_mask(lambda n: ~RIGHT["check_causal_mask"](n))
    row = {r["check"]: r for r in checks.recorded()}["check_causal_mask"]
    assert row["ok"] is False and row["kind"] == "implement" and "inverted" in row["message"]
    checks.check_causal_mask(RIGHT["check_causal_mask"])
    assert {r["check"]: r for r in checks.recorded()}["check_causal_mask"]["ok"] is True
