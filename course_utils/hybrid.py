"""Convolutions and attention together, on MNIST.

Two layers rebuilt from the lecture notes, with exactly their behaviour, so the notebook can
examine them; the corrected convolutional attention; and a hybrid ViT (a convolutional stem
whose feature map becomes the tokens of a transformer encoder).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .patches import check_images, check_positive
from .vit import Encoder


class LectureSelfAttention(nn.Module):
    """The notes' SelfAttentionLayer: x (B, F) → (B, F).

    It views each sample as ``(B, -1, F)``. Fed a flat (B, F) feature vector, that is ONE token,
    so the softmax runs over a single key: every weight is exactly 1 and the output equals the
    value projection. ``last_weights`` keeps the weights of the latest call for inspection.
    """

    def __init__(self, in_features: int):
        super().__init__()
        self.in_features = in_features
        self.query, self.key, self.value = (nn.Linear(in_features, in_features) for _ in range(3))
        self.last_weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        q = self.query(x).view(b, -1, self.in_features)  # (B, T, F), T = 1 for flat input
        k = self.key(x).view(b, -1, self.in_features)
        v = self.value(x).view(b, -1, self.in_features)
        weights = torch.softmax(q @ k.transpose(1, 2) / self.in_features**0.5, dim=2)  # (B, T, T)
        self.last_weights = weights.detach()
        return (weights @ v).view(b, -1)


class LectureMNISTModel(nn.Module):
    """The notes' "Transformer" for MNIST: Linear(784,128) → attn → Linear(128,64) → attn → Linear(64,10).

    ``attention=False`` replaces each attention layer by its value projection alone (a plain
    Linear of the same size): the control experiment.
    """

    def __init__(self, attention: bool = True):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 128), nn.Linear(128, 64), nn.Linear(64, 10)
        if attention:
            self.attention1, self.attention2 = LectureSelfAttention(128), LectureSelfAttention(64)
        else:
            self.attention1, self.attention2 = nn.Linear(128, 128), nn.Linear(64, 64)

    @classmethod
    def control_of(cls, model: "LectureMNISTModel") -> "LectureMNISTModel":
        """The control for ``model``: same weights, each attention layer replaced by its value projection."""
        control = cls(attention=False)
        state = {k: v for k, v in model.state_dict().items() if not k.startswith(("attention1", "attention2"))}
        for name in ("attention1", "attention2"):
            state[f"{name}.weight"] = getattr(model, name).value.weight.detach().clone()
            state[f"{name}.bias"] = getattr(model, name).value.bias.detach().clone()
        control.load_state_dict(state)
        return control

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc1(images.reshape(-1, 784)))
        x = torch.relu(self.fc2(self.attention1(x)))
        return self.fc3(self.attention2(x))


class LectureConvAttention(nn.Module):
    """The notes' ConvAttentionLayer, as written: (B, C_in, H, W) → (B, C_out, H, W).

    ``softmax(bmm(qᵀ, k), dim=2)`` normalises each query's row over the keys, but
    ``bmm(value, attention)`` then sums over the *query* index with those weights, and there
    is no 1/√d scale. ``last_weights`` (B, HW, HW) keeps the latest weights.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3):
        super().__init__()
        pad = kernel_size // 2
        self.query_conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=pad)
        self.key_conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=pad)
        self.value_conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=pad)
        self.last_weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.query_conv(x), self.key_conv(x), self.value_conv(x)
        b, c, h, w = q.shape
        q, k, v = q.view(b, c, -1), k.view(b, c, -1), v.view(b, c, -1)  # (B, C, N)
        weights = torch.softmax(torch.bmm(q.transpose(1, 2), k), dim=2)  # (B, N, N), rows sum to 1
        self.last_weights = weights.detach()
        return torch.bmm(v, weights).view(b, c, h, w)  # out[:, :, j] = Σ_i v[:, :, i] · weights[i, j]


