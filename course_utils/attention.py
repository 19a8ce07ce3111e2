"""Scaled dot-product attention, multi-head attention and masks.

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V            (Vaswani et al., 2017)

Mask convention (PyTorch's, for ``F.scaled_dot_product_attention``): a boolean mask,
broadcastable to the scores (..., L_q, L_k), **True where a query may attend** to a key.
A query row with no key allowed has no defined softmax; it raises a ValueError rather
than silently producing NaN.
"""

from __future__ import annotations

import math
from numbers import Integral

import torch
import torch.nn.functional as F
from torch import nn


def _check_mask(mask: torch.Tensor, scores_shape: torch.Size, device: torch.device | None = None) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor):
        mask = torch.as_tensor(mask, device=device)  # a numpy array or nested lists
    if mask.dtype != torch.bool:
        raise TypeError(f"mask dtype {mask.dtype} is not allowed: the mask must be boolean, True where a query may attend")
    try:
        mask = mask.expand(scores_shape)
    except RuntimeError as exc:
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the scores {tuple(scores_shape)}") from exc
    empty = ~mask.any(dim=-1)
    if empty.any():
        where = tuple(torch.nonzero(empty)[0].tolist())
        raise ValueError(f"mask allows no key at all for query index {where} (of scores {tuple(scores_shape)}): "
                         "its softmax is undefined; every query must be allowed at least one key")
    return mask


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q has d_k={q.shape[-1]} but k has d_k={k.shape[-1]}: queries and keys must share d_k")
    if q.shape[-1] == 0:
        raise ValueError(f"q and k have d_k=0 (shape {tuple(q.shape)}): scores need at least one channel")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k has L_k={k.shape[-2]} keys but v has {v.shape[-2]} values: they must match")
    if k.shape[-2] == 0:
        raise ValueError(f"k has L_k=0 keys (shape {tuple(k.shape)}): a softmax needs at least one key")


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ / √d_k) v, written out.

    Args: q (..., L_q, d_k), k (..., L_k, d_k), v (..., L_k, d_v), d_k and L_k at least 1; mask
    boolean (a tensor or a numpy array), broadcastable to (..., L_q, L_k), True where a query may attend.
    Returns: out (..., L_q, d_v) and weights (..., L_q, L_k), each row summing to one.
    """
    _check_qkv(q, k, v)
    weights = attention_weights(q, k, mask)  # (..., L_q, L_k)
    return weights @ v, weights  # (..., L_q, d_v)


def attention_weights(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(q kᵀ / √d_k): q (..., L_q, d_k), k (..., L_k, d_k) → weights (..., L_q, L_k), rows summing to one."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., L_q, L_k)
    if mask is not None:
        mask = _check_mask(mask, scores.shape, scores.device)
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1)


def causal_mask(length: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(L, L) boolean, True on and below the diagonal: query i may attend to keys 0..i."""
    if length < 1:
        raise ValueError(f"length {length} must be at least 1")
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: torch.Tensor | list[int], length: int) -> torch.Tensor:
    """(B, 1, 1, L) boolean, True for the first ``lengths[b]`` keys of sequence b (the real tokens).

    The shape broadcasts against scores (B, num_heads, L_q, L_k).
    """
    lengths = torch.as_tensor(lengths)
    if lengths.ndim != 1 or (lengths < 1).any() or (lengths > length).any():
        raise ValueError(f"lengths {lengths.tolist()} must be a 1-D list of integers in 1..{length}")
    keys = torch.arange(length, device=lengths.device)
    return (keys[None, :] < lengths[:, None])[:, None, None, :]


