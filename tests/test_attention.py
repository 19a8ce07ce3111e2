import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import attention as A
from course_utils import checks


@pytest.mark.parametrize("shape", [(4, 8), (2, 5, 8), (2, 3, 7, 16), (3, 1, 1, 4)])
@pytest.mark.parametrize("masked", [False, True])
def test_sdpa_matches_pytorch(shape, masked):
    g = torch.Generator().manual_seed(len(shape))
    *batch, length, d = shape
    q, k = torch.randn(*batch, length, d, generator=g), torch.randn(*batch, length + 2, d, generator=g)
    v = torch.randn(*batch, length + 2, d + 3, generator=g)
    mask = torch.rand(*batch, length, length + 2, generator=g) > 0.4 if masked else None
    if mask is not None:
        mask[..., 0] = True  # every query may attend to at least one key
    out, weights = A.scaled_dot_product_attention(q, k, v, mask)
    assert out.shape == (*batch, length, d + 3) and weights.shape == (*batch, length, length + 2)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
    if mask is not None:
        assert (weights[~mask] == 0).all()


def test_sdpa_is_the_formula():
    q, k, v = torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2)
    out, w = A.scaled_dot_product_attention(q, k, v)
    manual = torch.exp(q @ k.T / 2) / torch.exp(q @ k.T / 2).sum(1, keepdim=True)
    torch.testing.assert_close(w, manual)
    torch.testing.assert_close(out, manual @ v)


def test_gradients_flow_through_attention():
    q, k, v = (torch.randn(2, 4, 8, requires_grad=True) for _ in range(3))
    out, _ = A.scaled_dot_product_attention(q, k, v, A.causal_mask(4))
    out.sum().backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in (q, k, v))


def test_bad_inputs_are_named():
    q = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match="d_k=4 but k has d_k=5"):
        A.scaled_dot_product_attention(q, torch.randn(2, 3, 5), torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="L_k=3 keys but v has 2"):
        A.scaled_dot_product_attention(q, q, torch.randn(2, 2, 4))
    with pytest.raises(TypeError, match="dtype torch.float32 is not allowed"):
        A.scaled_dot_product_attention(q, q, q, torch.ones(3, 3))
    with pytest.raises(ValueError, match="does not broadcast"):
        A.scaled_dot_product_attention(q, q, q, torch.ones(2, 2, dtype=torch.bool))
    empty = torch.ones(3, 3, dtype=torch.bool)
    empty[1] = False
    with pytest.raises(ValueError, match=r"no key at all for query index \(0, 1\)"):
        A.scaled_dot_product_attention(q, q, q, empty)


def test_masks():
    assert A.causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    pad = A.padding_mask([2, 3], 4)
    assert pad.shape == (2, 1, 1, 4)
    assert pad[:, 0, 0].tolist() == [[True, True, False, False], [True, True, True, False]]
    with pytest.raises(ValueError, match=r"lengths \[0, 3\] must be"):
        A.padding_mask([0, 3], 4)
    with pytest.raises(ValueError, match="length 0"):
        A.causal_mask(0)


@pytest.mark.parametrize("embed_dim, heads, bias", [(16, 4, True), (12, 3, False), (8, 1, True)])
def test_multihead_matches_torch(embed_dim, heads, bias):
    torch.manual_seed(embed_dim)
    mha = nn.MultiheadAttention(embed_dim, heads, bias=bias, batch_first=True).eval()
    ours = A.MultiHeadAttention.from_torch(mha).eval()
    x = torch.randn(3, 6, embed_dim)
    want, want_w = mha(x, x, x, average_attn_weights=False)
    got, got_w = ours(x, return_attention=True)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(got_w, want_w, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(ours(x), want, atol=1e-6, rtol=1e-5)  # the fused SDPA path
    causal = A.causal_mask(6)
    # nn.MultiheadAttention's boolean mask means the opposite: True = NOT allowed
    torch.testing.assert_close(ours(x, mask=causal), mha(x, x, x, attn_mask=~causal)[0], atol=1e-6, rtol=1e-5)
    pad = A.padding_mask([6, 4, 2], 6)
    want_pad = mha(x, x, x, key_padding_mask=~pad[:, 0, 0])[0]
    torch.testing.assert_close(ours(x, mask=pad), want_pad, atol=1e-6, rtol=1e-5)


def test_multihead_shapes_gradients_and_errors():
    m = A.MultiHeadAttention(8, 2)
    x = torch.randn(2, 5, 8, requires_grad=True)
    y, w = m(x, return_attention=True)
    assert y.shape == (2, 5, 8) and w.shape == (2, 2, 5, 5)
    y.pow(2).mean().backward()
    assert x.grad is not None and all(p.grad is not None for p in m.parameters())
    with pytest.raises(ValueError, match="embed_dim 10 is not divisible by num_heads 3"):
        A.MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match=r"input of shape \(2, 5, 7\) is not \(B, L, 8\)"):
        m(torch.randn(2, 5, 7))
    with pytest.raises(ValueError, match="batch_first=True"):
        A.MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2))
    bad = torch.ones(5, 5, dtype=torch.bool)
    bad[2] = False
    with pytest.raises(ValueError, match="no key at all"):
        m(torch.randn(2, 5, 8), mask=bad)


