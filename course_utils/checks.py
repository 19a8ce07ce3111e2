"""Exercise checkers: call one with your function (or your prediction) and read the verdict.

Three kinds of exercise (docs/instructor-notes.md lists them per notebook):

- **implement**: write a function; the checker runs it on small inputs, compares it with the
  course's tested version and names the classic mistake it recognises. It never shows the solution.
- **predict**: write a number (or a choice) *before* running anything; the checker runs the
  experiment and shows how far off you were. A prediction passes once it is written: you are
  graded for predicting, not for being right, so there is nothing to gain by peeking. (Counting
  questions, whose answer can be worked out exactly, pass only when exact.)
- **experiment**: change one thing, measure, explain in one sentence; the checker re-measures
  your change and checks the measurable part.

Every checker runs your function on copies of its inputs, accepts an answer in any floating
dtype, stops a function that runs longer than :data:`TIME_LIMIT` seconds, and leaves torch's
global random state as it found it. A verdict is truthy when the exercise is solved; in a
notebook it displays as one line. :func:`recorded` lists the session's verdicts (for
``python -m course_utils.grade``).
"""

from __future__ import annotations

import copy
import functools
import math
import signal
import threading
from dataclasses import dataclass
from numbers import Real
from typing import Callable

import torch

from . import attention

TIME_LIMIT = 10.0
"""Seconds a student's function may run inside a checker before the checker gives up on it."""

KINDS = ("implement", "predict", "experiment")


@dataclass(frozen=True)
class Verdict:
    """The outcome of a checker: ``ok`` and a message for the student."""

    name: str
    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} {self.name}: {self.message}"

    __str__ = __repr__


# --------------------------------------------------------------------------------- machinery

CHECKERS: dict[str, Callable] = {}
"""Every checker by function name; each carries ``.kind`` (one of KINDS) and ``.exercise`` (a title)."""

_RECORD: dict[str, Verdict] = {}  # checker name → its latest verdict in this session
_FIRST_PREDICTION: dict[str, tuple] = {}  # checker name → the first prediction made in this session


def exercise_title(checker_name: str) -> str:
    """``check_causal_mask`` → ``causal mask``: the title the grading table shows."""
    return checker_name.removeprefix("check_").replace("_", " ")


