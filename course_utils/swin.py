"""Swin Transformer pieces (Liu et al., 2021): windows, the cyclic shift and its mask,
relative position bias, patch merging, and a tiny Swin for 32×32 images.

Feature maps are channels-last, x (B, H, W, C), as in the paper's code. Conventions (tested
against timm's implementation):
- windows are numbered row-major over the grid of windows, tokens row-major inside a window;
- a shifted block rolls the map by −shift before attention and by +shift after it;
- masks are boolean, True where a token may attend (the course's convention everywhere).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .patches import PatchEmbedding, check_positive
from .vit import MLP


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """x (B, H, W, C) → windows (B·num_windows, M, M, C), contiguous, M = window_size, windows row-major."""
    check_positive("window size", window_size)
    b, h, w, c = x.shape
    if h % window_size or w % window_size:
        raise ValueError(f"feature map {h}x{w} is not divisible by window size {window_size} (pad it first)")
    m = window_size
    x = x.view(b, h // m, m, w // m, m, c)  # (B, nH, M, nW, M, C)
    # contiguous, so callers may .view it: with B·nH = 1 a reshape alone can hand back a strided view
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, m, m, c)  # (B·nH·nW, M, M, C)


def window_reverse(windows: torch.Tensor, window_size: int, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B·num_windows, M, M, C) → (B, H, W, C)."""
    m = check_positive("window size", window_size)
    n_h, n_w = height // m, width // m
    if height % m or width % m or n_h * n_w == 0 or windows.shape[0] % (n_h * n_w):
        raise ValueError(f"{windows.shape[0]} windows of {m}x{m} do not tile a {height}x{width} map")
    c = windows.shape[-1]
    x = windows.reshape(-1, n_h, n_w, m, m, c)  # (B, nH, nW, M, M, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, height, width, c)


def shift_regions(height: int, width: int, window_size: int, shift_size: int) -> torch.Tensor:
    """(H, W) long: after rolling the map by −shift, which of the 9 regions each position came from.

    Along each axis a position is in band 0 (never wrapped, far from the edge), band 1 (the last
    window's unwrapped part) or band 2 (the ``shift`` positions rolled over from the other side).
    Region = 3·row_band + column_band. Tokens of different regions must not attend to each other.
    """
    check_positive("window size", window_size)
    if not 0 <= shift_size < window_size:
        raise ValueError(f"shift size {shift_size} must be in 0..{window_size - 1} (less than the window)")

    def bands(n: int) -> torch.Tensor:
        i = torch.arange(n)
        return (i >= n - window_size).long() + (i >= n - shift_size).long() * (shift_size > 0)

    return 3 * bands(height)[:, None] + bands(width)[None, :]


def shifted_window_mask(height: int, width: int, window_size: int, shift_size: int) -> torch.Tensor:
    """(num_windows, M², M²) boolean, True where a token may attend to another in its window after the roll."""
    check_positive("window size", window_size)
    if height % window_size or width % window_size:
        raise ValueError(f"feature map {height}x{width} is not divisible by window size {window_size} (pad it first)")
    regions = shift_regions(height, width, window_size, shift_size)  # (H, W)
    windows = window_partition(regions[None, :, :, None], window_size).flatten(1)  # (nW, M²)
    return windows[:, :, None] == windows[:, None, :]  # (nW, M², M²)


