"""Exercise checkers: call one with your function and read the verdict.

Each checker runs your function on small inputs, compares it with the course's tested
version and says what was expected, what came, and a hint. It never shows the solution.
A verdict is truthy when the exercise is solved; in a notebook it displays as one line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from . import attention


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


def _call(name: str, fn: Callable, *args):
    """Run the student's function; a Verdict instead of a result when it cannot run."""
    try:
        return fn(*args), None
    except NotImplementedError:
        return None, Verdict(name, False, "not done yet: replace the `raise NotImplementedError` with your code")
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
    return (None, failed) if failed is not None else (got, None)


def _inputs(seed: int = 0, b: int = 2, lq: int = 3, lk: int = 5, d: int = 4, dv: int = 6):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, lq, d, generator=g), torch.randn(b, lk, d, generator=g), torch.randn(b, lk, dv, generator=g))


def check_attention_scores(fn: Callable) -> Verdict:
    """fn(q (B, L_q, d_k), k (B, L_k, d_k)) → scaled scores q kᵀ/√d_k (B, L_q, L_k)."""
    name = "attention scores"
    q, k, _ = _inputs()
    got, failed = _call_checked(name, fn, (q, k,), (2, 3, 5), "scores (B, L_q, L_k)")
    if failed is not None:
        return failed
    want = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if torch.allclose(got, want, atol=1e-5):
        return Verdict(name, True, "correct: q kᵀ / √d_k, shape (B, L_q, L_k)")
    if torch.allclose(got, want * math.sqrt(q.shape[-1]), atol=1e-5):
        return Verdict(name, False, "the dot products are right but not scaled: divide by √d_k")
    if torch.allclose(got, want * q.shape[-1] ** 0.5 / q.shape[-1], atol=1e-5):
        return Verdict(name, False, "you divided by d_k; the scale is √d_k")
    return Verdict(name, False, f"the values differ from q kᵀ/√d_k (largest difference {(got - want).abs().max():.3g}); "
                                "check which dimensions you transpose")


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
    if not torch.allclose(weights, want, atol=1e-5):
        if torch.allclose(weights, scores.softmax(-2), atol=1e-5):
            return Verdict(name, False, "your weights sum to one over the queries: take the softmax over the keys (dim=-1)")
        sums = weights.sum(-1)
        return Verdict(name, False, f"each row of weights should sum to 1 over the keys; yours sum to "
                                    f"{sums.min():.3f}..{sums.max():.3f}")
    if not torch.allclose(out, want @ v, atol=1e-5):
        return Verdict(name, False, "the weights are right but out is not weights @ v")
    return Verdict(name, True, "correct: each query's output is a weighted average of the values")


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


def check_split_heads(fn: Callable) -> Verdict:
    """fn(x (B, L, D), num_heads) → (B, num_heads, L, D / num_heads), head h holding channels h·hd..(h+1)·hd."""
    name = "split heads"
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).view(2, 3, 8)
    got, failed = _call_checked(name, fn, (x, 2,), (2, 2, 3, 4), "heads (B, num_heads, L, head_dim)")
    if failed is not None:
        return failed
    want = x.view(2, 3, 2, 4).transpose(1, 2)
    if torch.equal(got, want):
        return Verdict(name, True, "correct: view (B, L, nh, hd), then swap L and nh")
    if torch.equal(got, x.view(2, 2, 3, 4)):
        return Verdict(name, False, "right shape, wrong values: a plain view mixes tokens into heads; "
                                    "view as (B, L, nh, hd) first, then transpose")
    return Verdict(name, False, "right shape, wrong values: head h should hold channels h·hd to (h+1)·hd of every token")


def check_patchify(fn: Callable) -> Verdict:
    """fn(images (B, C, H, W), P) → (B, N, C·P·P), row-major patches each flattened as (C, P, P)."""
    from .patches import patchify

    name = "patchify"
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    got, failed = _call_checked(name, fn, (images, 4,), (2, 4, 48), "patches (B, N, C·P·P)")
    if failed is not None:
        return failed
    want = patchify(images, 4)
    if torch.equal(got, want):
        return Verdict(name, True, "correct: row-major patches, each flattened as (C, P, P)")
    for i in range(4):
        if not torch.equal(torch.sort(got[0, i]).values, torch.sort(want[0, i]).values):
            return Verdict(name, False, f"patch {i} holds pixels from outside its {4}x{4} square: after unfold, "
                                        "keep both grid dimensions together before the pixel dimensions")
    return Verdict(name, False, "each patch has the right pixels in the wrong order: flatten as (C, P, P), "
                                "channel first, then the patch's rows, then its columns")


