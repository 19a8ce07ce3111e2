"""A small convolutional network for CIFAR-10: the inductive-bias baseline next to the ViT.

    images (B, 3, 32, 32) → 4 × [3×3 conv → BatchNorm → ReLU] with 2×2 max-pooling after
    blocks 2, 3 and 4 → (B, 256, 4, 4) → global average → Linear → logits (B, 10)

Locality and weight sharing are built in: every output looks at a 3×3 neighbourhood and the
same filter slides over the whole image, which is what a ViT has to learn from data.
"""

from __future__ import annotations

import torch
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


# ----------------------------------------------------------------------------- a fast teacher

def patch_whitening(images: torch.Tensor, patch: int = 2, eps: float = 5e-4) -> torch.Tensor:
    """Conv weights (2·P, C, patch, patch) that whiten the images' patches: P = C·patch² directions.

    images (N, C, H, W), normalised floats. The filters are the eigenvectors of the patches'
    covariance divided by the square root of their eigenvalue, each with its negative: the first
    layer then sees decorrelated, unit-variance inputs from the start (a speed-run trick: the
    layer is fixed from data instead of learned).
    """
    if images.ndim != 4 or images.shape[0] < 2:
        raise ValueError(f"images must be (N, C, H, W) with N >= 2, got {tuple(images.shape)}")
    c = images.shape[1]
    patches = images.float().unfold(2, patch, 1).unfold(3, patch, 1)  # (N, C, H', W', p, p)
    patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * patch * patch)  # (N·H'·W', C·p·p)
    patches = patches - patches.mean(0)
    cov = patches.T @ patches / (len(patches) - 1)  # (C·p·p, C·p·p)
    values, vectors = torch.linalg.eigh(cov)  # ascending
    filters = (vectors / torch.sqrt(values + eps)).T.reshape(-1, c, patch, patch)  # (C·p·p, C, p, p)
    return torch.cat([filters, -filters])


class _ConvGroup(nn.Module):
    """conv 3×3 → 2×2 max-pool → BatchNorm → GELU → conv 3×3 → BatchNorm → GELU: (B, Cin, H, W) → (B, Cout, H/2, W/2)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(c_out)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.norm1(self.pool(self.conv1(x))))
        return self.act(self.norm2(self.conv2(x)))


class FastCNN(nn.Module):
    """A CIFAR-10 network built for speed, after the speed-run literature (Keller Jordan's airbench, 2024).

    images (B, 3, 32, 32) → fixed 2×2 whitening conv (24 channels, 31×31) → GELU → three conv groups
    (``widths``, each halving the map: 15, 7, 3) → global max-pool → Linear (no bias) → logits (B, 10),
    scaled by ``logit_scale``. About 2 M parameters at the default widths. Call :meth:`whiten` with
    training images before training; :meth:`predict_tta` averages the logits of each image and its
    mirror image (test-time augmentation).
    """

    def __init__(self, num_classes: int = 10, widths: tuple[int, int, int] = (64, 256, 256),
                 logit_scale: float = 1 / 9):
        super().__init__()
        if len(widths) != 3 or any(not isinstance(w, int) or w < 1 for w in widths):
            raise ValueError(f"widths {widths!r} must be three positive integers")
        self.whitening = nn.Conv2d(3, 24, 2, padding=0, bias=True)
        self.whitening.weight.requires_grad_(False)  # set from data by whiten(); its bias still learns
        self.groups = nn.Sequential(_ConvGroup(24, widths[0]), _ConvGroup(widths[0], widths[1]),
                                    _ConvGroup(widths[1], widths[2]))
        self.head = nn.Linear(widths[2], num_classes, bias=False)
        self.logit_scale = logit_scale
        self.act = nn.GELU()
        for module in self.modules():  # start every 3×3 conv near the identity on its first channels
            if isinstance(module, nn.Conv2d) and module.kernel_size == (3, 3):
                nn.init.dirac_(module.weight[:module.in_channels])

    @torch.no_grad()
    def whiten(self, images: torch.Tensor) -> None:
        """Set the first layer from normalised training images (N, 3, H, W) (a few thousand suffice)."""
        self.whitening.weight.copy_(patch_whitening(images).to(self.whitening.weight))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"FastCNN expects images (B, 3, H, W), got shape {tuple(images.shape)}")
        x = images.contiguous(memory_format=torch.channels_last)  # what oneDNN / cuDNN convolve fastest
        x = self.groups(self.act(self.whitening(x)))  # (B, C, 3, 3)
        x = torch.amax(x, dim=(2, 3))  # (B, C)
        return self.head(x) * self.logit_scale

    @torch.no_grad()
    def predict_tta(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (B, K) averaged over each image and its left-right mirror."""
        return 0.5 * (self(images) + self(images.flip(-1)))


def stored_state(model: nn.Module) -> dict:
    """The model's state with floating tensors in bfloat16: what a teacher file stores (half the bytes)."""
    return {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in model.state_dict().items()}


def save_teacher(model: FastCNN, path, meta: dict) -> None:
    """Write a FastCNN as a pretrained file (bfloat16 weights, widths, ``meta``) with its checksum ``path.sha256``.

    Measure ``meta``'s accuracy after ``model.load_state_dict(stored_state(model))``, so that it is
    the accuracy of the weights the file holds.
    """
    from .checkpoints import save_pretrained_state

    config = {"widths": [g.conv2.out_channels for g in model.groups], "num_classes": model.head.out_features,
              "logit_scale": model.logit_scale}
    save_pretrained_state(path, stored_state(model), config, meta)


def load_teacher(path=None, map_location: str | torch.device = "cpu", url: str | None = None) -> tuple[FastCNN, dict]:
    """The course's CIFAR-10 teacher (a :class:`FastCNN`) in eval mode, and its metadata."""
    from pathlib import Path

    from .checkpoints import load_pretrained_state

    path = Path(path) if path is not None else DEFAULT_TEACHER
    state = load_pretrained_state(path, map_location, url, what="CNN teacher",
                                  how=f"train one with `python -m course_utils.recipes cnn-teacher --out {path}`")
    cfg = state["config"]
    model = FastCNN(num_classes=cfg["num_classes"], widths=tuple(cfg["widths"]), logit_scale=cfg["logit_scale"])
    model.load_state_dict(state["model"])
    return model.eval(), state["meta"]


def _default_teacher():
    from .data import default_data_dir

    return default_data_dir() / "checkpoints" / "cnn_teacher.pt"


DEFAULT_TEACHER = _default_teacher()