def _checker(kind: str):
    """Register a checker: it runs with torch's random state forked (restored after) and records its verdict."""
    assert kind in KINDS

    def wrap(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with torch.random.fork_rng(devices=[]):
                verdict = fn(*args, **kwargs)
            _RECORD[fn.__name__] = verdict
            return verdict

        run.kind, run.exercise = kind, exercise_title(fn.__name__)
        CHECKERS[fn.__name__] = run
        return run

    return wrap


def recorded() -> list[dict]:
    """The latest verdict of every checker run in this session: dicts with check, kind, ok, name, message."""
    return [{"check": check, "kind": CHECKERS[check].kind, "ok": v.ok, "name": v.name, "message": v.message}
            for check, v in _RECORD.items()]


class _TooSlow(BaseException):
    """Raised inside a student's function that ran past the time limit (a BaseException: `except Exception` won't eat it)."""


def _run_limited(fn: Callable, args: tuple, seconds: float):
    """``fn(*args)``, or _TooSlow after ``seconds``: a SIGALRM timer on the main thread where there is one,
    else a helper thread we stop waiting for (it runs on in the background)."""
    main = threading.current_thread() is threading.main_thread()
    if main and hasattr(signal, "setitimer") and signal.getitimer(signal.ITIMER_REAL)[0] == 0:
        def alarm(signum, frame):
            raise _TooSlow

        previous = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return fn(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    box: dict = {}

    def target():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name="course-checker")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise _TooSlow
    if "error" in box:
        raise box["error"]
    return box["value"]


def _copy(value):
    """A private copy of an input, so a student's in-place changes cannot reach the checker's reference."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    return copy.deepcopy(value)


def _call(name: str, fn: Callable, *args):
    """Run the student's function on copies of ``args``, under the time limit: (result, None) or (None, a Verdict)."""
    if not callable(fn):
        return None, Verdict(name, False, f"expected your function, got {type(fn).__name__}")
    try:
        return _run_limited(fn, tuple(_copy(a) for a in args), TIME_LIMIT), None
    except NotImplementedError:
        return None, Verdict(name, False, "not done yet: replace the `raise NotImplementedError` with your code")
    except _TooSlow:
        return None, Verdict(name, False, f"your function ran for more than {TIME_LIMIT:g} s and was stopped: look for a "
                                          "loop that never ends, or one over every element (use tensor operations)")
    except Exception as exc:  # the student's code failed: say how, kindly
        return None, Verdict(name, False, f"your function raised {type(exc).__name__}: {exc}")


def _tensor(name: str, got, shape: tuple, what: str) -> Verdict | None:
    if not isinstance(got, torch.Tensor):
        return Verdict(name, False, f"expected {what} as a torch.Tensor, got {type(got).__name__}")
    if tuple(got.shape) != tuple(shape):
        return Verdict(name, False, f"expected {what} of shape {tuple(shape)}, got {tuple(got.shape)}")
    return None


def _call_checked(name: str, fn: Callable, args: tuple, shape: tuple, what: str):
    """:func:`_call`, then :func:`_tensor` on the result: (result, None) or (None, the failing Verdict)."""
    got, failed = _call(name, fn, *args)
    if failed is None:
        failed = _tensor(name, got, shape, what)
    return (None, failed) if failed is not None else (got.detach(), None)


_TOLERANCE = {torch.float16: 1e-2, torch.bfloat16: 5e-2}  # relative and absolute, for answers in low precision


def _close(got: torch.Tensor, want: torch.Tensor, atol: float = 1e-5) -> bool:
    """``got`` equals ``want`` up to rounding, whatever floating dtype ``got`` was computed in."""
    tol = _TOLERANCE.get(got.dtype, 0.0)
    return torch.allclose(got.detach().to(torch.float64), want.detach().to(torch.float64),
                          rtol=max(1e-5, tol), atol=max(atol, tol))


def _same(got: torch.Tensor, want: torch.Tensor) -> bool:
    """Exactly the same values in the same places (a rearrangement is exact in any dtype)."""
    return torch.equal(got.detach(), want.to(got.dtype))


def _sorted(t: torch.Tensor) -> torch.Tensor:
    return torch.sort(t.detach().flatten().to(torch.float64)).values


def _missing(value) -> bool:
    return value is None or value is Ellipsis


def _prediction(name: str, value, what: str, low: float | None = None, high: float | None = None):
    """A prediction as a float, or a failing Verdict: not written yet, not a number, out of range."""
    if _missing(value):
        return None, Verdict(name, False, f"not done yet: write your prediction first ({what}, in place of None), "
                                          "then run this cell")
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(value):
        return None, Verdict(name, False, f"a prediction is {what}; got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"lies between {low:g} and {high:g}" if high is not None else f"is at least {low:g}"
        return None, Verdict(name, False, f"{value:g} cannot be right: {what} {bounds}")
    return float(value), None


def _choice(name: str, value, choices: tuple[str, ...]):
    """A predicted choice (one of ``choices``), or a failing Verdict."""
    if _missing(value):
        return None, Verdict(name, False, f"not done yet: write your prediction first (one of {choices}, in place "
                                          "of None), then run this cell")
    if not isinstance(value, str) or value.strip().lower() not in choices:
        return None, Verdict(name, False, f"a prediction here is one of {choices}; got {value!r}")
    return value.strip().lower(), None


def _first(check: str, prediction: tuple) -> str:
    """Remember the session's first prediction; a note when a later one differs from it."""
    first = _FIRST_PREDICTION.setdefault(check, prediction)
    if first == prediction:
        return ""
    shown = ", ".join(f"{p:g}" if isinstance(p, float) else repr(p) for p in first)
    return f" (your first prediction was {shown})"


def _off(predicted: float, measured: float) -> str:
    """'you predicted 4, measured 3.00: off by 1 (33 %)'."""
    gap = abs(predicted - measured)
    rel = f" ({gap / abs(measured):.0%})" if measured else ""
    return f"you predicted {predicted:g}, measured {measured:.3g}: off by {gap:.2g}{rel}"


def _sentence(name: str, why) -> Verdict | None:
    """A failing Verdict unless ``why`` is an explanation of a few words."""
    if _missing(why):
        return Verdict(name, False, "not done yet: explain what you measured in one sentence (the string `why`)")
    if not isinstance(why, str) or len(why.split()) < 4:
        return Verdict(name, False, f"explain it in a sentence of a few words (the string `why`); got {why!r}")
    return None


def _flops(fn: Callable) -> int:
    """Floating-point operations of ``fn()`` as PyTorch counts them (2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def _seeded(module: torch.nn.Module, generator: torch.Generator, scale: float = 0.3) -> torch.nn.Module:
    """Give every parameter reproducible values from ``generator`` (norm gains near 1), in eval mode."""
    with torch.no_grad():
        for pname, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=generator)
            p.copy_(1 + 0.2 * noise if "norm" in pname and pname.endswith("weight") else scale * noise)
    return module.eval()


def _inputs(seed: int = 0, b: int = 2, lq: int = 3, lk: int = 5, d: int = 4, dv: int = 6):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, lq, d, generator=g), torch.randn(b, lk, d, generator=g), torch.randn(b, lk, dv, generator=g))


# --------------------------------------------------------------------------------- 01 attention

@_checker("implement")
def check_attention_scores(fn: Callable) -> Verdict:
    """fn(q (B, L_q, d_k), k (B, L_k, d_k)) → scaled scores q kᵀ/√d_k (B, L_q, L_k)."""
    name = "attention scores"
    q, k, _ = _inputs()
    got, failed = _call_checked(name, fn, (q, k), (2, 3, 5), "scores (B, L_q, L_k)")
    if failed is not None:
        return failed
    want = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if _close(got, want):
        return Verdict(name, True, "correct: q kᵀ / √d_k, shape (B, L_q, L_k)")
    if _close(got, want * math.sqrt(q.shape[-1])):
        return Verdict(name, False, "the dot products are right but not scaled: divide by √d_k")
    if _close(got, want / math.sqrt(q.shape[-1])):
        return Verdict(name, False, "you divided by d_k; the scale is √d_k")
    return Verdict(name, False, f"the values differ from q kᵀ/√d_k (largest difference "
                                f"{(got.to(want.dtype) - want).abs().max():.3g}); check which dimensions you transpose")


@_checker("implement")
def check_weighted_sum(fn: Callable) -> Verdict:
    """fn(scores (B, L_q, L_k), v (B, L_k, d_v)) → (out (B, L_q, d_v), weights (B, L_q, L_k))."""
    name = "softmax-weighted sum"
    q, k, v = _inputs(1)
    scores = q @ k.transpose(-2, -1) / 2
    got, failed = _call(name, fn, scores, v)
    if failed is not None:
        return failed
    if not (isinstance(got, tuple) and len(got) == 2):
        return Verdict(name, False, "return two tensors: (out, weights)")
    out, weights = got
    bad = _tensor(name, weights, (2, 3, 5), "weights (B, L_q, L_k)")
    bad = bad if bad is not None else _tensor(name, out, (2, 3, 6), "out (B, L_q, d_v)")
    if bad is not None:
        return bad
    want = scores.softmax(-1)
    if not _close(weights, want):
        if _close(weights, scores.softmax(-2)):
            return Verdict(name, False, "your weights sum to one over the queries: take the softmax over the keys (dim=-1)")
        sums = weights.detach().double().sum(-1)
        return Verdict(name, False, f"each row of weights should sum to 1 over the keys; yours sum to "
                                    f"{sums.min():.3f}..{sums.max():.3f}")
    if not _close(out, want @ v):
        return Verdict(name, False, "the weights are right but out is not weights @ v")
    return Verdict(name, True, "correct: each query's output is a weighted average of the values")


@_checker("implement")
def check_causal_mask(fn: Callable) -> Verdict:
    """fn(L) → boolean (L, L), True where query i may attend to key j (j <= i)."""
    name = "causal mask"
    got, failed = _call_checked(name, fn, (5,), (5, 5), "a mask (L, L)")
    if failed is not None:
        return failed
    if got.dtype != torch.bool:
        return Verdict(name, False, f"expected a boolean mask, got dtype {got.dtype}")
    want = attention.causal_mask(5)
    if torch.equal(got, want):
        return Verdict(name, True, "correct: True on and below the diagonal (a query sees itself and the past)")
    if torch.equal(got, ~want):
        return Verdict(name, False, "the mask is inverted: in this course True means 'may attend' (PyTorch's SDPA "
                                    "convention), so query i must see keys 0..i")
    if torch.equal(got, want.T):
        return Verdict(name, False, "your mask lets queries see the future: True must be on and below the diagonal")
    if torch.equal(got, want & ~torch.eye(5, dtype=torch.bool)):
        return Verdict(name, False, "the diagonal is missing: a query may attend to its own position")
    return Verdict(name, False, "not a causal mask: row i should be True exactly for keys 0..i")


@_checker("implement")
def check_padding_mask(fn: Callable) -> Verdict:
    """fn(lengths (B,) long, L) → boolean (B, 1, 1, L), True for the first lengths[b] keys of sequence b."""
    name = "padding mask"
    lengths = torch.tensor([3, 5, 1])
    got, failed = _call(name, fn, lengths, 5)
    if failed is not None:
        return failed
    want = attention.padding_mask(lengths, 5)  # (3, 1, 1, 5)
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (3, 5) and got.dtype == torch.bool \
            and torch.equal(got, want[:, 0, 0]):
        return Verdict(name, False, "the right True/False pattern as (B, L): add two dimensions, (B, 1, 1, L), so "
                                    "it broadcasts over the heads and the queries of scores (B, heads, L_q, L_k)")
    bad = _tensor(name, got, (3, 1, 1, 5), "a mask (B, 1, 1, L)")
    if bad is not None:
        return bad
    if got.dtype != torch.bool:
        return Verdict(name, False, f"expected a boolean mask, got dtype {got.dtype}")
    keys = torch.arange(5)
    if torch.equal(got, want):
        return Verdict(name, True, "correct: key j of sequence b is real when j < lengths[b]; the shape broadcasts "
                                   "over heads and queries")
    if torch.equal(got, ~want):
        return Verdict(name, False, "the mask is inverted: True marks the real tokens (those a query may attend to), "
                                    "False the padding")
    if torch.equal(got[:, 0, 0], keys[None, :] <= lengths[:, None]):
        return Verdict(name, False, "one key too many: positions start at 0, so a sequence of length n has keys "
                                    "0..n−1 (j < length, not j <= length)")
    if torch.equal(got[:, 0, 0], keys[None, :] < lengths[:, None] - 1):
        return Verdict(name, False, "one key too few: a sequence of length n has keys 0..n−1, all n of them real")
    return Verdict(name, False, "row b should be True exactly for keys 0..lengths[b]−1")


@_checker("implement")
def check_split_heads(fn: Callable) -> Verdict:
    """fn(x (B, L, D), num_heads) → (B, num_heads, L, D / num_heads), head h holding channels h·hd..(h+1)·hd."""
    name = "split heads"
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).view(2, 3, 8)
    got, failed = _call_checked(name, fn, (x, 2), (2, 2, 3, 4), "heads (B, num_heads, L, head_dim)")
    if failed is not None:
        return failed
    want = x.view(2, 3, 2, 4).transpose(1, 2)
    if _same(got, want):
        return Verdict(name, True, "correct: view (B, L, nh, hd), then swap L and nh")
    if _same(got, x.view(2, 2, 3, 4)):
        return Verdict(name, False, "right shape, wrong values: a plain view mixes tokens into heads; "
                                    "view as (B, L, nh, hd) first, then transpose")
    return Verdict(name, False, "right shape, wrong values: head h should hold channels h·hd to (h+1)·hd of every token")


def _attention_entropy(scale: bool, d_k: int = 64, keys: int = 8, n: int = 2000) -> float:
    """Mean entropy (nats) of softmax(q·k [/√d_k]) over ``keys`` keys, for standard-normal q and k."""
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(n, 1, d_k, generator=g), torch.randn(n, keys, d_k, generator=g)
    scores = (q @ k.transpose(1, 2)).squeeze(1)  # (n, keys)
    w = (scores / math.sqrt(d_k) if scale else scores).softmax(-1)
    return float(-(w * w.clamp_min(1e-30).log()).sum(-1).mean())


@_checker("predict")
def check_entropy_prediction(scaled, unscaled) -> Verdict:
    """Predicted mean entropy (nats) of one query's weights over 8 keys, d_k = 64: with and without 1/√d_k."""
    name = "entropy prediction"
    top = math.log(8)
    values = []
    for value in (scaled, unscaled):
        p, bad = _prediction(name, value, f"an entropy in nats, 0 to ln 8 = {top:.2f}", 0.0, top)
        if bad is not None:
            return bad
        values.append(p)
    measured = _attention_entropy(True), _attention_entropy(False)
    note = _first("check_entropy_prediction", tuple(values))
    return Verdict(name, True, f"with the scale {_off(values[0], measured[0])}; without it {_off(values[1], measured[1])}"
                               f" (0 = one-hot, {top:.2f} = uniform). Unscaled scores have a standard deviation of "
                               f"√64 = 8, so the softmax is nearly one-hot; scaled ones have 1, and the weights stay "
                               f"spread{note}")


def _attention_layer_flops(length: int, width: int = 512, heads: int = 8) -> int:
    with torch.device("meta"):
        layer = attention.MultiHeadAttention(width, heads)
        x = torch.empty(1, length, width)
    return _flops(lambda: layer(x))


@_checker("predict")
def check_cost_growth_prediction(ratio) -> Verdict:
    """Predicted ratio of the operations of one attention layer (width 512) at 2,048 tokens over 1,024 tokens."""
    name = "cost growth prediction"
    p, bad = _prediction(name, ratio, "a ratio, a positive number", 0.0)
    if bad is not None:
        return bad
    small, large = _attention_layer_flops(1024), _attention_layer_flops(2048)
    measured = large / small
    note = _first("check_cost_growth_prediction", (p,))
    return Verdict(name, True, f"{_off(p, measured)} ({small / 1e9:.1f} → {large / 1e9:.1f} GFLOP, counted by "
                               "torch.utils.flop_counter). Only the L×L part (scores, and weights @ v) grows 4×; the "
                               "q, k, v and output projections grow 2×, and at 1,024 tokens of width 512 the two cost "
                               f"the same, so (4 + 2) / (1 + 1) = 3. The L² term wins only when L ≫ width{note}")


# --------------------------------------------------------------------------------- 02 patches

@_checker("implement")
def check_patchify(fn: Callable) -> Verdict:
    """fn(images (B, C, H, W), P) → (B, N, C·P·P), row-major patches each flattened as (C, P, P)."""
    from .patches import patchify

    name = "patchify"
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    got, failed = _call_checked(name, fn, (images, 4), (2, 4, 48), "patches (B, N, C·P·P)")
    if failed is not None:
        return failed
    want = patchify(images, 4)
    if _same(got, want):
        return Verdict(name, True, "correct: row-major patches, each flattened as (C, P, P)")
    for i in range(4):
        if not torch.equal(_sorted(got[0, i]), _sorted(want[0, i])):
            return Verdict(name, False, f"patch {i} holds pixels from outside its {4}x{4} square: after unfold, "
                                        "keep both grid dimensions together before the pixel dimensions")
    return Verdict(name, False, "each patch has the right pixels in the wrong order: flatten as (C, P, P), "
                                "channel first, then the patch's rows, then its columns")


@_checker("implement")
def check_unpatchify(fn: Callable) -> Verdict:
    """fn(tokens (B, N, C·P·P), P, image_size, channels) → images (B, C, H, W): patchify undone."""
    from .patches import patchify

    name = "unpatchify"
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)  # 2×2 patches of 4×4
    tokens = patchify(images, 4)  # (2, 4, 48)
    got, failed = _call_checked(name, fn, (tokens, 4, 8, 3), (2, 3, 8, 8), "images (B, C, H, W)")
    if failed is not None:
        return failed
    if _same(got, images):
        return Verdict(name, True, "correct: token i goes back to grid cell (i // n_w, i % n_w), its numbers as (C, P, P)")
    if not torch.equal(_sorted(got), _sorted(images)):
        return Verdict(name, False, "your image does not hold the tokens' numbers: only reshape and permute, "
                                    "never compute")

    def squares(img):  # the sorted pixels of each 4×4 square of the grid, (B, cell) → values
        return [[_sorted(img[b, :, r * 4:(r + 1) * 4, c * 4:(c + 1) * 4]) for r in range(2) for c in range(2)]
                for b in range(2)]

    mine, truth = squares(got), squares(images)
    if all(torch.equal(m, t) for bm, bt in zip(mine, truth) for m, t in zip(bm, bt)):
        return Verdict(name, False, "every square holds the right patch, but its pixels are in the wrong order: "
                                    "a token is flattened as (C, P, P), channel first, then rows, then columns")
    transposed = [[bt[c * 2 + r] for r in range(2) for c in range(2)] for bt in truth]
    if all(torch.equal(m, t) for bm, bt in zip(mine, transposed) for m, t in zip(bm, bt)):
        return Verdict(name, False, "the patches land transposed: token i belongs at grid row i // n_w and column "
                                    "i % n_w (row-major), not the other way round")
    return Verdict(name, False, "the squares of your image mix pixels from several patches: view the tokens as "
                                "(B, n_h, n_w, C, P, P), then put C first and each grid dimension right before its "
                                "pixel dimension, (B, C, n_h, P, n_w, P), and reshape")


def _embedding_counts(image: int, patch: int, width: int = 768) -> tuple[int, int]:
    """(tokens including the class token, parameters of the patch embedding) of a real PatchEmbedding."""
    from .patches import PatchEmbedding

    with torch.device("meta"):
        embed = PatchEmbedding(image, patch, 3, width)
        tokens = embed(torch.empty(1, 3, image, image)).shape[1] + 1  # + the class token
    return tokens, sum(p.numel() for p in embed.parameters())


@_checker("predict")
def check_token_count(tokens, entries) -> Verdict:
    """A 224×224 image, 16×16 patches, plus a class token: (tokens, attention-matrix entries). Exact."""
    name = "token count"
    for value in (tokens, entries):
        _, bad = _prediction(name, value, "a count, a whole number", 0)
        if bad is not None:
            return bad
    n, _ = _embedding_counts(224, 16)
    with torch.device("meta"):  # run a real attention layer on that many tokens: its weights' shape
        _, weights = attention.MultiHeadAttention(768, 12)(torch.empty(1, n, 768), return_attention=True)
    measured = f"measured: a PatchEmbedding gives {n - 1} tokens + 1 class token; each head's weights are " \
               f"{tuple(weights.shape[-2:])}"
    note = _first("check_token_count", (tokens, entries))
    if (tokens, entries) == (n, weights.shape[-1] * weights.shape[-2]):
        return Verdict(name, True, f"correct: 14 × 14 patches + 1 class token, and the square of that ({measured}){note}")
    if tokens == n - 1:
        return Verdict(name, False, f"you counted the patches; the encoder also sees the class token ({measured})")
    if tokens == n and entries != tokens**2:
        return Verdict(name, False, "the token count is right; an attention matrix has one entry per (query, key) pair")
    return Verdict(name, False, f"count the patches per side (224 / 16), square it, add the class token ({measured})")


@_checker("predict")
def check_patch_size_prediction(param_ratio, entries_ratio) -> Verdict:
    """Patch 16 → 8 on a 224×224 image, width 768: predicted ratios (embedding parameters, attention entries)."""
    name = "patch size prediction"
    predicted = []
    for value in (param_ratio, entries_ratio):
        p, bad = _prediction(name, value, "a ratio, a positive number", 0.0)
        if bad is not None:
            return bad
        predicted.append(p)
    (n16, p16), (n8, p8) = _embedding_counts(224, 16), _embedding_counts(224, 8)
    note = _first("check_patch_size_prediction", tuple(predicted))
    return Verdict(name, True, f"parameters: {_off(predicted[0], p8 / p16)} ({p16:,} → {p8:,}); attention entries: "
                               f"{_off(predicted[1], (n8 / n16) ** 2)} ({n16}² → {n8}²). Smaller patches mean a "
                               "smaller embedding matrix (each patch has 4× fewer numbers) but 4× the tokens and ~16× "
                               f"the attention: the cost moves from parameters to compute{note}")


@_checker("predict")
def check_mean_pool_prediction(without_positions, with_positions) -> Verdict:
    """Scramble 16 patch tokens: does the mean of an encoder's outputs change ("same" or "changes"), without and
    with positional encodings added?"""
    from .positional import sinusoidal_2d
    from .vit import Encoder

    name = "mean pool prediction"
    choices = ("same", "changes")
    predicted = []
    for value in (without_positions, with_positions):
        c, bad = _choice(name, value, choices)
        if bad is not None:
            return bad
        predicted.append(c)
    g = torch.Generator().manual_seed(0)
    encoder = _seeded(Encoder(64, 2, 4, 128), g)
    tokens = torch.randn(1, 16, 64, generator=g)  # (B, N, D) patch embeddings
    perm = torch.randperm(16, generator=g)
    pos = sinusoidal_2d(4, 4, 64)  # stays with the grid cell
    gaps = []
    with torch.no_grad():
        for p in (0, pos):
            gaps.append(float((encoder(tokens + p).mean(1) - encoder(tokens[:, perm] + p).mean(1)).abs().max()))
    measured = ["same" if gap < 1e-4 else "changes" for gap in gaps]
    said = [f"you said {p!r}, it {'stays the same' if m == 'same' else 'changes'}: {'right' if p == m else 'wrong'}"
            for p, m in zip(predicted, measured)]
    note = _first("check_mean_pool_prediction", tuple(predicted))
    size = [f"largest change {gap:.2f}" if gap >= 1e-4 else "largest change below 1e-4" for gap in gaps]
    return Verdict(name, True, f"without positions {said[0]} ({size[0]}); with positions {said[1]} ({size[1]}). "
                               "Attention is permutation-equivariant, so "
                               "scrambling only reorders the outputs and their mean cannot move, unless a position "
                               f"vector tells the cells apart{note}")


# --------------------------------------------------------------------------------- 03 positional encodings

@_checker("implement")
def check_sinusoidal_1d(fn: Callable) -> Verdict:
    """fn(num_positions, dim) → (num_positions, dim) with sin on even and cos on odd channels."""
    from .positional import sinusoidal_1d

    name = "sinusoidal encoding"
    got, failed = _call_checked(name, fn, (16, 64), (16, 64), "a table (num_positions, dim)")
    if failed is not None:
        return failed
    want = sinusoidal_1d(16, 64)
    if _close(got, want):
        return Verdict(name, True, "correct: PE[p, 2i] = sin(p/10000^(2i/D)), PE[p, 2i+1] = cos(same angle)")
    if _close(got[:, 0::2], want[:, 1::2]):
        return Verdict(name, False, "sin and cos are swapped: even channels take sin, odd channels cos")
    if _close(got[:, 0::2], want[:, 0::2]):
        return Verdict(name, False, "the sin channels are right; each cos channel must use the same angle as the "
                                    "sin channel just before it (exponent 2i/D, not (2i+1)/D)")
    return Verdict(name, False, "values differ from the formula; check the exponent 2i/D and that positions start at 0")


@_checker("implement")
def check_cosine_similarity(fn: Callable) -> Verdict:
    """fn(x (N, D)) → (N, N) cosine similarities."""
    from .positional import cosine_similarity_matrix

    name = "cosine similarity matrix"
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(4)) * torch.arange(1, 7).view(6, 1)
    got, failed = _call_checked(name, fn, (x,), (6, 6), "similarities (N, N)")
    if failed is not None:
        return failed
    want = cosine_similarity_matrix(x)
    if _close(got, want):
        return Verdict(name, True, "correct: dot products of unit vectors; 1 on the diagonal")
    if _close(got, x @ x.T, atol=1e-4):
        return Verdict(name, False, "these are raw dot products: divide each row by its norm first")
    return Verdict(name, False, "the diagonal must be 1 and the matrix symmetric: normalise each row to length 1")