# ------------------------------------------------------------------ the checkers judge correctly


def test_checkers_pass_correct_solutions():
    assert checks.check_attention_scores(lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]))
    assert checks.check_weighted_sum(lambda s, v: (s.softmax(-1) @ v, s.softmax(-1)))
    assert checks.check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).tril())
    assert checks.check_split_heads(lambda x, h: x.view(x.shape[0], x.shape[1], h, -1).transpose(1, 2))


def test_checkers_diagnose_common_mistakes():
    def stub(*_):
        raise NotImplementedError

    assert "not done yet" in repr(checks.check_attention_scores(stub))
    assert "not scaled" in repr(checks.check_attention_scores(lambda q, k: q @ k.transpose(-2, -1)))
    assert "shape (2, 3, 5), got (2, 5, 3)" in repr(checks.check_attention_scores(lambda q, k: k @ q.transpose(-2, -1)))
    assert "over the keys" in repr(checks.check_weighted_sum(lambda s, v: (s.softmax(-2) @ v, s.softmax(-2))))
    assert "inverted" in repr(checks.check_causal_mask(lambda n: ~torch.ones(n, n, dtype=torch.bool).tril()))
    assert "future" in repr(checks.check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).triu()))
    assert "boolean" in repr(checks.check_causal_mask(lambda n: torch.ones(n, n).tril()))
    assert "plain view" in repr(checks.check_split_heads(lambda x, h: x.view(x.shape[0], h, x.shape[1], -1)))
    assert "raised ZeroDivisionError" in repr(checks.check_split_heads(lambda x, h: 1 / 0))
    assert not checks.check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool))


def test_weights_path_multiplies_by_v_once(monkeypatch):
    """Asking for the weights must not compute the output twice (it once did: weights @ v, thrown away)."""
    from course_utils import attention

    mha = attention.MultiHeadAttention(16, 4).eval()
    x = torch.randn(2, 5, 16)
    calls = []
    real = torch.Tensor.__matmul__

    def counting(a, b):
        calls.append((tuple(a.shape), tuple(b.shape)))
        return real(a, b)

    monkeypatch.setattr(torch.Tensor, "__matmul__", counting)
    y, w = mha(x, return_attention=True)
    monkeypatch.undo()
    assert len(calls) == 2  # q kᵀ and weights v
    assert torch.allclose(y, mha(x), atol=1e-6) and w.shape == (2, 4, 5, 5)


@pytest.mark.parametrize("bias", [True, False])
def test_cross_attention_matches_torch(bias):
    """Queries from x (L = 4), keys and values from a context of another length (L_k = 7)."""
    torch.manual_seed(11)
    mha = nn.MultiheadAttention(12, 3, bias=bias, batch_first=True).eval()
    ours = A.MultiHeadAttention.from_torch(mha).eval()
    x, context = torch.randn(2, 4, 12), torch.randn(2, 7, 12)
    want, want_w = mha(x, context, context, average_attn_weights=False)
    got, got_w = ours(x, context=context, return_attention=True)
    assert got.shape == (2, 4, 12) and got_w.shape == (2, 3, 4, 7)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(got_w, want_w, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(ours(x, context=context), want, atol=1e-6, rtol=1e-5)  # the fused SDPA path
    pad = A.padding_mask([7, 3], 7)  # (B, 1, 1, L_k): the second context has 3 real tokens
    want_pad = mha(x, context, context, key_padding_mask=~pad[:, 0, 0])[0]
    for weights in (False, True):
        got_pad = ours(x, mask=pad, context=context, return_attention=weights)
        torch.testing.assert_close(got_pad[0] if weights else got_pad, want_pad, atol=1e-6, rtol=1e-5)
    # the context's padded tokens do not matter; the query side's tokens are independent of each other
    changed = context.clone()
    changed[1, 3:] = 100.0
    torch.testing.assert_close(ours(x, mask=pad, context=changed)[1], ours(x, mask=pad, context=context)[1])
    # context = x is self-attention
    torch.testing.assert_close(ours(x, context=x), ours(x), atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match=r"context of shape \(3, 7, 12\) is not \(B=2, L_k, 12\)"):
        ours(x, context=torch.randn(3, 7, 12))
