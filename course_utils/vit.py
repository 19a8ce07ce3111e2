"""A Vision Transformer built from the course's own parts (Dosovitskiy et al., 2021).

    images (B, C, H, W) → patch tokens (B, N, D) → [CLS] + tokens + positions (B, 1+N, D)
    → depth × pre-norm encoder block → LayerNorm → pool (CLS, mean or SeqPool) → Linear → logits (B, K)

Each block is two residual lines (nanoGPT's shape):
    x = x + attention(norm1(x))
    x = x + mlp(norm2(x))

Switches from the small-dataset literature (course_utils.small_data), off by default: ``spt``
(shifted patches in), ``lsa`` (locality self-attention in every block), ``pool="seq"``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .attention import MultiHeadAttention
from .patches import PatchEmbedding, check_divisible, check_images, check_positive
from .positional import sinusoidal_1d, sinusoidal_2d
from .small_data import LocalitySelfAttention, SeqPool, ShiftedPatches

POS_EMBEDDINGS = ("learned", "sincos2d")
POOLS = ("cls", "mean", "seq")
STEMS = ("patch", "conv")


class ConvStem(nn.Module):
    """Convolutions instead of one patch projection (Xiao et al., 2021): (B, C, H, W) → (B, N, D).

    3×3 convolutions with stride 2 until the map is (H/P)×(W/P), then a 1×1 projection to D:
    the same token grid as a patch embedding of size P (a power of two). image_size: an int or (H, W).
    """

    def __init__(self, image_size: int | tuple[int, int], patch_size: int, in_channels: int, embed_dim: int):
        super().__init__()
        check_positive("patch size", patch_size)
        if patch_size < 2 or patch_size & (patch_size - 1):
            raise ValueError(f"patch size {patch_size} must be a power of two for the conv stem")
        grid = PatchEmbedding(image_size, patch_size, in_channels, 1).grid  # the same divisibility check
        layers, channels = [], in_channels
        width = max(24, embed_dim // 4)
        for _ in range(patch_size.bit_length() - 1):
            layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width), nn.GELU()]
            channels, width = width, width * 2
        layers.append(nn.Conv2d(channels, embed_dim, 1))
        self.net = nn.Sequential(*layers)
        self.grid, self.in_channels = grid, in_channels
        self.image_size = (grid[0] * patch_size, grid[1] * patch_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → (B, N, D)."""
        check_images(images, self.in_channels, self.image_size, "the conv stem")
        return self.net(images).flatten(2).transpose(1, 2)  # (B, D, h, w) → (B, N, D)