def _neighbour_similarity(dim: int, offset: int = 1) -> float:
    """Cosine similarity of positions 0 and ``offset`` in the 1D sinusoidal table of width ``dim``."""
    from .positional import cosine_similarity_matrix, sinusoidal_1d

    return float(cosine_similarity_matrix(sinusoidal_1d(offset + 1, dim))[0, offset])


@_checker("predict")
def check_similarity_prediction(offset_20, offset_200) -> Verdict:
    """Predicted cosine similarity, 1D sinusoidal encoding with D = 64, of positions 0 and 20, and 0 and 200."""
    name = "similarity prediction"
    predicted = []
    for value in (offset_20, offset_200):
        p, bad = _prediction(name, value, "a cosine similarity, -1 to 1", -1.0, 1.0)
        if bad is not None:
            return bad
        predicted.append(p)
    measured = _neighbour_similarity(64, 20), _neighbour_similarity(64, 200)
    note = _first("check_similarity_prediction", tuple(predicted))
    return Verdict(name, True, f"20 apart: {_off(predicted[0], measured[0])}; 200 apart: "
                               f"{_off(predicted[1], measured[1])}. The similarity is the mean of cos(ω_i·k) over the "
                               "32 frequencies: the fast channels decorrelate within a few positions, but the slow "
                               "ones (the slowest has a wavelength of 2π·10000^(62/64) ≈ 2π·7,500 ≈ 47,000 positions) "
                               f"have hardly turned, so distant positions stay clearly similar{note}")