def check_sinusoidal_1d(fn: Callable) -> Verdict:
    """fn(num_positions, dim) → (num_positions, dim) with sin on even and cos on odd channels."""
    from .positional import sinusoidal_1d

    name = "sinusoidal encoding"
    got, failed = _call_checked(name, fn, (16, 64,), (16, 64), "a table (num_positions, dim)")
    if failed is not None:
        return failed
    want = sinusoidal_1d(16, 64)
    got = got.float()
    if torch.allclose(got, want, atol=1e-5):
        return Verdict(name, True, "correct: PE[p, 2i] = sin(p/10000^(2i/D)), PE[p, 2i+1] = cos(same angle)")
    if torch.allclose(got[:, 0::2], want[:, 1::2], atol=1e-5):
        return Verdict(name, False, "sin and cos are swapped: even channels take sin, odd channels cos")
    if torch.allclose(got[:, 0::2], want[:, 0::2], atol=1e-5):
        return Verdict(name, False, "the sin channels are right; each cos channel must use the same angle as the "
                                    "sin channel just before it (exponent 2i/D, not (2i+1)/D)")
    return Verdict(name, False, "values differ from the formula; check the exponent 2i/D and that positions start at 0")


def check_cosine_similarity(fn: Callable) -> Verdict:
    """fn(x (N, D)) → (N, N) cosine similarities."""
    from .positional import cosine_similarity_matrix

    name = "cosine similarity matrix"
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(4)) * torch.arange(1, 7).view(6, 1)
    got, failed = _call_checked(name, fn, (x,), (6, 6), "similarities (N, N)")
    if failed is not None:
        return failed
    want = cosine_similarity_matrix(x)
    if torch.allclose(got.float(), want, atol=1e-5):
        return Verdict(name, True, "correct: dot products of unit vectors; 1 on the diagonal")
    if torch.allclose(got.float(), x @ x.T, atol=1e-4):
        return Verdict(name, False, "these are raw dot products: divide each row by its norm first")
    return Verdict(name, False, "the diagonal must be 1 and the matrix symmetric: normalise each row to length 1")


def check_conv_attention(fn: Callable) -> Verdict:
    """fn(q, k, v), each (B, C, N) (channels first, N positions) → out (B, C, N), attention over positions."""
    name = "conv attention"
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(2, 8, 6, generator=g) for _ in range(3))
    got, failed = _call_checked(name, fn, (q, k, v,), (2, 8, 6), "out (B, C, N)")
    if failed is not None:
        return failed
    weights = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(8), dim=-1)  # (B, N_q, N_k)
    want = v @ weights.transpose(1, 2)  # (B, C, N_q)
    if torch.allclose(got, want, atol=1e-5):
        return Verdict(name, True, "correct: each position's output averages the values with its own weights, scaled by 1/√C")
    unscaled = torch.softmax(q.transpose(1, 2) @ k, dim=-1)
    if torch.allclose(got, v @ unscaled.transpose(1, 2), atol=1e-5):
        return Verdict(name, False, "the weights are applied the right way round, but the scores are not divided by √C")
    if torch.allclose(got, v @ weights, atol=1e-5) or torch.allclose(got, v @ unscaled, atol=1e-5):
        return Verdict(name, False, "v @ weights sums over the query index: each output column must use one query's "
                                    "row of weights (transpose the weights)")
    constant = torch.ones(2, 8, 6)
    again, _ = _call(name, fn, q, k, constant)
    if isinstance(again, torch.Tensor) and not torch.allclose(again, constant, atol=1e-5):
        return Verdict(name, False, "a constant value map must come out unchanged (weights summing to one); yours does not")
    return Verdict(name, False, "the values differ from softmax(qᵀk/√C) applied to v; check the shapes of each product")


