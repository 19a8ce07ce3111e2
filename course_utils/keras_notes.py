"""The other lecture notes' Keras "Vision Transformer", rebuilt layer for layer in PyTorch.

The notes (DSA4050, week 10) train on CIFAR-10 the Keras model

    Sequential([TransformerBlock(embed_dim=64, num_heads=4, ff_dim=128), Flatten(), Dense(10, softmax)])

on the (B, 32, 32, 3) images themselves: no patches, no positional encoding. Their block is

    attn_output = MultiHeadAttention(num_heads, key_dim=embed_dim)(inputs, inputs)
    out1        = LayerNormalization(epsilon=1e-6)(inputs + attn_output)
    ffn_output  = Sequential([Dense(ff_dim, activation="relu"), Dense(embed_dim)])(out1)
    return        LayerNormalization(epsilon=1e-6)(out1 + ffn_output)

What this rebuild mirrors (Keras' defaults wherever the notes set nothing):
- ``MultiHeadAttention(attention_axes=None)`` attends over every axis between batch and features:
  on (B, 32, 32, 3) that is both spatial axes, 1,024 pixel tokens of 3 features each.
- query, key and value are each projected to num_heads × key_dim = 4 × 64 (``value_dim`` defaults
  to ``key_dim``), with biases; scores are scaled by 1/√key_dim; attention dropout 0; the output
  projection (``output_shape=None``) maps back to the query's last dimension, 3.
- ``Dense`` acts on the last axis; ReLU after the FFN's first Dense, nothing after its second.
- ``LayerNormalization`` over the last axis with the notes' epsilon 1e-6 (Keras' own default is 1e-3).
- kernels start Glorot-uniform with Keras' fans, biases at zero; the notes use no dropout.
- ``Flatten`` reads (H, W, C) channels-last; ``Dense(10, softmax)`` is a Linear layer whose softmax
  is left to the loss (``nn.CrossEntropyLoss`` takes logits: the same numbers as Keras' softmax
  followed by sparse_categorical_crossentropy).

As written, the model cannot run: the second residual adds ``out1`` (…, 3) to ``ffn_output``
(…, 64), and Keras stops with a ValueError while it builds the model. This rebuild raises a
ValueError there too, naming both shapes. ``fixed=True`` is the smallest change that runs: the
FFN's last Dense projects back to the input's width (3) instead of to embed_dim (64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .attention import scaled_dot_product_attention

EPSILON = 1e-6
"""The notes' LayerNormalization epsilon (Keras' default would be 1e-3)."""


def _keras_glorot_(weight: torch.Tensor, keras_shape: tuple[int, ...]) -> None:
    """Keras' glorot_uniform for a kernel of ``keras_shape``, written into ``weight`` (same number of entries).

    Keras computes fans from the kernel's shape: (in, out) for Dense; for a 3-D EinsumDense kernel,
    fan_in = shape[-2]·shape[0] and fan_out = shape[-1]·shape[0] (it reads it as a convolution kernel).
    """
    receptive = math.prod(keras_shape[:-2])
    fan_in, fan_out = keras_shape[-2] * receptive, keras_shape[-1] * receptive
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        weight.uniform_(-limit, limit)


def dense(in_features: int, out_features: int, keras_shape: tuple[int, ...] | None = None) -> nn.Linear:
    """A Keras Dense (or EinsumDense) on the last axis: Linear with Glorot-uniform kernel and zero bias."""
    layer = nn.Linear(in_features, out_features)
    _keras_glorot_(layer.weight, keras_shape or (in_features, out_features))
    nn.init.zeros_(layer.bias)
    return layer


class KerasMultiHeadAttention(nn.Module):
    """``keras.layers.MultiHeadAttention(num_heads, key_dim)`` called as self-attention, ``att(x, x)``.

    (B, *axes, C) → (B, *axes, C): every axis between batch and features is attended over, so
    an image (B, H, W, C) is H·W tokens. Each head projects C features to key_dim (value_dim =
    key_dim), and the output projection returns heads·key_dim to C, the query's last dimension.
    """

    def __init__(self, in_features: int, num_heads: int, key_dim: int):
        super().__init__()
        for name, value in (("in_features", in_features), ("num_heads", num_heads), ("key_dim", key_dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} {value!r} must be a positive integer")
        self.num_heads, self.key_dim = num_heads, key_dim
        inner = num_heads * key_dim
        self.query, self.key, self.value = (dense(in_features, inner, (in_features, num_heads, key_dim))
                                            for _ in range(3))  # W_q, W_k, W_v: C → heads × key_dim
        self.output_dense = dense(inner, in_features, (num_heads, key_dim, in_features))  # W_o: back to C

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        """x (B, *axes, C) → out (B, *axes, C), and weights (B, heads, L, L) with L = prod(axes) if asked."""
        b, *axes, c = x.shape
        tokens = x.reshape(b, -1, c)  # (B, L, C): the attention axes flattened, L = H·W for an image
        length = tokens.shape[1]

        def heads(proj: nn.Linear) -> torch.Tensor:
            return proj(tokens).view(b, length, self.num_heads, self.key_dim).transpose(1, 2)  # (B, h, L, key_dim)

        q, k, v = heads(self.query), heads(self.key), heads(self.value)
        if return_attention:  # written out, as Keras computes it: the (B, h, L, L) matrix exists
            y, weights = scaled_dot_product_attention(q, k, v)  # (B, h, L, key_dim), (B, h, L, L)
        else:  # the same numbers through PyTorch's fused kernel
            y = nn.functional.scaled_dot_product_attention(q, k, v)
        y = y.transpose(1, 2).reshape(b, length, self.num_heads * self.key_dim)  # heads concatenated
        out = self.output_dense(y).view(b, *axes, c)  # (B, *axes, C)
        return (out, weights) if return_attention else out


class TransformerBlock(nn.Module):
    """The notes' post-norm block on channels-last inputs: (B, H, W, C) → (B, H, W, C).

    ``fixed=False`` is the notes' code: its FFN ends in Dense(embed_dim), so the second residual
    raises a ValueError naming both shapes (unless C == embed_dim). ``fixed=True`` ends the FFN in
    Dense(C) instead. ``in_features`` is C (Keras infers it from the first input; PyTorch needs it).
    """

    def __init__(self, embed_dim: int = 64, num_heads: int = 4, ff_dim: int = 128, in_features: int = 3,
                 fixed: bool = False):
        super().__init__()
        self.fixed = fixed
        out = in_features if fixed else embed_dim  # the only difference between the two
        self.att = KerasMultiHeadAttention(in_features, num_heads, key_dim=embed_dim)
        self.ffn = nn.Sequential(dense(in_features, ff_dim), nn.ReLU(), dense(ff_dim, out))
        self.layernorm1 = nn.LayerNorm(in_features, eps=EPSILON)
        self.layernorm2 = nn.LayerNorm(out, eps=EPSILON)  # as written: the width the sum was meant to have

    def forward(self, inputs: torch.Tensor, return_attention: bool = False):
        """(B, H, W, C) → (B, H, W, C), and the attention weights (B, heads, H·W, H·W) if asked."""
        if return_attention:
            attn_output, weights = self.att(inputs, return_attention=True)
        else:
            attn_output = self.att(inputs)  # (B, H, W, C)
        out1 = self.layernorm1(inputs + attn_output)  # (B, H, W, C)
        ffn_output = self.ffn(out1)  # (B, H, W, C) fixed; (B, H, W, embed_dim) as written
        out = self.layernorm2(residual(out1, ffn_output))
        return (out, weights) if return_attention else out


def residual(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x + y for a residual connection; a ValueError naming both shapes where they do not broadcast."""
    try:
        torch.broadcast_shapes(x.shape, y.shape)
    except RuntimeError:
        raise ValueError(f"the residual out1 + ffn_output adds shape {tuple(x.shape)} to shape {tuple(y.shape)}: "
                         f"they do not broadcast ({x.shape[-1]} features vs {y.shape[-1]}); the FFN's last Dense "
                         f"must return to the input's {x.shape[-1]} features") from None
    return x + y