def relative_position_index(window_size: int) -> torch.Tensor:
    """(M², M²) long: for tokens i, j of a window, the index of (Δrow, Δcol) in a (2M−1)² bias table."""
    m = check_positive("window size", window_size)
    coords = torch.stack(torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij")).flatten(1)  # (2, M²)
    delta = coords[:, :, None] - coords[:, None, :]  # (2, M², M²), each in −(M−1)..M−1
    delta = delta + (m - 1)  # shift to 0..2M−2
    return delta[0] * (2 * m - 1) + delta[1]  # row-major index into the (2M−1)×(2M−1) table


class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows, with a learned relative position bias.

    x (num_windows·B, M², C) → (num_windows·B, M², C); mask (num_windows, M², M²) boolean or None,
    True where a token may attend. A token allowed no key at all raises a ValueError (its softmax
    would be NaN); a shifted-window mask always lets a token attend to itself.
    """

    def __init__(self, dim: int, window_size: int, num_heads: int):
        super().__init__()
        check_positive("window size", window_size)
        check_positive("dim", dim)
        check_positive("num_heads", num_heads)
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.dim, self.window_size, self.num_heads = dim, window_size, num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))  # one bias per offset
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.register_buffer("bias_index", relative_position_index(window_size), persistent=False)

    def relative_bias(self) -> torch.Tensor:
        """(heads, M², M²): the bias added to every window's scores."""
        n = self.window_size**2
        return self.bias_table[self.bias_index.flatten()].view(n, n, -1).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, return_attention: bool = False):
        bw, n, c = x.shape
        q, k, v = self.qkv(x).view(bw, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)  # (B·nW, h, N, d)
        scores = q @ k.transpose(-2, -1) / (c // self.num_heads) ** 0.5 + self.relative_bias()  # (B·nW, h, N, N)
        if mask is not None:
            nw = _check_window_mask(mask, bw, n)
            scores = scores.view(bw // nw, nw, self.num_heads, n, n).masked_fill(~mask[None, :, None], float("-inf"))
            scores = scores.view(bw, self.num_heads, n, n)
        weights = scores.softmax(dim=-1)
        out = self.proj((weights @ v).transpose(1, 2).reshape(bw, n, c))
        return (out, weights) if return_attention else out


def _check_window_mask(mask: torch.Tensor, num_windows: int, tokens: int) -> int:
    """The mask's number of windows nW; TypeError or ValueError unless it is (nW, N, N) boolean with no empty row."""
    if mask.dtype != torch.bool:
        raise TypeError(f"mask dtype {mask.dtype} is not allowed: the mask must be boolean, "
                        "True where a token may attend")
    if mask.ndim != 3 or mask.shape[1:] != (tokens, tokens) or mask.shape[0] == 0:
        raise ValueError(f"mask of shape {tuple(mask.shape)} is not (num_windows, {tokens}, {tokens})")
    nw = mask.shape[0]
    if num_windows % nw:
        raise ValueError(f"{num_windows} windows are not a whole number of batches of {nw} (the mask's windows)")
    empty = ~mask.any(dim=-1)  # (nW, N): a token with no key allowed
    if empty.any():
        window, token = torch.nonzero(empty)[0].tolist()
        raise ValueError(f"mask allows no key at all for query {token} of window {window}: its softmax is "
                         "undefined; every token must be allowed at least one key")
    return nw


class SwinBlock(nn.Module):
    """Pre-norm Swin block on a (B, H·W, C) token map: (shifted) window attention, then an MLP."""

    def __init__(self, dim: int, resolution: tuple[int, int], num_heads: int, window_size: int = 4,
                 shift_size: int = 0, mlp_ratio: float = 4.0):
        super().__init__()
        check_positive("window size", window_size)
        self.resolution = resolution
        if min(resolution) <= window_size:  # one window covers the map: nothing to shift
            window_size, shift_size = min(resolution), 0
        self.window_size, self.shift_size = window_size, shift_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, int(dim * mlp_ratio))
        h, w = (-(-s // window_size) * window_size for s in resolution)  # padded size
        mask = shifted_window_mask(h, w, window_size, shift_size) if shift_size else None
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self._attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))

    def _attention(self, x: torch.Tensor) -> torch.Tensor:
        b, _, c = x.shape
        h, w = self.resolution
        m, s = self.window_size, self.shift_size
        x = x.view(b, h, w, c)
        pad_h, pad_w = (-h) % m, (-w) % m
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))  # 1. pad to whole windows (bottom, right)
        if s:
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))  # 2. cyclic shift up-left
        windows = window_partition(x, m).view(-1, m * m, c)  # 3. partition: (B·nW, M², C)
        windows = self.attn(windows, self.mask)  # 4. attend inside each window (masked if shifted)
        x = window_reverse(windows.view(-1, m, m, c), m, h + pad_h, w + pad_w)  # 5. windows back to a map
        if s:
            x = torch.roll(x, shifts=(s, s), dims=(1, 2))  # 6. undo the shift
        return x[:, :h, :w].reshape(b, h * w, c)  # 7. drop the padding


class PatchMerging(nn.Module):
    """Concatenate each 2×2 group of tokens, LayerNorm, Linear 4C → 2C: (B, H·W, C) → (B, H/2·W/2, 2C)."""

    def __init__(self, dim: int, resolution: tuple[int, int]):
        super().__init__()
        h, w = resolution
        if h % 2 or w % 2:
            raise ValueError(f"patch merging needs an even feature map, got {h}x{w}")
        self.resolution = resolution
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, c = x.shape
        h, w = self.resolution
        x = x.view(b, h // 2, 2, w // 2, 2, c)  # (B, H/2, row in pair, W/2, col in pair, C)
        x = x.permute(0, 1, 3, 4, 2, 5).reshape(b, (h // 2) * (w // 2), 4 * c)  # order: (0,0) (1,0) (0,1) (1,1)
        return self.reduction(self.norm(x))


class SwinTransformer(nn.Module):
    """A tiny Swin for 32×32 images: patch 2 → 16×16 tokens, stages at 16², 8², 4², windows of 4."""

    def __init__(self, image_size: int = 32, patch_size: int = 2, in_channels: int = 3, num_classes: int = 10,
                 embed_dim: int = 48, depths: tuple[int, ...] = (2, 2, 2), num_heads: tuple[int, ...] = (3, 6, 12),
                 window_size: int = 4, mlp_ratio: float = 4.0):
        super().__init__()
        if len(depths) != len(num_heads):
            raise ValueError(f"depths {depths} and num_heads {num_heads} must have one entry per stage")
        check_positive("window size", window_size)
        self.patch_embed = PatchEmbedding(image_size, patch_size, in_channels, embed_dim)
        self.norm_in = nn.LayerNorm(embed_dim)
        res, dim = self.patch_embed.grid, embed_dim
        self.stages = nn.ModuleList()
        for i, (depth, heads) in enumerate(zip(depths, num_heads)):
            blocks = [SwinBlock(dim, res, heads, window_size, 0 if j % 2 == 0 else window_size // 2, mlp_ratio)
                      for j in range(depth)]
            if i < len(depths) - 1:
                blocks.append(PatchMerging(dim, res))
                res, dim = (res[0] // 2, res[1] // 2), dim * 2
            self.stages.append(nn.Sequential(*blocks))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → logits (B, num_classes)."""
        x = self.norm_in(self.patch_embed(images))  # (B, N, C)
        for stage in self.stages:
            x = stage(x)
        return self.head(self.norm(x).mean(dim=1))


def attention_flops(height: int, width: int, dim: int, window_size: int | None = None) -> int:
    """Multiply-adds of one attention layer on an h×w map (the paper's eq. 1 and 2).

    Global: 4hwC² + 2(hw)²C. Windows of M×M: 4hwC² + 2M²hwC.
    """
    hw = height * width
    if window_size is None:
        return 4 * hw * dim**2 + 2 * hw**2 * dim
    return 4 * hw * dim**2 + 2 * window_size**2 * hw * dim
