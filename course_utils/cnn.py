"""A small convolutional network for CIFAR-10: the inductive-bias baseline next to the ViT.

    images (B, 3, 32, 32) → 4 × [3×3 conv → BatchNorm → ReLU] with 2×2 max-pooling after
    blocks 2, 3 and 4 → (B, 256, 4, 4) → global average → Linear → logits (B, 10)

Locality and weight sharing are built in: every output looks at a 3×3 neighbourhood and the
same filter slides over the whole image, which is what a ViT has to learn from data.
"""

from __future__ import annotations

from torch import nn


class ConvNet(nn.Module):
    """images (B, C, H, W) → logits (B, num_classes); H and W divisible by 2^(len(widths) − 1)."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, widths: tuple[int, ...] = (32, 64, 128, 256)):
        super().__init__()
        layers, channels = [], in_channels
        for i, width in enumerate(widths):
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, num_classes)
        self.stride = 2 ** (len(widths) - 1)  # three poolings for four blocks

    def forward(self, images):
        h, w = images.shape[-2:]
        if h % self.stride or w % self.stride:
            raise ValueError(f"image size {h}×{w} must be divisible by {self.stride} (one 2×2 pooling per block after the first)")
        return self.head(self.features(images).mean(dim=(2, 3)))