@dataclass
class NotesConfig:
    """The notes' model; ``fixed`` picks the smallest fix (the FFN's last Dense returns to in_channels)."""

    image_size: int = 32
    in_channels: int = 3
    num_classes: int = 10
    embed_dim: int = 64
    num_heads: int = 4
    ff_dim: int = 128
    fixed: bool = False


class NotesModel(nn.Module):
    """The notes' Sequential on channels-last images: (B, H, W, C) → block → Flatten → Dense → logits (B, K)."""

    def __init__(self, fixed: bool = False, **sizes):
        super().__init__()
        self.config = c = NotesConfig(fixed=fixed, **sizes)
        self.block = TransformerBlock(c.embed_dim, c.num_heads, c.ff_dim, c.in_channels, fixed)
        width = c.in_channels if fixed else c.embed_dim
        self.dense = dense(c.image_size * c.image_size * width, c.num_classes)  # after Flatten

    def forward(self, images: torch.Tensor, return_attention: bool = False):
        """(B, H, W, C) channels-last → logits (B, K), and the attention weights (B, heads, H·W, H·W) if asked."""
        c = self.config
        if images.ndim != 4 or tuple(images.shape[1:]) != (c.image_size, c.image_size, c.in_channels):
            raise ValueError(f"the notes' model takes channels-last images (B, {c.image_size}, {c.image_size}, "
                             f"{c.in_channels}) as Keras does, got shape {tuple(images.shape)}; wrap it in "
                             f"ChannelsFirst for (B, C, H, W) batches")
        if return_attention:
            x, weights = self.block(images, return_attention=True)
            return self.dense(x.flatten(1)), weights
        return self.dense(self.block(images).flatten(1))  # Flatten: (B, H·W·C) in (H, W, C) order


class ChannelsFirst(nn.Module):
    """Feed the course's (B, C, H, W) batches to a channels-last model: permute to (B, H, W, C) first."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, **kwargs):
        if images.ndim != 4:
            raise ValueError(f"expected images (B, C, H, W), got shape {tuple(images.shape)}")
        return self.model(images.permute(0, 2, 3, 1), **kwargs)  # (B, C, H, W) → (B, H, W, C)


def course_model(fixed: bool = True, **sizes) -> ChannelsFirst:
    """The notes' model (fixed by default) taking the course's (B, C, H, W) batches."""
    return ChannelsFirst(NotesModel(fixed, **sizes))


def parameter_formula(config: NotesConfig | None = None) -> dict[str, int]:
    """Parameters per layer, counted by hand (kernel entries + biases): their sum is the model's count."""
    c = config or NotesConfig()
    C, h, k, F, K = c.in_channels, c.num_heads, c.embed_dim, c.ff_dim, c.num_classes
    out = C if c.fixed else c.embed_dim
    return {
        "attention W_q, W_k, W_v: 3·(C·h·k + h·k)": 3 * (C * h * k + h * k),
        "attention W_o: h·k·C + C": h * k * C + C,
        "layernorm1: 2·C": 2 * C,
        "ffn Dense(ff_dim): C·F + F": C * F + F,
        "ffn Dense(out): F·out + out": F * out + out,
        "layernorm2: 2·out": 2 * out,
        "Dense(K) after Flatten: H·W·out·K + K": c.image_size**2 * out * K + K,
    }
