"""Positional encodings: 1D and 2D sinusoidal tables, learned ones, and similarity matrices.

Conventions (tested):
- 1D (Vaswani et al., 2017), channels interleaved:
  PE[p, 2i] = sin(p / 10000^(2i/D)),  PE[p, 2i+1] = cos(p / 10000^(2i/D)).
- 2D tables are row-major over the grid: row ``r·W + c`` is grid cell (r, c).
  "concat" gives the first D/2 channels to the row index and the last D/2 to the column
  index (MAE, simple ViTs); "sum" adds a full-width row encoding and column encoding (the
  lecture notes' φ_x + φ_y).
"""

from __future__ import annotations

from numbers import Integral

import torch
from torch import nn

MODES = ("concat", "sum")


def frequencies(dim: int, base: float = 10000.0) -> torch.Tensor:
    """The D/2 angular frequencies ω_i = 1 / base^(2i/D), i = 0..D/2−1, float64; base must be positive."""
    if dim < 2 or dim % 2:
        raise ValueError(f"dim {dim} must be a positive even number (sin and cos channels come in pairs)")
    if not base > 0:  # also refuses NaN
        raise ValueError(f"base {base} must be a positive number (the wavelengths are powers of it)")
    return base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)


def sinusoidal_1d(num_positions: int, dim: int, base: float = 10000.0) -> torch.Tensor:
    """Sinusoidal table (num_positions, dim), float32: sin on even channels, cos on odd ones."""
    if num_positions < 1:
        raise ValueError(f"num_positions {num_positions} must be at least 1")
    angles = torch.arange(num_positions, dtype=torch.float64)[:, None] * frequencies(dim, base)[None, :]  # (N, D/2)
    table = torch.empty(num_positions, dim, dtype=torch.float64)
    table[:, 0::2] = angles.sin()
    table[:, 1::2] = angles.cos()
    return table.float()


def sinusoidal_2d(height: int, width: int, dim: int, mode: str = "concat", base: float = 10000.0) -> torch.Tensor:
    """Sinusoidal table for an H×W grid, (H·W, dim), row-major.

    mode "concat": [PE_1d(row, D/2) | PE_1d(col, D/2)] (D divisible by 4);
    mode "sum": PE_1d(row, D) + PE_1d(col, D).
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")
    if height < 1 or width < 1:
        raise ValueError(f"grid {height}x{width} must be at least 1x1")
    if dim < 2:  # (odd dims are named below, with the rule of their mode)
        raise ValueError(f"dim {dim} must be a positive even number (sin and cos channels come in pairs)")
    rows = torch.arange(height).repeat_interleave(width)  # (H·W,) row index of each cell
    cols = torch.arange(width).repeat(height)  # (H·W,) column index of each cell
    if mode == "concat":
        if dim % 4:
            raise ValueError(f"dim {dim} must be divisible by 4 for mode 'concat' (two halves of sin/cos pairs)")
        table = sinusoidal_1d(max(height, width), dim // 2, base)
        return torch.cat([table[rows], table[cols]], dim=1)
    table = sinusoidal_1d(max(height, width), dim, base)
    return table[rows] + table[cols]


def cosine_similarity_matrix(x: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every pair of rows: x (N, D) → (N, N)."""
    if x.ndim != 2:
        raise ValueError(f"x must be (N, D), got shape {tuple(x.shape)}")
    unit = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return unit @ unit.T


def shift_matrix(offset: int, dim: int, base: float = 10000.0) -> torch.Tensor:
    """The (dim, dim) matrix M_k with PE[p + k] = M_k @ PE[p] for every p: one 2×2 rotation per frequency."""
    angles = offset * frequencies(dim, base)  # (D/2,)
    m = torch.zeros(dim, dim, dtype=torch.float64)
    c, s = angles.cos(), angles.sin()
    idx = torch.arange(0, dim, 2)
    # [sin(a+b), cos(a+b)] = [[cos b, sin b], [-sin b, cos b]] @ [sin a, cos a]
    m[idx, idx], m[idx, idx + 1] = c, s
    m[idx + 1, idx], m[idx + 1, idx + 1] = -s, c
    return m


class LearnedPositionalEmbedding(nn.Module):
    """One trainable vector per position, added to the tokens: (B, N, D) → (B, N, D)."""

    def __init__(self, num_positions: int, dim: int, std: float = 0.02):
        super().__init__()
        for name, value in (("num_positions", num_positions), ("dim", dim)):
            if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} {value!r} must be a positive integer")
        self.table = nn.Parameter(torch.randn(num_positions, dim) * std)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.shape[-2:] != self.table.shape:
            raise ValueError(f"tokens {tuple(tokens.shape)} do not match the table {tuple(self.table.shape)}")
        return tokens + self.table