@_checker("experiment")
def check_dimension_experiment(dim, why) -> Verdict:
    """The smallest even D for which positions 0 and 1 of the 1D sinusoidal table are at least 0.95 similar."""
    name = "dimension experiment"
    if _missing(dim):
        return Verdict(name, False, "not done yet: write the D you found (in place of ...) and why")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2 or dim % 2:
        return Verdict(name, False, f"D is a positive even whole number (sin and cos come in pairs); got {dim!r}")
    bad = _sentence(name, why)
    if bad is not None:
        return bad
    here = _neighbour_similarity(dim)
    if here < 0.95:
        return Verdict(name, False, f"with D = {dim} neighbours are {here:.4f} similar, below 0.95: try more channels")
    below = _neighbour_similarity(dim - 2) if dim > 2 else -1.0
    if below >= 0.95:
        return Verdict(name, False, f"D = {dim} works ({here:.4f}), but D = {dim - 2} already gives {below:.4f}: "
                                    "find the smallest")
    wide = _neighbour_similarity(512)
    return Verdict(name, True, f"measured: D = {dim} gives {here:.4f}, D = {dim - 2} {below:.4f}. The similarity of "
                               "neighbours is the mean of cos(ω_i) over the D/2 frequencies, and whatever D is they run "
                               "from 1 down to nearly 1/10000: a wider table samples that same range more densely, so "
                               "the few fast pairs that decorrelate neighbours make up a smaller share of the mean. It "
                               f"does not approach 1: it levels off near 0.974 (D = 512 gives {wide:.4f})")


