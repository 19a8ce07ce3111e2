"""Cut images into patches and embed them: the first step of a Vision Transformer.

Conventions (tested):
- patches are numbered in row-major order: patch ``i`` is grid cell ``(i // n_w, i % n_w)``;
- each patch is flattened in (C, P, P) order (channel, row, column): the layout of a Conv2d
  kernel, so a Linear over flattened patches and a Conv2d with kernel = stride = P are the
  same map once weights are copied (``LinearPatchEmbedding.from_conv`` / ``PatchEmbedding.from_linear``).
"""

from __future__ import annotations

from numbers import Integral

import torch
from torch import nn


def check_positive(name: str, value) -> int:
    """``value`` itself; ValueError naming it unless it is a positive integer (a size, a count)."""
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} {value!r} must be a positive integer")
    return value


def _pair(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, Integral):
        return size, size
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(f"image size {size!r} must be one integer or a pair (H, W)")
    return size[0], size[1]


def check_divisible(image_size: int | tuple[int, int], patch_size: int) -> tuple[int, int]:
    """The patch grid (n_h, n_w); ValueError naming both sizes if P does not divide the image."""
    h, w = _pair(image_size)
    check_positive("patch size", patch_size)
    for side in (h, w):
        check_positive("image size", side)
    for side in {h, w}:
        if side % patch_size:
            raise ValueError(f"image size {side} is not divisible by patch size {patch_size}")
    return int(h) // patch_size, int(w) // patch_size


def num_patches(image_size: int | tuple[int, int], patch_size: int) -> int:
    """How many tokens an image becomes: (H / P) · (W / P)."""
    n_h, n_w = check_divisible(image_size, patch_size)
    return n_h * n_w


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Images (B, C, H, W) → patches (B, N, C·P·P), N = (H/P)(W/P) in row-major order."""
    if images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
    b, c, h, w = images.shape
    n_h, n_w = check_divisible((h, w), patch_size)
    p = patch_size
    x = images.unfold(2, p, p).unfold(3, p, p)  # (B, C, n_h, n_w, P, P)
    x = x.permute(0, 2, 3, 1, 4, 5)  # (B, n_h, n_w, C, P, P)
    return x.reshape(b, n_h * n_w, c * p * p)  # (B, N, C·P·P)


def unpatchify(patches: torch.Tensor, patch_size: int, image_size: int | tuple[int, int], channels: int) -> torch.Tensor:
    """Inverse of :func:`patchify`: patches (B, N, C·P·P) → images (B, C, H, W)."""
    h, w = _pair(image_size)
    n_h, n_w = check_divisible((h, w), patch_size)
    check_positive("channels", channels)
    p = patch_size
    if patches.ndim != 3:
        raise ValueError(f"patches must be (B, N, C·P·P), got shape {tuple(patches.shape)}")
    b, n, d = patches.shape
    if (n, d) != (n_h * n_w, channels * p * p):
        raise ValueError(f"patches of shape {tuple(patches.shape)} do not fit a {channels}x{h}x{w} image "
                         f"cut into {p}x{p} patches: expected (B, {n_h * n_w}, {channels * p * p})")
    x = patches.reshape(b, n_h, n_w, channels, p, p)  # (B, n_h, n_w, C, P, P)
    x = x.permute(0, 3, 1, 4, 2, 5)  # (B, C, n_h, P, n_w, P)
    return x.reshape(b, channels, h, w)


def check_images(images: torch.Tensor, channels: int, image_size: int | tuple[int, int] | None,
                 who: str = "this model") -> None:
    """ValueError unless ``images`` is a batch (B, channels, H, W) of ``image_size`` (any H, W if None)."""
    want = ("H", "W") if image_size is None else _pair(image_size)
    got = tuple(images.shape)
    if images.ndim == 4 and got[1] == channels and (image_size is None or got[2:] == want):
        return
    message = f"expects images (B, {channels}, {want[0]}, {want[1]}), got shape {got}"
    if images.ndim == 3 and got[0] == channels:
        raise ValueError(f"{who} {message}: add the batch dimension with images.unsqueeze(0)")
    if images.ndim == 4 and got[1] == channels:  # only the size is wrong
        raise ValueError(f"image of size {got[2:]} given to {who} built for {want}: it {message}")
    raise ValueError(f"{who} {message}")


class PatchEmbedding(nn.Module):
    """Conv2d with kernel = stride = P: images (B, C, H, W) → tokens (B, N, embed_dim)."""

    def __init__(self, image_size: int | tuple[int, int] = 32, patch_size: int = 4, in_channels: int = 3,
                 embed_dim: int = 64):
        super().__init__()
        self.grid = check_divisible(image_size, patch_size)
        check_positive("in_channels", in_channels)
        check_positive("embed_dim", embed_dim)
        self.image_size, self.patch_size = _pair(image_size), patch_size
        self.num_patches = self.grid[0] * self.grid[1]
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → (B, N, embed_dim)."""
        check_images(images, self.proj.in_channels, self.image_size, "the patch embedding")
        return self.proj(images).flatten(2).transpose(1, 2)  # (B, D, n_h, n_w) → (B, N, D)

    @classmethod
    def from_linear(cls, linear: "LinearPatchEmbedding") -> "PatchEmbedding":
        """A Conv2d embedding computing exactly what ``linear`` computes."""
        d, cpp = linear.proj.weight.shape
        channels = cpp // linear.patch_size**2
        conv = cls(linear.image_size, linear.patch_size, channels, d)
        with torch.no_grad():
            conv.proj.weight.copy_(linear.proj.weight.view(d, channels, linear.patch_size, linear.patch_size))
            conv.proj.bias.copy_(linear.proj.bias)
        return conv


class LinearPatchEmbedding(nn.Module):
    """patchify, then one Linear(C·P·P → embed_dim): the ViT paper's formulation."""

    def __init__(self, image_size: int | tuple[int, int] = 32, patch_size: int = 4, in_channels: int = 3,
                 embed_dim: int = 64):
        super().__init__()
        self.grid = check_divisible(image_size, patch_size)
        check_positive("in_channels", in_channels)
        check_positive("embed_dim", embed_dim)
        self.image_size, self.patch_size = _pair(image_size), patch_size
        self.num_patches = self.grid[0] * self.grid[1]
        self.in_channels = in_channels
        self.proj = nn.Linear(in_channels * patch_size**2, embed_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → (B, N, embed_dim)."""
        check_images(images, self.in_channels, self.image_size, "the patch embedding")
        return self.proj(patchify(images, self.patch_size))

    @classmethod
    def from_conv(cls, conv: PatchEmbedding) -> "LinearPatchEmbedding":
        """A Linear embedding computing exactly what ``conv`` computes: weight (D, C, P, P) → (D, C·P·P)."""
        d, c, p, _ = conv.proj.weight.shape
        linear = cls(conv.image_size, p, c, d)
        with torch.no_grad():
            linear.proj.weight.copy_(conv.proj.weight.reshape(d, c * p * p))
            linear.proj.bias.copy_(conv.proj.bias)
        return linear


def scramble(patches: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffle the patch order of (B, N, D) tokens with one permutation; returns (shuffled, perm (N,))."""
    if patches.ndim != 3:
        raise ValueError(f"patches must be (B, N, D), got shape {tuple(patches.shape)}")
    perm = torch.randperm(patches.shape[1], generator=generator)
    return patches[:, perm], perm