def check_token_count(tokens, entries) -> Verdict:
    """A 224×224 image, 16×16 patches, plus a class token: (tokens, attention-matrix entries)."""
    name = "token count"
    if tokens is Ellipsis or entries is Ellipsis:
        return Verdict(name, False, "not done yet: replace each ... with your answer")
    n = (224 // 16) ** 2
    if (tokens, entries) == (n + 1, (n + 1) ** 2):
        return Verdict(name, True, "correct: 14 × 14 patches + 1 class token, and the square of that")
    if tokens == n:
        return Verdict(name, False, "you counted the patches; the encoder also sees the class token")
    if tokens == n + 1 and entries != tokens**2:
        return Verdict(name, False, "the token count is right; an attention matrix has one entry per (query, key) pair")
    return Verdict(name, False, "count the patches per side (224 / 16), square it, add the class token")


def check_attention_param_count(total, useful) -> Verdict:
    """The notes' SelfAttentionLayer(128): (all parameters, those that can ever get a gradient on flat inputs)."""
    name = "parameter count"
    if total is Ellipsis or useful is Ellipsis:
        return Verdict(name, False, "not done yet: replace each ... with your answer")
    one = 128 * 128 + 128
    if (total, useful) == (3 * one, one):
        return Verdict(name, True, "correct: three Linear(128, 128) maps, and only the value projection matters")
    if total == 3 * 128 * 128:
        return Verdict(name, False, "don't forget the biases: each Linear(128, 128) has 128 of them")
    if total == 3 * one:
        return Verdict(name, False, "the total is right; with one token, which projections can change the output?")
    return Verdict(name, False, "count weights and biases of the query, key and value maps")


def check_window_partition(fn: Callable) -> Verdict:
    """fn(x (B, H, W, C), M) → windows (B·num_windows, M, M, C), windows row-major."""
    from .swin import window_partition

    name = "window partition"
    x = torch.arange(2 * 8 * 8 * 3, dtype=torch.float32).view(2, 8, 8, 3)
    got, failed = _call_checked(name, fn, (x, 4,), (8, 4, 4, 3), "windows (B·num_windows, M, M, C)")
    if failed is not None:
        return failed
    want = window_partition(x, 4)
    if torch.equal(got, want):
        return Verdict(name, True, "correct: split H and W into (windows, M), bring the two window indices together")
    if torch.equal(got, x.view(8, 4, 4, 3)):
        return Verdict(name, False, "a plain view cuts rows of the map, not squares: view as (B, H/M, M, W/M, M, C), "
                                    "then permute")
    if torch.equal(torch.sort(got.flatten()).values, torch.sort(want.flatten()).values):
        return Verdict(name, False, "every pixel is there, but windows are not M×M squares in row-major order")
    return Verdict(name, False, "the values differ from the input's: did you reshape without permuting back?")


def check_relative_index(fn: Callable) -> Verdict:
    """fn(M) → (M², M²) long: index of (Δrow, Δcol) + (M−1) in a (2M−1)² table, row-major."""
    from .swin import relative_position_index

    name = "relative position index"
    got, failed = _call_checked(name, fn, (3,), (9, 9), "an index (M², M²)")
    if failed is not None:
        return failed
    want = relative_position_index(3)
    if torch.equal(got.long(), want):
        return Verdict(name, True, "correct: 25 = (2·3−1)² offsets, the same offset always the same index")
    if torch.equal(got.long(), want.T):
        return Verdict(name, False, "transposed: entry [i, j] is the offset of query i relative to key j (i minus j)")
    if got.max() > 24 or got.min() < 0:
        return Verdict(name, False, f"indices must lie in 0..24 for M=3, yours span {int(got.min())}..{int(got.max())}: "
                                    "add M−1 to each offset before combining")
    return Verdict(name, False, "combine the shifted offsets as Δrow·(2M−1) + Δcol")


def check_encoder_block(fn: Callable) -> Verdict:
    """fn(x (B, L, D), block) → (B, L, D): a pre-norm block's forward from its parts
    ``block.norm1``, ``block.attn``, ``block.norm2``, ``block.mlp`` (a ``course_utils.vit.Block``)."""
    from .vit import Block

    name = "encoder block"
    torch.manual_seed(0)
    block = Block(8, 2, 16).eval()
    with torch.no_grad():
        for norm in (block.norm1, block.norm2):  # non-trivial norms, so misplaced ones show
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        got, failed = _call_checked(name, fn, (x, block,), (2, 5, 8), "tokens (B, L, D)")
        if failed is not None:
            return failed
        if torch.allclose(got, block(x), atol=1e-5):
            return Verdict(name, True, "correct: x + attn(norm1(x)), then + mlp(norm2(·)): the residual path stays clean")
        post = block.norm1(x + block.attn(x))
        post = block.norm2(post + block.mlp(post))
        if torch.allclose(got, post, atol=1e-5):
            return Verdict(name, False, "that is the post-norm block (nn.TransformerEncoderLayer's default): "
                                        "normalise the input of each branch, not the sum")
        no_res = block.mlp(block.norm2(block.attn(block.norm1(x))))
        if torch.allclose(got, no_res, atol=1e-5):
            return Verdict(name, False, "the residual connections are missing: add each branch's output to its input")
    return Verdict(name, False, "two lines: x = x + attn(norm1(x)); x = x + mlp(norm2(x))")


def check_vit_param_count(count) -> Verdict:
    """Trainable parameters of ViT(image 32, patch 4, 3 channels, 10 classes, D 192, 6 blocks, MLP 384)."""
    from .vit import ViT, count_parameters

    name = "ViT parameter count"
    if count is Ellipsis:
        return Verdict(name, False, "not done yet: replace ... with your answer")
    model = ViT(32, 4, embed_dim=192, depth=6, num_heads=3, mlp_dim=384)
    want, blocks = count_parameters(model), count_parameters(model.encoder.blocks)
    d, n = 192, (32 // 4) ** 2
    if count == want:
        return Verdict(name, True, f"correct: {want:,}; the 6 blocks hold {blocks / want:.0%} of them")
    if count == want - 6 * (2 * d + 2 * d) - 2 * d:
        return Verdict(name, False, "close: the LayerNorms have parameters too (a scale and a shift per channel)")
    if count in (want - d - n * d, want - n * d, want - d):
        return Verdict(name, False, "close: count the class token (D) and the learned positions (N × D)")
    if count == want - 6 * (4 * d + 384 + d) - d - (d + 10) - 2 * d:
        return Verdict(name, False, "don't forget the biases of the Linear layers (and of the patch projection)")
    return Verdict(name, False, "add up: patch projection (P²·C·D + D), class token, positions (N·D), per block "
                                "2 LayerNorms + qkv (D·3D + 3D) + out (D·D + D) + MLP (D·H + H + H·D + D), final "
                                "LayerNorm, head (D·10 + 10)")
