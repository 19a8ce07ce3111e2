"""Every diagnostic branch of every checker, reached by the wrong answer it diagnoses.

Each row: a checker, the student's answer, whether it should pass, and words its message must
contain. tests/test_checks_robust.py covers copies, dtypes, time limits and random state.
"""

from __future__ import annotations

import math

import pytest
import torch

from course_utils import attention, checks, patches, positional, swin


def raises(exc):
    def fn(*args):
        raise exc

    return fn


def not_done(*args):
    raise NotImplementedError


# ---------------------------------------------------------------- answers, right and classically wrong

def scores_right(q, k):
    return q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])


def softmax_sum(dim):
    return lambda s, v: (s.softmax(dim) @ v, s.softmax(dim))


def tril(n):
    return torch.ones(n, n, dtype=torch.bool).tril()


def pad_mask(rule, shape=(slice(None), None, None)):
    def fn(lengths, n):
        keys = torch.arange(n)
        return rule(keys[None, :], lengths[:, None])[shape]

    return fn


def notes_patchify(x, p):  # the notes' unfold recipe: pixels from neighbouring patches
    b, c, h, w = x.shape
    return x.unfold(2, p, p).unfold(3, p, p).permute(0, 2, 4, 1, 3, 5).reshape(b, (h // p) * (w // p), -1)


def hwc_patchify(x, p):  # right pixels per patch, flattened (P, P, C)
    b, c, h, w = x.shape
    return x.unfold(2, p, p).unfold(3, p, p).permute(0, 2, 3, 4, 5, 1).reshape(b, (h // p) * (w // p), -1)


def unpatchify_hwc(t, p, size, c):  # each token read as (P, P, C)
    b, s = t.shape[0], size // p
    return t.reshape(b, s, s, p, p, c).permute(0, 5, 1, 3, 2, 4).reshape(b, c, size, size)


def unpatchify_transposed(t, p, size, c):  # grid read column-major
    b, s = t.shape[0], size // p
    return t.reshape(b, s, s, c, p, p).permute(0, 3, 2, 4, 1, 5).reshape(b, c, size, size)


def pe(sin_first=True, odd_exponent=False, start=0):
    def fn(n, d):
        pos = torch.arange(start, start + n, dtype=torch.float64)[:, None]
        i = torch.arange(d // 2, dtype=torch.float64)
        even, odd = pos / 10000 ** (2 * i / d), pos / 10000 ** ((2 * i + (1 if odd_exponent else 0)) / d)
        table = torch.empty(n, d, dtype=torch.float64)
        table[:, 0::2], table[:, 1::2] = (even.sin(), odd.cos()) if sin_first else (even.cos(), odd.sin())
        return table.float()

    return fn


def post_norm(x, b):
    x = b.norm1(x + b.attn(x))
    return b.norm2(x + b.mlp(x))


def conv_attention(scale=True, transpose=True, factor=1.0):
    def fn(q, k, v):
        s = q.transpose(1, 2) @ k
        w = torch.softmax(s / math.sqrt(q.shape[1]) if scale else s, dim=-1)
        return factor * (v @ (w.transpose(1, 2) if transpose else w))

    return fn


def relative(transposed=False, shift=True, rows=None):
    def fn(m):
        r, c = torch.arange(m * m) // m, torch.arange(m * m) % m
        dr, dc = r[:, None] - r[None, :], c[:, None] - c[None, :]
        if transposed:
            dr, dc = -dr, -dc
        if shift:
            dr, dc = dr + m - 1, dc + m - 1
        return dr * (rows or 2 * m - 1) + dc

    return fn


VIT4 = 1_806_346  # ViT(32, patch 4, 192 wide, 6 blocks, MLP 384)
D, H = 192, 384

def soft_loss(squared=True, swap=False, per_entry=False, student_tau=True, teacher_tau=True):
    """A soft distillation loss, right or with one classic mistake."""
    def loss(s, t, tau):
        if swap:
            s, t = t, s
        log_s = (s / tau if student_tau else s).log_softmax(-1)
        log_t = (t / tau if teacher_tau else t).log_softmax(-1)
        kl = log_t.exp() * (log_t - log_s)
        kl = kl.mean() if per_entry else kl.sum(-1).mean()
        return kl * (tau**2 if squared else 1)
    return loss


CASES = [
    # helpers shared by every function checker
    (checks.check_attention_scores, (42,), False, "expected your function"),
    (checks.check_attention_scores, (not_done,), False, "not done yet"),
    (checks.check_attention_scores, (raises(ZeroDivisionError("boom")),), False, "raised ZeroDivisionError: boom"),
    (checks.check_attention_scores, (lambda q, k: [1, 2],), False, "as a torch.Tensor, got list"),
    # 01 attention
    (checks.check_attention_scores, (scores_right,), True, "correct"),
    (checks.check_attention_scores, (lambda q, k: q @ k.transpose(-2, -1),), False, "not scaled"),
    (checks.check_attention_scores, (lambda q, k: q @ k.transpose(-2, -1) / q.shape[-1],), False, "divided by d_k"),
    (checks.check_attention_scores, (lambda q, k: k @ q.transpose(-2, -1),), False, "shape (2, 3, 5), got (2, 5, 3)"),
    (checks.check_attention_scores, (lambda q, k: scores_right(q, k) + 1,), False, "check which dimensions"),
    (checks.check_weighted_sum, (softmax_sum(-1),), True, "correct"),
    (checks.check_weighted_sum, (lambda s, v: s.softmax(-1) @ v,), False, "return two tensors"),
    (checks.check_weighted_sum, (lambda s, v: (s.softmax(-1) @ v, s.softmax(-1)[0]),), False, "weights (B, L_q, L_k)"),
    (checks.check_weighted_sum, (lambda s, v: (v, s.softmax(-1)),), False, "out (B, L_q, d_v)"),
    (checks.check_weighted_sum, (softmax_sum(-2),), False, "over the keys (dim=-1)"),
    (checks.check_weighted_sum, (lambda s, v: (s.exp() @ v, s.exp()),), False, "yours sum to"),
    (checks.check_weighted_sum, (lambda s, v: (s.softmax(-1) @ v + 1, s.softmax(-1)),), False, "not weights @ v"),
    (checks.check_causal_mask, (tril,), True, "correct"),
    (checks.check_causal_mask, (lambda n: torch.ones(n, n).tril(),), False, "boolean"),
    (checks.check_causal_mask, (lambda n: ~tril(n),), False, "inverted"),
    (checks.check_causal_mask, (lambda n: tril(n).T,), False, "future"),
    (checks.check_causal_mask, (lambda n: tril(n) & ~torch.eye(n, dtype=torch.bool),), False, "diagonal is missing"),
    (checks.check_causal_mask, (lambda n: torch.ones(n, n, dtype=torch.bool),), False, "not a causal mask"),
    (checks.check_padding_mask, (pad_mask(lambda j, n: j < n),), True, "correct"),
    (checks.check_padding_mask, (pad_mask(lambda j, n: j < n, (slice(None),)),), False, "add two dimensions"),
    (checks.check_padding_mask, (pad_mask(lambda j, n: j < n, (slice(None), None)),), False, "a mask (B, 1, 1, L)"),
    (checks.check_padding_mask, (pad_mask(lambda j, n: (j < n).float()),), False, "boolean"),
    (checks.check_padding_mask, (pad_mask(lambda j, n: j >= n),), False, "inverted"),
    (checks.check_padding_mask, (pad_mask(lambda j, n: j <= n),), False, "one key too many"),
    (checks.check_padding_mask, (pad_mask(lambda j, n: j < n - 1),), False, "one key too few"),
    (checks.check_padding_mask, (pad_mask(lambda j, n: (j >= 0) & (n > 0)),), False, "True exactly for keys"),
    (checks.check_split_heads, (lambda x, h: x.view(x.shape[0], x.shape[1], h, -1).transpose(1, 2),), True, "correct"),
    (checks.check_split_heads, (lambda x, h: x.view(x.shape[0], h, x.shape[1], -1),), False, "plain view"),
    (checks.check_split_heads, (lambda x, h: x.view(x.shape[0], x.shape[1], -1, h).permute(0, 3, 1, 2),), False,
     "head h should hold"),
    (checks.check_entropy_prediction, (1.0, 1.0), True, "measured 1.71"),
    (checks.check_entropy_prediction, (None, 0.3), False, "write your prediction first"),
    (checks.check_entropy_prediction, (1.7, 3.0), False, "cannot be right"),
    (checks.check_entropy_prediction, ("high", 0.3), False, "got 'high'"),
    (checks.check_cost_growth_prediction, (4,), True, "measured 3"),
    (checks.check_cost_growth_prediction, (None,), False, "write your prediction first"),
    (checks.check_cost_growth_prediction, (-1,), False, "cannot be right"),
    # 02 patches
    (checks.check_patchify, (patches.patchify,), True, "correct"),
    (checks.check_patchify, (notes_patchify,), False, "outside its"),
    (checks.check_patchify, (hwc_patchify,), False, "wrong order"),
    (checks.check_unpatchify, (patches.unpatchify,), True, "correct"),
    (checks.check_unpatchify, (lambda t, p, s, c: 2 * patches.unpatchify(t, p, s, c),), False, "never compute"),
    (checks.check_unpatchify, (unpatchify_hwc,), False, "right patch, but its pixels are in the wrong order"),
    (checks.check_unpatchify, (unpatchify_transposed,), False, "transposed"),
    (checks.check_unpatchify, (lambda t, p, s, c: t.reshape(t.shape[0], c, s, s),), False, "mix pixels"),
    (checks.check_token_count, (197, 197**2), True, "correct"),
    (checks.check_token_count, (None, None), False, "write your prediction first"),
    (checks.check_token_count, (196, 196**2), False, "you counted the patches"),
    (checks.check_token_count, (197, 2 * 197), False, "one entry per (query, key) pair"),
    (checks.check_token_count, (100, 5), False, "count the patches per side"),
    (checks.check_patch_size_prediction, (4.0, 4.0), True, "measured 0.251"),
    (checks.check_patch_size_prediction, (0.25, None), False, "write your prediction first"),
    (checks.check_patch_size_prediction, (0.25, -2), False, "cannot be right"),
    (checks.check_mean_pool_prediction, ("same", "changes"), True, "right"),
    (checks.check_mean_pool_prediction, ("changes", "same"), True, "wrong"),
    (checks.check_mean_pool_prediction, (None, "same"), False, "write your prediction first"),
    (checks.check_mean_pool_prediction, ("maybe", "same"), False, "one of ('same', 'changes')"),
    # 03 positional encodings
    (checks.check_sinusoidal_1d, (positional.sinusoidal_1d,), True, "correct"),
    (checks.check_sinusoidal_1d, (pe(sin_first=False),), False, "swapped"),
    (checks.check_sinusoidal_1d, (pe(odd_exponent=True),), False, "(2i+1)/D"),
    (checks.check_sinusoidal_1d, (pe(start=1),), False, "positions start at 0"),
    (checks.check_cosine_similarity, (positional.cosine_similarity_matrix,), True, "correct"),
    (checks.check_cosine_similarity, (lambda x: x @ x.T,), False, "raw dot products"),
    (checks.check_cosine_similarity, (lambda x: x @ x.T / x.norm() ** 2,), False, "diagonal must be 1"),
    (checks.check_similarity_prediction, (0.0, 0.0), True, "measured 0.59"),
    (checks.check_similarity_prediction, (None, 0.0), False, "write your prediction first"),
    (checks.check_similarity_prediction, (0.5, 1.5), False, "cannot be right"),
    (checks.check_dimension_experiment, (24, "wider tables add slower waves to the mean"), True, "D = 24 gives 0.9504"),
    (checks.check_dimension_experiment, (..., "wider tables add slower waves"), False, "not done yet"),
    (checks.check_dimension_experiment, (23, "wider tables add slower waves"), False, "positive even whole number"),
    (checks.check_dimension_experiment, (24, ...), False, "not done yet: explain"),
    (checks.check_dimension_experiment, (24, "slow"), False, "a sentence of a few words"),
    (checks.check_dimension_experiment, (16, "wider tables add slower waves"), False, "below 0.95"),
    (checks.check_dimension_experiment, (26, "wider tables add slower waves"), False, "find the smallest"),
    # 04 ViT
    (checks.check_encoder_block, (lambda x, b: b(x),), True, "correct"),
    (checks.check_encoder_block, (post_norm,), False, "post-norm"),
    (checks.check_encoder_block, (lambda x, b: b.mlp(b.norm2(b.attn(b.norm1(x)))),), False, "residual"),
    (checks.check_encoder_block, (lambda x, b: b(x) + 1,), False, "two lines"),
    (checks.check_vit_param_count, (VIT4,), True, "correct: 1,806,346"),
    (checks.check_vit_param_count, (1_824_778, 8), True, "correct: 1,824,778"),
    (checks.check_vit_param_count, (None,), False, "write your prediction first"),
    (checks.check_vit_param_count, (VIT4 - 6 * 4 * D - 2 * D,), False, "LayerNorms"),
    (checks.check_vit_param_count, (VIT4 - D - 64 * D,), False, "class token"),
    (checks.check_vit_param_count, (VIT4 - 64 * D,), False, "learned positions"),
    (checks.check_vit_param_count, (VIT4 - D,), False, "class token"),
    (checks.check_vit_param_count, (VIT4 - 6 * (5 * D + H) - D - 10,), False, "biases"),
    (checks.check_vit_param_count, (1_000_000,), False, "add up"),
    (checks.check_patch_cost_prediction, (16,), True, "measured 4"),
    (checks.check_patch_cost_prediction, (None,), False, "write your prediction first"),
    # 05 Swin
    (checks.check_window_partition, (swin.window_partition,), True, "correct"),
    (checks.check_window_partition, (lambda x, m: x.view(-1, m, m, x.shape[-1]),), False, "plain view"),
    (checks.check_window_partition, (lambda x, m: swin.window_partition(x.transpose(1, 2), m),), False,
     "every pixel is there"),
    (checks.check_window_partition, (lambda x, m: 2 * swin.window_partition(x, m),), False, "values differ"),
    (checks.check_window_reverse, (swin.window_reverse,), True, "correct"),
    (checks.check_window_reverse, (lambda w, m, h, wd: w.reshape(-1, h, wd, w.shape[-1]),), False, "plain view"),
    (checks.check_window_reverse, (lambda w, m, h, wd: swin.window_reverse(
        w.view(-1, h // m, wd // m, m, m, w.shape[-1]).transpose(1, 2).reshape(w.shape), m, h, wd),), False,
     "column by column"),
    (checks.check_window_reverse, (lambda w, m, h, wd: swin.window_reverse(w, m, h, wd).transpose(1, 2),), False,
     "every value is there"),
    (checks.check_window_reverse, (lambda w, m, h, wd: 2 * swin.window_reverse(w, m, h, wd),), False,
     "values differ"),
    (checks.check_relative_index, (swin.relative_position_index,), True, "correct"),
    (checks.check_relative_index, (lambda m: swin.relative_position_index(m).float() + 0.5,), False, "whole numbers"),
    (checks.check_relative_index, (relative(transposed=True),), False, "transposed"),
    (checks.check_relative_index, (relative(shift=False),), False, "must lie in 0..24"),
    (checks.check_relative_index, (relative(rows=3),), False, "Δrow·(2M−1) + Δcol"),
    (checks.check_window_count, (64, 81), True, "correct"),
    (checks.check_window_count, (None, 81), False, "write your prediction first"),
    (checks.check_window_count, (8, 81), False, "8 windows per side"),
    (checks.check_window_count, (64, 64), False, "not another regular one"),
    (checks.check_window_count, (64, 72), False, "count the windows along one side"),
    (checks.check_window_cost_prediction, (64,), True, "measured 13.8"),
    (checks.check_window_cost_prediction, (None,), False, "write your prediction first"),
    # 06 hybrids
    (checks.check_conv_attention, (conv_attention(),), True, "correct"),
    (checks.check_conv_attention, (conv_attention(scale=False),), False, "not divided by √C"),
    (checks.check_conv_attention, (conv_attention(transpose=False),), False, "sums over the query index"),
    (checks.check_conv_attention, (conv_attention(scale=False, transpose=False),), False, "sums over the query index"),
    (checks.check_conv_attention, (conv_attention(factor=2.0),), False, "constant value map"),
    (checks.check_conv_attention, (lambda q, k, v: v.mean(-1, keepdim=True).expand_as(v),), False,
     "check the shapes of each product"),
    (checks.check_attention_param_count, (3 * (128 * 128 + 128), 128 * 128 + 128), True, "correct"),
    (checks.check_attention_param_count, (None, 1), False, "write your prediction first"),
    (checks.check_attention_param_count, (3 * 128 * 128, 128 * 128), False, "biases"),
    (checks.check_attention_param_count, (3 * (128 * 128 + 128), 3 * (128 * 128 + 128)), False,
     "which projections can change the output"),
    (checks.check_attention_param_count, (128, 128), False, "count weights and biases"),
    (checks.check_tokens_experiment, (32, "four tokens give each query keys to weigh"), True, "4 tokens of 32"),
    (checks.check_tokens_experiment, (..., "four tokens give each query keys to weigh"), False, "not done yet"),
    (checks.check_tokens_experiment, (100, "four tokens give each query keys to weigh"), False, "must divide"),
    (checks.check_tokens_experiment, (32, None), False, "not done yet: explain"),
    (checks.check_tokens_experiment, (128, "still a single token per sample"), False, "still ONE token"),
    # 07 distillation
    (checks.check_temperature_prediction, (0.5,), True, "measured 0.452"),
    (checks.check_temperature_prediction, (None,), False, "write your prediction first"),
    (checks.check_temperature_prediction, (1.5,), False, "cannot be right"),
    (checks.check_soft_distillation_loss, (soft_loss(),), True, "correct"),
    (checks.check_soft_distillation_loss, (soft_loss(squared=False),), False, "without the factor τ²"),
    (checks.check_soft_distillation_loss, (soft_loss(swap=True),), False, "wrong way round"),
    (checks.check_soft_distillation_loss, (soft_loss(per_entry=True),), False, "reduction='mean'"),
    (checks.check_soft_distillation_loss, (soft_loss(student_tau=False),), False, "student's logits"),
    (checks.check_soft_distillation_loss, (soft_loss(teacher_tau=False),), False, "teacher's logits"),
    (checks.check_soft_distillation_loss, (lambda s, t, tau: soft_loss()(s, t, 2.5),), False, "not for τ = 1"),
    (checks.check_soft_distillation_loss, (lambda s, t, tau: (s - t).square().mean(),), False, "expected"),
    (checks.check_tau_squared_experiment, (14.19, "softening shrinks the gradient by tau squared"), True, "14.2×"),
    (checks.check_tau_squared_experiment, (0.887, "softening shrinks the gradient by tau squared"), False,
     "WITH the factor"),
    (checks.check_tau_squared_experiment, (4.0, "softening shrinks the gradient by tau squared"), False,
     "the checker measures"),
    (checks.check_tau_squared_experiment, (..., None), False, "not done yet"),
    (checks.check_tau_squared_experiment, (14.19, "short"), False, "a few words"),
]


@pytest.mark.parametrize("checker, args, ok, words", CASES,
                         ids=[f"{c.__name__}-{i}" for i, (c, *_rest) in enumerate(CASES)])
def test_branch(checker, args, ok, words):
    verdict = checker(*args)
    assert bool(verdict) is ok and words in repr(verdict), repr(verdict)


def test_every_checker_has_cases():
    covered = {c.__name__ for c, *_rest in CASES}
    assert covered == set(checks.CHECKERS), f"checkers without branch cases: {set(checks.CHECKERS) - covered}"


def test_the_hand_written_right_answers_agree_with_the_course():
    """The right answers written out above equal the tested course functions (a PASS means what it says)."""
    lengths = torch.tensor([2, 4])
    assert torch.equal(attention.causal_mask(4), tril(4))
    assert torch.equal(attention.padding_mask(lengths, 4), pad_mask(lambda j, n: j < n)(lengths, 4))
    assert torch.equal(relative()(4), swin.relative_position_index(4))
    torch.testing.assert_close(pe()(16, 64), positional.sinusoidal_1d(16, 64))