# --------------------------------------------------------------------------------- 04 ViT

@_checker("implement")
def check_encoder_block(fn: Callable) -> Verdict:
    """fn(x (B, L, D), block) → (B, L, D): a pre-norm block's forward from its parts
    ``block.norm1``, ``block.attn``, ``block.norm2``, ``block.mlp`` (a ``course_utils.vit.Block``)."""
    from .vit import Block

    name = "encoder block"
    g = torch.Generator().manual_seed(0)
    block = _seeded(Block(8, 2, 16), g)  # non-trivial norms and biases, so misplaced ones show
    x = torch.randn(2, 5, 8, generator=g)
    with torch.no_grad():
        got, failed = _call_checked(name, fn, (x, block), (2, 5, 8), "tokens (B, L, D)")
        if failed is not None:
            return failed
        if _close(got, block(x)):
            return Verdict(name, True, "correct: x + attn(norm1(x)), then + mlp(norm2(·)): the residual path stays clean")
        post = block.norm1(x + block.attn(x))
        post = block.norm2(post + block.mlp(post))
        if _close(got, post):
            return Verdict(name, False, "that is the post-norm block (nn.TransformerEncoderLayer's default): "
                                        "normalise the input of each branch, not the sum")
        no_res = block.mlp(block.norm2(block.attn(block.norm1(x))))
        if _close(got, no_res):
            return Verdict(name, False, "the residual connections are missing: add each branch's output to its input")
    return Verdict(name, False, "two lines: x = x + attn(norm1(x)); x = x + mlp(norm2(x))")


