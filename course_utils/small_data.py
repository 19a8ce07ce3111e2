"""Three changes the small-dataset ViT literature makes, each one switch of the course ViT.

- Shifted patch tokenization, SPT (Lee et al., 2021, "Vision Transformer for Small-Size
  Datasets"): the image and four copies shifted diagonally by half a patch, stacked along the
  channels, so that each token also sees the pixels just across its borders.
      images (B, C, H, W) → (B, 5C, H, W) → the usual patch embedding or conv stem → (B, N, D)
- Locality self-attention, LSA (the same paper): a token may not attend to itself (the
  diagonal of the scores is masked), and softmax's temperature is learned instead of fixed
  at √d_k, so attention can become sharper than the fixed scale allows.
- Sequence pooling, SeqPool (Hassani et al., 2021, "Escaping the Big Data Paradigm with
  Compact Transformers"): the head reads a learned, attention-weighted average of the output
  tokens instead of a class token: pooled = softmax(x w)ᵀ x.
      x (B, L, D) → weights (B, L) → pooled (B, D)

Each is built so that switching it off gives back the course ViT exactly; course_utils.vit
turns them on from its config (``spt``, ``lsa``, ``pool="seq"``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiHeadAttention, _check_mask, _check_qkv

SHIFTS = ((-1, -1), (1, -1), (-1, 1), (1, 1))  # (dx, dy) per copy: left-up, right-up, left-down, right-down


def shift_image(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """The images moved by (dx, dy) pixels (right and down positive), zeros where nothing moved in.

    images (B, C, H, W) → (B, C, H, W); out[..., y, x] = images[..., y - dy, x - dx].
    """
    b, c, h, w = images.shape
    if abs(dx) >= w or abs(dy) >= h:
        raise ValueError(f"a shift of ({dx}, {dy}) pixels moves a {h}×{w} image out of the frame")
    padded = F.pad(images, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))  # (left, right, top, bottom)
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[..., top:top + h, left:left + w]


class ShiftedPatches(nn.Module):
    """SPT's input: (B, C, H, W) → (B, 5C, H, W), the image then its four diagonal shifts by ``shift`` pixels."""

    def __init__(self, shift: int):
        super().__init__()
        if shift < 1:
            raise ValueError(f"shift {shift} must be at least one pixel")
        self.shift = shift

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        s = self.shift
        return torch.cat([images] + [shift_image(images, dx * s, dy * s) for dx, dy in SHIFTS], dim=1)


class LocalitySelfAttention(MultiHeadAttention):
    """Multi-head self-attention with LSA: no token attends to itself; a learned temperature.

    softmax(q kᵀ / τ) with τ learned (one per layer, started at √d_k, so a fresh layer computes
    the standard scores) and −∞ on the diagonal. x (B, L, D) → (B, L, D), L ≥ 2.
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True, dropout: float = 0.0):
        super().__init__(embed_dim, num_heads, bias, dropout)
        self.log_tau = nn.Parameter(torch.tensor(0.5 * math.log(self.head_dim)))  # τ = √d_k to start

    @property
    def tau(self) -> torch.Tensor:
        return self.log_tau.exp()

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, return_attention: bool = False):
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(f"input of shape {tuple(x.shape)} is not (B, L, {self.embed_dim})")
        b, length, _ = x.shape
        if length < 2:
            raise ValueError(f"locality self-attention masks each token's own key, so it needs L ≥ 2 tokens, got {length}")
        qkv = self.qkv(x).view(b, length, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, nh, L, hd)
        # SDPA divides by √d_k; scaling q by √d_k / τ makes that a division by τ (and τ gets gradients)
        q = q * (math.sqrt(self.head_dim) / self.tau).to(q.dtype)
        off_diagonal = ~torch.eye(length, dtype=torch.bool, device=x.device)  # (L, L), True = may attend
        allowed = off_diagonal if mask is None else off_diagonal & _check_mask(
            mask, torch.Size((b, self.num_heads, length, length)), x.device)
        if return_attention:
            _check_qkv(q, k, v)
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
            weights = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)  # (B, nh, L, L)
            y = F.dropout(weights, self.dropout, self.training) @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed,
                                               dropout_p=self.dropout if self.training else 0.0)
        y = self.out(y.transpose(1, 2).reshape(b, length, self.embed_dim))
        return (y, weights) if return_attention else y


class SeqPool(nn.Module):
    """CCT's sequence pooling: x (B, L, D) → (B, D), the tokens averaged with learned softmax weights."""

    def __init__(self, dim: int):
        super().__init__()
        self.score = nn.Linear(dim, 1)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, D) → (B, L): how much each token counts, summing to one per image."""
        return self.score(x).squeeze(-1).softmax(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.weights(x).unsqueeze(1) @ x).squeeze(1)  # (B, 1, L) @ (B, L, D) → (B, D)