class ConvAttention(nn.Module):
    """Self-attention over the positions of a feature map, q/k/v made by convolutions.

    x (B, C_in, H, W) → (B, C_out, H, W); with ``return_attention`` also the weights
    (B, H·W, H·W), row i (a query position) summing to one over the key positions.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size {kernel_size} must be odd so the map keeps its size")
        pad = kernel_size // 2
        self.query = nn.Conv2d(in_channels, out_channels, kernel_size, padding=pad)
        self.key = nn.Conv2d(in_channels, out_channels, kernel_size, padding=pad)
        self.value = nn.Conv2d(in_channels, out_channels, kernel_size, padding=pad)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        if x.ndim != 4:
            raise ValueError(f"x must be (B, C, H, W), got shape {tuple(x.shape)}")
        b, _, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # (B, N, C): one row per position
        k = self.key(x).flatten(2).transpose(1, 2)  # (B, N, C)
        v = self.value(x).flatten(2).transpose(1, 2)  # (B, N, C)
        weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]), dim=-1)  # (B, N_q, N_k)
        out = (weights @ v).transpose(1, 2).reshape(b, -1, h, w)  # (B, C_out, H, W)
        return (out, weights) if return_attention else out


class ConvAttentionNet(nn.Module):
    """A small classifier around one attention layer: conv stem (28 → 14 → 7), attention over the 7×7
    positions with a residual connection, pooling, Linear. ``layer`` picks the notes' or the fixed layer."""

    def __init__(self, layer: str = "fixed", channels: int = 32, num_classes: int = 10):
        super().__init__()
        if layer not in ("fixed", "lecture"):
            raise ValueError(f"layer {layer!r} must be 'fixed' or 'lecture'")
        self.stem = _stem(1, channels)
        self.attn = ConvAttention(channels, channels) if layer == "fixed" else LectureConvAttention(channels, channels)
        self.norm = nn.BatchNorm2d(channels)
        self.head = nn.Linear(channels, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) → (B, num_classes)."""
        check_images(images, self.stem[0].in_channels, None, "ConvAttentionNet")
        x = self.stem(images)  # (B, C, 7, 7)
        x = x + self.norm(self.attn(x))  # residual around the attention
        return self.head(x.mean(dim=(2, 3)))


def _stem(in_channels: int, channels: int) -> nn.Sequential:
    """Three 3×3 convolutions, the first two with stride 2: (B, C_in, 28, 28) → (B, C, 7, 7)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, channels // 2, 3, stride=2, padding=1), nn.BatchNorm2d(channels // 2), nn.GELU(),
        nn.Conv2d(channels // 2, channels, 3, stride=2, padding=1), nn.BatchNorm2d(channels), nn.GELU(),
        nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.GELU(),
    )


class HybridViT(nn.Module):
    """Conv stem → its 7×7 feature map as 49 tokens (+ learned positions) → encoder → mean pool → Linear.

    images (B, 1, 28, 28) → logits (B, num_classes).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, dim: int = 64, depth: int = 2,
                 num_heads: int = 4, mlp_dim: int = 128, image_size: int = 28, dropout: float = 0.0):
        super().__init__()
        check_positive("image size", image_size)
        if image_size % 4:
            raise ValueError(f"image size {image_size} is not divisible by 4 (the stem halves it twice)")
        self.stem = _stem(in_channels, dim)
        grid = image_size // 4
        self.grid, self.image_size, self.in_channels = grid, image_size, in_channels
        self.pos_embed = nn.Parameter(torch.randn(1, grid * grid, dim) * 0.02)
        self.encoder = Encoder(dim, depth, num_heads, mlp_dim, dropout)
        self.head = nn.Linear(dim, num_classes)

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → (B, (H/4)·(W/4), dim): the stem's feature map, one token per position."""
        check_images(images, self.in_channels, self.image_size, "the hybrid ViT")
        return self.stem(images).flatten(2).transpose(1, 2) + self.pos_embed

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.tokens(images)).mean(dim=1))

    @torch.no_grad()
    def attention_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Each block's weights, (B, heads, 49, 49) for 28×28 inputs."""
        return self.encoder.attention_maps(self.tokens(images))


class SmallCNN(nn.Module):
    """The convolutional baseline: the same stem, pooled, and a Linear head."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, channels: int = 64):
        super().__init__()
        self.stem = _stem(in_channels, channels)
        self.head = nn.Linear(channels, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → (B, num_classes)."""
        check_images(images, self.stem[0].in_channels, None, "SmallCNN")
        return self.head(self.stem(images).mean(dim=(2, 3)))


def mlp(hidden: int = 256, num_classes: int = 10) -> nn.Sequential:
    """A two-layer perceptron on flattened 28×28 images."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, num_classes))