class MLP(nn.Module):
    """Linear → GELU → dropout → Linear → dropout: (B, L, D) → (B, L, D)."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        check_positive("dim", dim)
        check_positive("hidden", hidden)
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Block(nn.Module):
    """Pre-norm transformer encoder block: (B, L, D) → (B, L, D), optionally with its attention weights."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, dropout: float = 0.0, lsa: bool = False):
        super().__init__()
        attention = LocalitySelfAttention if lsa else MultiHeadAttention
        self.norm1, self.attn = nn.LayerNorm(dim), attention(dim, num_heads)
        self.norm2, self.mlp = nn.LayerNorm(dim), MLP(dim, mlp_dim, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        if return_attention:
            a, weights = self.attn(self.norm1(x), return_attention=True)  # weights (B, heads, L, L)
            x = x + self.drop(a)
        else:
            x = x + self.drop(self.attn(self.norm1(x)))
        x = x + self.mlp(self.norm2(x))
        return (x, weights) if return_attention else x


class Encoder(nn.Module):
    """``depth`` blocks and a final LayerNorm: (B, L, D) → (B, L, D)."""

    def __init__(self, dim: int, depth: int, num_heads: int, mlp_dim: int, dropout: float = 0.0, lsa: bool = False):
        super().__init__()
        check_positive("depth", depth)
        self.blocks = nn.ModuleList(Block(dim, num_heads, mlp_dim, dropout, lsa) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every block's attention weights for the tokens x: a list of (B, heads, L, L)."""
        maps = []
        for block in self.blocks:
            x, weights = block(x, return_attention=True)
            maps.append(weights)
        return maps


@dataclass
class ViTConfig:
    """Everything that defines a ViT (stored in its checkpoints)."""

    image_size: int = 32
    patch_size: int = 4
    in_channels: int = 3
    num_classes: int = 10
    embed_dim: int = 192
    depth: int = 6
    num_heads: int = 3
    mlp_dim: int = 384
    dropout: float = 0.0
    pos_embedding: str = "learned"
    pool: str = "cls"
    stem: str = "patch"
    spt: bool = False  # shifted patch tokenization (small_data.ShiftedPatches, half a patch)
    lsa: bool = False  # locality self-attention in every block


class ViT(nn.Module):
    """Vision Transformer: images (B, C, H, W) → logits (B, num_classes); image_size an int or (H, W)."""

    def __init__(self, image_size: int = 32, patch_size: int = 4, in_channels: int = 3, num_classes: int = 10,
                 embed_dim: int = 192, depth: int = 6, num_heads: int = 3, mlp_dim: int = 384, dropout: float = 0.0,
                 pos_embedding: str = "learned", pool: str = "cls", stem: str = "patch", spt: bool = False,
                 lsa: bool = False):
        super().__init__()
        if stem not in STEMS:
            raise ValueError(f"stem {stem!r} is not one of {STEMS}")
        if pos_embedding not in POS_EMBEDDINGS:
            raise ValueError(f"pos_embedding {pos_embedding!r} is not one of {POS_EMBEDDINGS}")
        if pool not in POOLS:
            raise ValueError(f"pool {pool!r} is not one of {POOLS}")
        for name, value in (("patch_size", patch_size), ("in_channels", in_channels), ("num_classes", num_classes),
                            ("embed_dim", embed_dim), ("depth", depth), ("num_heads", num_heads), ("mlp_dim", mlp_dim)):
            check_positive(name, value)
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.config = ViTConfig(image_size, patch_size, in_channels, num_classes, embed_dim, depth, num_heads,
                                mlp_dim, dropout, pos_embedding, pool, stem, bool(spt), bool(lsa))
        # SPT: the image and 4 copies shifted by half a patch, stacked on the channels
        self.shifted = ShiftedPatches(max(1, patch_size // 2)) if spt else nn.Identity()
        stem_channels = in_channels * (5 if spt else 1)
        if stem == "patch":  # a pure ViT: one linear map per patch (checks divisibility)
            self.patch_embed = PatchEmbedding(image_size, patch_size, stem_channels, embed_dim)
        else:
            self.patch_embed = ConvStem(image_size, patch_size, stem_channels, embed_dim)
        n_h, n_w = self.patch_embed.grid
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        if pos_embedding == "learned":
            self.pos_embed = nn.Parameter(torch.randn(1, n_h * n_w, embed_dim) * 0.02)
        else:  # fixed, so a buffer: saved with the model, moved with .to(), never trained
            self.register_buffer("pos_embed", sinusoidal_2d(n_h, n_w, embed_dim).unsqueeze(0))
        self.drop = nn.Dropout(dropout)
        self.encoder = Encoder(embed_dim, depth, num_heads, mlp_dim, dropout, lsa)
        self.seq_pool = SeqPool(embed_dim) if pool == "seq" else None
        self.head = nn.Linear(embed_dim, num_classes)
        self.apply(_init_weights)

    @classmethod
    def from_config(cls, config: ViTConfig | dict) -> "ViT":
        """A ViT built from a ViTConfig or its dict."""
        return cls(**(asdict(config) if isinstance(config, ViTConfig) else config))

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) → the encoder's input (B, 1 + N, D): CLS, then patches with positions."""
        check_images(images, self.config.in_channels, self.config.image_size, "the ViT")
        x = self.patch_embed(self.shifted(images)) + self.pos_embed  # (B, N, D)
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # (B, 1, D)
        return self.drop(torch.cat([cls, x], dim=1))  # (B, 1 + N, D)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.encoder(self.tokens(images))  # (B, 1 + N, D)
        return self.head(self.pool(x, first_patch=1))  # (B, num_classes)

    def pool(self, x: torch.Tensor, first_patch: int) -> torch.Tensor:
        """The encoder's output (B, L, D) → what the class head reads (B, D); patches start at ``first_patch``."""
        if self.config.pool == "cls":
            return x[:, 0]
        patches = x[:, first_patch:]  # (B, N, D)
        return patches.mean(dim=1) if self.config.pool == "mean" else self.seq_pool(patches)

    @torch.no_grad()
    def attention_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's attention weights: a list of depth tensors (B, heads, 1 + N, 1 + N)."""
        return self.encoder.attention_maps(self.tokens(images))


def attention_rollout(maps: list[torch.Tensor], residual: bool = True) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema, 2020): how much each input token flows into each output.

    maps: every layer's weights, a list of (B, heads, L, L). Heads are averaged; with
    ``residual`` each layer's matrix becomes ½(A + I), renormalised, because the skip connection
    carries the token itself past the attention. The layers are multiplied from the first up:
    returns (B, L, L), rows summing to one; row 0 is what the CLS token gathered from the input.
    """
    if not maps:
        raise ValueError("attention_rollout needs at least one layer's weights")
    rollout = None
    for weights in maps:
        if weights.ndim != 4 or weights.shape[-1] != weights.shape[-2]:
            raise ValueError(f"each map must be (B, heads, L, L), got shape {tuple(weights.shape)}")
        a = weights.mean(dim=1)  # (B, L, L)
        if residual:
            a = 0.5 * a + 0.5 * torch.eye(a.shape[-1], device=a.device, dtype=a.dtype)
            a = a / a.sum(dim=-1, keepdim=True)
        rollout = a if rollout is None else a @ rollout  # later layers act on the earlier mixture
    return rollout


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _default_checkpoint():
    from .data import default_data_dir

    return default_data_dir() / "checkpoints" / "vit_cifar10.pt"


DEFAULT_CHECKPOINT = _default_checkpoint()


def save_pretrained(model: ViT, path, meta: dict) -> None:
    """Write a slim pretrained file (weights + config + ``meta``) atomically, and its checksum ``path.sha256``."""
    from .checkpoints import save_pretrained_state

    save_pretrained_state(path, model.state_dict(), asdict(model.config), meta)


def load_pretrained(path=None, map_location: str | torch.device = "cpu", url: str | None = None) -> tuple[ViT, dict]:
    """The course's pretrained ViT in eval mode, and its metadata (config, test_acc, recipe, history).

    It takes normalised CIFAR-10 batches, as ``course_utils.data.make_loader`` yields them. The file
    is verified against its ``.sha256``; ``url`` fetches it when missing (Colab), keeping the
    download only if it verifies (see :func:`course_utils.checkpoints.load_pretrained_state`).
    """
    from pathlib import Path

    from .checkpoints import load_pretrained_state

    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    state = load_pretrained_state(path, map_location, url, what="pretrained ViT",
                                  how=f"train one with `python -m course_utils.recipes vit-cifar10 --out {path}` "
                                      f"(it resumes where it stopped)")
    model = ViT.from_config(state["config"])
    model.load_state_dict(state["model"])
    return model.eval(), state["meta"]


# ----------------------------------------------------------------------------- the lecture notes' model

class LectureProcessor(nn.Module):
    """The notes' VisionTransformerProcessor, rebuilt: Conv2d patch embedding + their 2D sinusoidal sum.

    images (B, C, H, W) → tokens (B, N, D). Position of patch i at (row, col) gets the notes'
    ψ(i) = PE_1d(i) + PE_1d(row) + PE_1d(col). In the notes it lives outside the model, so
    ``optim.Adam(model.parameters())`` never trains its convolution.
    """

    def __init__(self, image_size: int | tuple[int, int] = 32, patch_size: int = 8, in_channels: int = 3,
                 embed_dim: int = 64):
        super().__init__()
        n_h, n_w = check_divisible(image_size, patch_size)
        self.image_size = (n_h * patch_size, n_w * patch_size)
        self.embed = nn.Conv2d(in_channels, embed_dim, patch_size, stride=patch_size)
        index = torch.arange(n_h * n_w)
        table = sinusoidal_1d(n_h * n_w, embed_dim)  # (N, D), rows indexed by patch, row or column
        self.register_buffer("pos", table[index] + table[index // n_w] + table[index % n_w])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → (B, N, D)."""
        check_images(images, self.embed.in_channels, self.image_size, "LectureProcessor")
        return self.embed(images).flatten(2).transpose(1, 2) + self.pos  # (B, N, D)


class LectureViT(nn.Module):
    """The notes' classifier on tokens (B, N, D) → logits (B, K): CLS + ``nn.TransformerEncoder``
    (post-norm, GELU, dropout 0.1) + LayerNorm + Linear on the CLS output."""

    def __init__(self, embed_dim: int = 64, num_classes: int = 10, num_heads: int = 2, num_layers: int = 2,
                 mlp_dim: int = 128, dropout: float = 0.1):
        super().__init__()
        for name, value in (("embed_dim", embed_dim), ("num_classes", num_classes), ("num_heads", num_heads),
                            ("num_layers", num_layers), ("mlp_dim", mlp_dim)):
            check_positive(name, value)
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        layer = nn.TransformerEncoderLayer(embed_dim, num_heads, mlp_dim, dropout, activation="gelu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.mlp_head = nn.Sequential(nn.LayerNorm(embed_dim), nn.Linear(embed_dim, num_classes))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, D) → (B, K)."""
        dim = self.cls_token.shape[-1]
        if tokens.ndim != 3 or tokens.shape[-1] != dim:
            raise ValueError(f"LectureViT expects tokens (B, N, {dim}), got shape {tuple(tokens.shape)}")
        x = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)  # (B, 1 + N, D)
        return self.mlp_head(self.encoder(x)[:, 0])