class MultiHeadAttention(nn.Module):
    """Multi-head attention with a fused q/k/v projection: self-attention, or cross-attention given a ``context``.

    MultiHead(X) = Concat(head_1, ..., head_h) W_o,  head_i = Attention(X W_q,i, X W_k,i, X W_v,i)

    The fused projection ``qkv`` stacks [W_q; W_k; W_v] (each embed_dim rows, heads
    contiguous inside each block): the layout of ``nn.MultiheadAttention.in_proj_weight``,
    so :meth:`from_torch` copies weights directly.
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True, dropout: float = 0.0):
        super().__init__()
        for name, value in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} {value!r} must be a positive integer")
        if embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout = dropout
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim, bias=bias)  # W_q, W_k, W_v stacked
        self.out = nn.Linear(embed_dim, embed_dim, bias=bias)  # W_o

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, return_attention: bool = False,
                context: torch.Tensor | None = None):
        """x (B, L, embed_dim) → out (B, L, embed_dim), and weights (B, num_heads, L, L_k) if asked.

        Self-attention by default (L_k = L). With ``context`` (B, L_k, embed_dim), cross-attention:
        queries from x, keys and values from context, through the same W_q, W_k, W_v; a mask then
        broadcasts to (B, num_heads, L, L_k).
        """
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(f"input of shape {tuple(x.shape)} is not (B, L, {self.embed_dim})")
        b, length, _ = x.shape
        if context is None:
            qkv = self.qkv(x).view(b, length, 3, self.num_heads, self.head_dim)  # (B, L, 3, nh, hd)
            q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, nh, L, hd)
        else:
            q, k, v = self._cross_qkv(x, context)  # (B, nh, L, hd), (B, nh, L_k, hd) twice
        keys = k.shape[-2]
        if return_attention:
            _check_qkv(q, k, v)
            weights = attention_weights(q, k, mask)  # (B, nh, L, L_k), computed once
            y = F.dropout(weights, self.dropout, self.training) @ v  # (B, nh, L, hd)
        else:
            if mask is not None:
                mask = _check_mask(mask, torch.Size((b, self.num_heads, length, keys)), x.device)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                               dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(b, length, self.embed_dim)  # (B, L, nh·hd): heads concatenated
        y = self.out(y)
        return (y, weights) if return_attention else y

    def _cross_qkv(self, x: torch.Tensor, context: torch.Tensor):
        """Queries from x (B, L, D); keys and values from context (B, L_k, D): the rows of the fused weight."""
        if context.ndim != 3 or context.shape[0] != x.shape[0] or context.shape[-1] != self.embed_dim:
            raise ValueError(f"context of shape {tuple(context.shape)} is not (B={x.shape[0]}, L_k, {self.embed_dim})")
        d, nh, hd = self.embed_dim, self.num_heads, self.head_dim
        w_q, w_kv = self.qkv.weight.split([d, 2 * d])  # (D, D): W_q; (2D, D): W_k and W_v stacked
        b_q, b_kv = (None, None) if self.qkv.bias is None else self.qkv.bias.split([d, 2 * d])
        q = F.linear(x, w_q, b_q).view(x.shape[0], x.shape[1], nh, hd).transpose(1, 2)  # (B, nh, L, hd)
        kv = F.linear(context, w_kv, b_kv).view(context.shape[0], context.shape[1], 2, nh, hd)  # (B, L_k, 2, nh, hd)
        k, v = kv.permute(2, 0, 3, 1, 4)  # each (B, nh, L_k, hd)
        return q, k, v

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention) -> "MultiHeadAttention":
        """A copy of a ``nn.MultiheadAttention(batch_first=True)`` with the same weights and output."""
        if not mha.batch_first:
            raise ValueError("from_torch needs nn.MultiheadAttention(batch_first=True)")
        if not mha._qkv_same_embed_dim:
            raise ValueError("from_torch needs kdim == vdim == embed_dim (one fused in_proj_weight)")
        bias = mha.in_proj_bias is not None
        if mha.bias_k is not None or mha.add_zero_attn:
            raise ValueError("from_torch does not support add_bias_kv or add_zero_attn")
        ours = cls(mha.embed_dim, mha.num_heads, bias=bias, dropout=mha.dropout)
        with torch.no_grad():
            ours.qkv.weight.copy_(mha.in_proj_weight)
            ours.out.weight.copy_(mha.out_proj.weight)
            if bias:
                ours.qkv.bias.copy_(mha.in_proj_bias)
                ours.out.bias.copy_(mha.out_proj.bias)
        return ours.to(mha.in_proj_weight.device)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, head_dim={self.head_dim}"