@_checker("predict")
def check_vit_param_count(count, patch_size: int = 4) -> Verdict:
    """Trainable parameters of ViT(image 32, patch ``patch_size``, 3 channels, 10 classes, D 192, 6 blocks, MLP 384). Exact."""
    from .vit import ViT, count_parameters

    name = "ViT parameter count"
    if _missing(count):
        return Verdict(name, False, "not done yet: write your prediction first (a count, in place of None), "
                                    "then run this cell")
    with torch.device("meta"):
        model = ViT(32, patch_size, embed_dim=192, depth=6, num_heads=3, mlp_dim=384)
    want, blocks = count_parameters(model), count_parameters(model.encoder.blocks)
    d, h, n = 192, 384, (32 // patch_size) ** 2
    note = _first(f"check_vit_param_count/{patch_size}", (count,))
    if count == want:
        return Verdict(name, True, f"correct: {want:,}; the 6 blocks hold {blocks / want:.0%} of them{note}")
    off = f"the model has {want:,}, you counted {count:,}" if isinstance(count, int) else f"got {count!r}"
    if count == want - 6 * (2 * d + 2 * d) - 2 * d:
        return Verdict(name, False, f"close: the LayerNorms have parameters too (a scale and a shift per channel); {off}")
    if count in (want - d - n * d, want - n * d, want - d):
        return Verdict(name, False, f"close: count the class token (D) and the learned positions (N × D); {off}")
    if count == want - 6 * (5 * d + h) - d - 10:
        return Verdict(name, False, f"don't forget the biases of the Linear layers (and of the patch projection); {off}")
    return Verdict(name, False, "add up: patch projection (P²·C·D + D), class token, positions (N·D), per block "
                                "2 LayerNorms + qkv (D·3D + 3D) + out (D·D + D) + MLP (D·H + H + H·D + D), final "
                                f"LayerNorm, head (D·10 + 10); {off}")


def _vit_flops(patch_size: int) -> int:
    from .vit import ViT

    with torch.device("meta"):
        model = ViT(32, patch_size, embed_dim=192, depth=6, num_heads=3, mlp_dim=384)
        images = torch.empty(1, 3, 32, 32)
    return _flops(lambda: model(images))


@_checker("predict")
def check_patch_cost_prediction(ratio) -> Verdict:
    """Predicted ratio of a forward pass's operations: ViT with 4×4 patches over the same ViT with 8×8 patches."""
    name = "patch cost prediction"
    p, bad = _prediction(name, ratio, "a ratio, a positive number", 0.0)
    if bad is not None:
        return bad
    four, eight = _vit_flops(4), _vit_flops(8)
    square = 6 * 2 * 2 * 65**2 * 192  # 6 blocks × (scores + weights @ v) × 2 FLOPs per multiply-add, 65 tokens
    note = _first("check_patch_cost_prediction", (p,))
    return Verdict(name, True, f"{_off(p, four / eight)} ({eight / 1e6:.0f} → {four / 1e6:.0f} MFLOP per image). "
                               "Tokens go from 16 + 1 to 64 + 1 (3.8×); the projections and MLPs, which grow like "
                               f"the tokens, dominate: the 65×65 attention matrices are only {square / four:.0%} of "
                               "the work at this size. A time budget buys about 4× fewer epochs (the ladder's patch-4 "
                               f"rung, on the notes' smaller model: a third){note}")


# --------------------------------------------------------------------------------- 05 Swin

@_checker("implement")
def check_window_partition(fn: Callable) -> Verdict:
    """fn(x (B, H, W, C), M) → windows (B·num_windows, M, M, C), windows row-major."""
    from .swin import window_partition

    name = "window partition"
    x = torch.arange(2 * 8 * 8 * 3, dtype=torch.float32).view(2, 8, 8, 3)
    got, failed = _call_checked(name, fn, (x, 4), (8, 4, 4, 3), "windows (B·num_windows, M, M, C)")
    if failed is not None:
        return failed
    want = window_partition(x, 4)
    if _same(got, want):
        return Verdict(name, True, "correct: split H and W into (windows, M), bring the two window indices together")
    if _same(got, x.view(8, 4, 4, 3)):
        return Verdict(name, False, "a plain view cuts rows of the map, not squares: view as (B, H/M, M, W/M, M, C), "
                                    "then permute")
    if torch.equal(_sorted(got), _sorted(want)):
        return Verdict(name, False, "every pixel is there, but windows are not M×M squares in row-major order")
    return Verdict(name, False, "the values differ from the input's: did you reshape without permuting back?")


@_checker("implement")
def check_window_reverse(fn: Callable) -> Verdict:
    """fn(windows (B·num_windows, M, M, C), M, H, W) → the map (B, H, W, C): window_partition undone."""
    from .swin import window_partition, window_reverse

    name = "window reverse"
    x = torch.arange(2 * 8 * 8 * 3, dtype=torch.float32).view(2, 8, 8, 3)  # two maps of 2×2 windows of 4×4
    windows = window_partition(x, 4)  # (8, 4, 4, 3)
    got, failed = _call_checked(name, fn, (windows, 4, 8, 8), (2, 8, 8, 3), "the map (B, H, W, C)")
    if failed is not None:
        return failed
    if _same(got, x):
        return Verdict(name, True, "correct: view as (B, H/M, W/M, M, M, C), put each window index next to its "
                                   "offset, reshape: the exact inverse of window_partition")
    if _same(got, windows.reshape(2, 8, 8, 3)):
        return Verdict(name, False, "a plain view lays each window's rows out as rows of the map: view as "
                                    "(B, H/M, W/M, M, M, C), then permute to (B, H/M, M, W/M, M, C)")
    swapped = windows.view(2, 2, 2, 4, 4, 3).transpose(1, 2).reshape(8, 4, 4, 3)  # the window grid transposed
    if _same(got, window_reverse(swapped, 4, 8, 8)):
        return Verdict(name, False, "the windows are placed column by column: window k belongs at grid row "
                                    "k // (W/M) and column k % (W/M)")
    if torch.equal(_sorted(got), _sorted(x)):
        return Verdict(name, False, "every value is there, but not in its place: each window must land as an "
                                    "M×M square, windows in row-major order")
    return Verdict(name, False, "the values differ from the windows': only reshape and permute")


@_checker("implement")
def check_relative_index(fn: Callable) -> Verdict:
    """fn(M) → (M², M²) long: index of (Δrow, Δcol) + (M−1) in a (2M−1)² table, row-major."""
    from .swin import relative_position_index

    name = "relative position index"
    got, failed = _call_checked(name, fn, (3,), (9, 9), "an index (M², M²)")
    if failed is not None:
        return failed
    if got.is_floating_point() and not torch.equal(got, got.round()):
        return Verdict(name, False, "indices are whole numbers: combine integer offsets (torch.arange gives integers)")
    want = relative_position_index(3)
    if torch.equal(got.long(), want):
        return Verdict(name, True, "correct: 25 = (2·3−1)² offsets, the same offset always the same index")
    if torch.equal(got.long(), want.T):
        return Verdict(name, False, "transposed: entry [i, j] is the offset of query i relative to key j (i minus j)")
    if got.max() > 24 or got.min() < 0:
        return Verdict(name, False, f"indices must lie in 0..24 for M=3, yours span {int(got.min())}..{int(got.max())}: "
                                    "add M−1 to each offset before combining")
    return Verdict(name, False, "combine the shifted offsets as Δrow·(2M−1) + Δcol")


@_checker("predict")
def check_window_count(regular, shifted) -> Verdict:
    """A 56×56 token map (Swin-T's first stage), 7×7 windows, shift 3: (regular windows, windows of the
    shifted partition before the cyclic shift). Exact."""
    from .swin import window_partition

    name = "window count"
    for value in (regular, shifted):
        _, bad = _prediction(name, value, "a count, a whole number", 0)
        if bad is not None:
            return bad
    side, m, s = 56, 7, 3
    n_regular = window_partition(torch.zeros(1, side, side, 1), m).shape[0]
    band = (torch.arange(side) + m - s) // m  # which window band of the shifted partition each row (or column) is in
    n_shifted = len(band.unique()) ** 2
    measured = f"measured: window_partition gives {n_regular}; the shifted partition's bands per side: {len(band.unique())}"
    note = _first("check_window_count", (regular, shifted))
    if (regular, shifted) == (n_regular, n_shifted):
        return Verdict(name, True, f"correct: {n_regular} windows of 7×7; shifted by 3, {n_shifted} windows (the "
                                   "border ones partial), which the cyclic shift packs back into 64 full ones, "
                                   f"masked ({measured}){note}")
    if regular != n_regular:
        return Verdict(name, False, f"the regular partition: 56 / 7 = 8 windows per side, on both sides ({measured})")
    if shifted == n_regular:
        return Verdict(name, False, "the shifted partition is not another regular one: shifted by 3, each side has a "
                                    f"partial window of 4 tokens, 7 full ones and a partial one of 3 ({measured})")
    return Verdict(name, False, f"count the windows along one side of the shifted partition, then square ({measured})")


def _window_attention_flops(side: int, dim: int, window: int) -> int:
    from .swin import WindowAttention

    with torch.device("meta"):
        layer = WindowAttention(dim, window, 3)
        x = torch.empty((side // window) ** 2, window * window, dim)  # every window of one map, as a batch
    return _flops(lambda: layer(x))


@_checker("predict")
def check_window_cost_prediction(ratio) -> Verdict:
    """Predicted ratio of operations, global attention over 7×7-window attention, on a 56×56 map with C = 96."""
    name = "window cost prediction"
    p, bad = _prediction(name, ratio, "a ratio, a positive number", 0.0)
    if bad is not None:
        return bad
    whole, windows = _window_attention_flops(56, 96, 56), _window_attention_flops(56, 96, 7)
    note = _first("check_window_cost_prediction", (p,))
    return Verdict(name, True, f"{_off(p, whole / windows)} ({whole / 1e9:.2f} vs {windows / 1e9:.2f} GFLOP, counted "
                               "on real layers). Per token the projections cost 4C² either way; attention costs 2·hw·C "
                               "globally but 2·M²·C in windows, so the ratio is (4C + 2hw) / (4C + 2M²) = "
                               f"(384 + 6272) / (384 + 98): far from hw / M² = 64, because the projections are shared{note}")


# --------------------------------------------------------------------------------- 06 hybrids

@_checker("implement")
def check_conv_attention(fn: Callable) -> Verdict:
    """fn(q, k, v), each (B, C, N) (channels first, N positions) → out (B, C, N), attention over positions."""
    name = "conv attention"
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(2, 8, 6, generator=g) for _ in range(3))
    got, failed = _call_checked(name, fn, (q, k, v), (2, 8, 6), "out (B, C, N)")
    if failed is not None:
        return failed
    weights = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(8), dim=-1)  # (B, N_q, N_k)
    want = v @ weights.transpose(1, 2)  # (B, C, N_q)
    if _close(got, want):
        return Verdict(name, True, "correct: each position's output averages the values with its own weights, scaled by 1/√C")
    unscaled = torch.softmax(q.transpose(1, 2) @ k, dim=-1)
    if _close(got, v @ unscaled.transpose(1, 2)):
        return Verdict(name, False, "the weights are applied the right way round, but the scores are not divided by √C")
    if _close(got, v @ weights) or _close(got, v @ unscaled):
        return Verdict(name, False, "v @ weights sums over the query index: each output column must use one query's "
                                    "row of weights (transpose the weights)")
    constant = torch.ones(2, 8, 6)
    again, _ = _call(name, fn, q, k, constant)
    if isinstance(again, torch.Tensor) and again.shape == constant.shape and not _close(again, constant):
        return Verdict(name, False, "a constant value map must come out unchanged (weights summing to one); yours does not")
    return Verdict(name, False, "the values differ from softmax(qᵀk/√C) applied to v; check the shapes of each product")


def _one_token_layer(features: int, flat: int = 128):
    """A notes' SelfAttentionLayer(features) fed 8 vectors of ``flat`` numbers, cut into tokens of ``features``
    numbers each (B, flat / features, features), forward and backward: (layer, its weights)."""
    from .hybrid import LectureSelfAttention

    g = torch.Generator().manual_seed(0)
    layer = _seeded(LectureSelfAttention(features), g, scale=0.1)
    x = torch.randn(8, flat, generator=g).view(8, -1, features)  # (B, T, F); T = 1 when features = flat
    layer(x).sum().backward()
    return layer, layer.last_weights


@_checker("predict")
def check_attention_param_count(total, useful) -> Verdict:
    """The notes' SelfAttentionLayer(128): (all parameters, those that ever get a gradient on flat inputs). Exact."""
    name = "parameter count"
    for value in (total, useful):
        _, bad = _prediction(name, value, "a count, a whole number", 0)
        if bad is not None:
            return bad
    layer, _ = _one_token_layer(128)
    n_total = sum(p.numel() for p in layer.parameters())
    n_useful = sum(p.numel() for p in layer.parameters() if p.grad is not None and p.grad.abs().max() > 0)
    measured = f"measured on a real layer after a backward pass: {n_total:,} parameters, {n_useful:,} with a gradient"
    note = _first("check_attention_param_count", (total, useful))
    if (total, useful) == (n_total, n_useful):
        return Verdict(name, True, f"correct: three Linear(128, 128) maps, and only the value projection matters "
                               f"({measured}){note}")
    if total == 3 * 128 * 128:
        return Verdict(name, False, f"don't forget the biases: each Linear(128, 128) has 128 of them ({measured})")
    if total == n_total:
        return Verdict(name, False, f"the total is right; with one token, which projections can change the output? ({measured})")
    return Verdict(name, False, f"count weights and biases of the query, key and value maps ({measured})")


@_checker("experiment")
def check_tokens_experiment(features_per_token, why) -> Verdict:
    """The notes' layer fed each 128-number vector cut into tokens of ``features_per_token`` numbers (and built
    with that many features): does it attend now (weights other than 1, gradients reaching the queries)?"""
    name = "tokens experiment"
    if _missing(features_per_token):
        return Verdict(name, False, "not done yet: write the number of features per token you chose (in place of ...) and why")
    f = features_per_token
    if isinstance(f, bool) or not isinstance(f, int) or f < 1 or 128 % f:
        return Verdict(name, False, f"features per token must divide the 128 numbers (view(B, -1, F)); got {f!r}")
    bad = _sentence(name, why)
    if bad is not None:
        return bad
    layer, weights = _one_token_layer(f)
    tokens = 128 // f
    grad = float(layer.query.weight.grad.abs().max())
    if tokens == 1:
        return Verdict(name, False, f"with {f} features per token each vector is still ONE token: weights all 1, "
                                    f"query gradient {grad:.1f}; change the number of features per token")
    return Verdict(name, True, f"measured: {tokens} tokens of {f} features; weights from {float(weights.min()):.2f} "
                               f"to {float(weights.max()):.2f} (not all 1), the query weights get a gradient (largest "
                               f"{grad:.2g}): with several tokens there is something to choose between")


# --------------------------------------------------------------------------------- 07 distillation

_TEMPERATURE_LOGITS = (6.0, 3.0, 1.0, 0.0, 0.0, -1.0, -1.0, -2.0, -2.0, -3.0)
"""The teacher's logits in exercise 1 of notebook 07 (ten classes)."""


@_checker("predict")
def check_temperature_prediction(top_probability) -> Verdict:
    """Predicted top probability of softmax(z / 3) for notebook 07's logits z (softmax(z) puts 0.94 on the top class)."""
    name = "temperature prediction"
    p, bad = _prediction(name, top_probability, "a probability, 0 to 1", 0.0, 1.0)
    if bad is not None:
        return bad
    z = torch.tensor(_TEMPERATURE_LOGITS, dtype=torch.float64)
    at = {tau: float((z / tau).softmax(0).max()) for tau in (1, 3, 10)}
    note = _first("check_temperature_prediction", (p,))
    return Verdict(name, True, f"{_off(p, at[3])}. Top probability at τ = 1: {at[1]:.3f}, τ = 3: {at[3]:.3f}, "
                               f"τ = 10: {at[10]:.3f} (uniform: 0.1). Dividing by τ shrinks every gap between "
                               "logits, so the runners-up (the teacher's 'dark knowledge') become visible to the "
                               f"student{note}")


def _soft_loss(student: torch.Tensor, teacher: torch.Tensor, tau: float) -> torch.Tensor:
    """τ² · KL(softmax(teacher/τ) ‖ softmax(student/τ)), averaged over the batch."""
    import torch.nn.functional as F

    return tau * tau * F.kl_div(F.log_softmax(student / tau, -1), F.log_softmax(teacher / tau, -1),
                                reduction="batchmean", log_target=True)


@_checker("implement")
def check_soft_distillation_loss(fn: Callable) -> Verdict:
    """fn(student_logits (B, K), teacher_logits (B, K), tau) → the soft distillation loss, a scalar."""
    import torch.nn.functional as F

    name = "soft distillation loss"
    g = torch.Generator().manual_seed(7)
    s, t, tau = torch.randn(5, 10, generator=g) * 2, torch.randn(5, 10, generator=g) * 3, 2.5
    got, failed = _call_checked(name, fn, (s, t, tau), (), "the loss as a scalar tensor (shape ())")
    if failed is not None:
        return failed
    want = _soft_loss(s, t, tau)
    if _close(got, want, atol=1e-5):
        other, failed = _call_checked(name, fn, (t, s, 1.0), (), "the loss as a scalar tensor (shape ())")
        if failed is None and _close(other, _soft_loss(t, s, 1.0), atol=1e-5):
            return Verdict(name, True, f"correct: τ²·KL(teacher ‖ student) at temperature τ, averaged over the batch "
                                       f"({float(got):.4f} here)")
        return Verdict(name, False, "right for τ = 2.5 but not for τ = 1: use the tau you are given, not a constant")
    kl = want / tau**2
    mistakes = [
        (kl, "this is the KL without the factor τ²: its gradients shrink like 1/τ², so the teacher would fall "
             "silent at high temperature"),
        (tau**2 * F.kl_div(F.log_softmax(t / tau, -1), F.log_softmax(s / tau, -1), reduction="batchmean",
                           log_target=True), "the KL is the wrong way round: the teacher's distribution is the "
                                             "target, KL(teacher ‖ student)"),
        (want / s.shape[-1], "averaged over every entry (reduction='mean') instead of over the batch "
                             "('batchmean'): the loss is K times too small"),
        (tau**2 * F.kl_div(F.log_softmax(s, -1), F.log_softmax(t / tau, -1), reduction="batchmean", log_target=True),
         "the student's logits must be divided by τ too"),
        (tau**2 * F.kl_div(F.log_softmax(s / tau, -1), F.log_softmax(t, -1), reduction="batchmean", log_target=True),
         "the teacher's logits must be divided by τ too"),
    ]
    for wrong, message in mistakes:
        if _close(got, wrong, atol=1e-5):
            return Verdict(name, False, message)
    return Verdict(name, False, f"expected {float(want):.4f}, got {float(got):.4f}: softmax both sets of logits at "
                                "temperature τ, take KL(teacher ‖ student) summed over classes, average over the "
                                "batch, multiply by τ²")


def _soft_gradient_norm(tau: float, scaled: bool) -> float:
    """Norm of d(loss)/d(student logits) for a fixed pair of logit batches, with or without the factor τ²."""
    g = torch.Generator().manual_seed(11)
    s = (torch.randn(8, 10, generator=g) * 2).requires_grad_(True)
    t = torch.randn(8, 10, generator=g) * 2
    loss = _soft_loss(s, t, tau) / (1 if scaled else tau * tau)
    loss.backward()
    return float(s.grad.norm())


@_checker("experiment")
def check_tau_squared_experiment(ratio, why) -> Verdict:
    """Gradient norm of the soft loss *without* τ² at τ = 1 divided by the same at τ = 4 (fixed logits)."""
    name = "tau squared experiment"
    if _missing(ratio):
        return Verdict(name, False, "not done yet: write the ratio you measured (in place of ...) and why")
    r, bad = _prediction(name, ratio, "a ratio of two gradient norms, a positive number", 0.0)
    if bad is not None:
        return bad
    bad = _sentence(name, why)
    if bad is not None:
        return bad
    measured = _soft_gradient_norm(1.0, False) / _soft_gradient_norm(4.0, False)
    with_factor = _soft_gradient_norm(1.0, True) / _soft_gradient_norm(4.0, True)
    if abs(r - measured) > 0.1 * measured:
        if abs(r - with_factor) <= 0.1 * with_factor:
            return Verdict(name, False, f"{r:.3g} is the ratio WITH the factor τ²; measure the loss without it "
                                        "(divide the course's soft loss by τ²)")
        return Verdict(name, False, f"you wrote {r:.3g} but the checker measures {measured:.3g}: use the cell's "
                                    "logits, τ = 1 and τ = 4, and the norm of the gradient with respect to the "
                                    "student's logits")
    return Verdict(name, True, f"measured: without τ² the gradient is {measured:.1f}× weaker at τ = 4 than at τ = 1 "
                               f"(τ² = 16); with it, the ratio is {with_factor:.2f}. Softening by τ scales the "
                               "gradient by about 1/τ², so the factor τ² keeps the teacher's voice as loud at any "
                               "temperature (Hinton et al., 2015)")
