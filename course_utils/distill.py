"""Distillation through attention: DeiT (Touvron et al., 2021), a ViT taught by a CNN.

    images (B, C, H, W) → patch tokens (B, N, D) → [CLS] + [DIST] + tokens + positions (B, 2+N, D)
    → encoder → LayerNorm → CLS → head       → class logits (B, K)   trained on the labels
                          → DIST → head_dist → distillation logits    trained on the teacher
    inference: the average of the two heads' logits

Two ways to learn from the teacher's logits Z_t (the student's distillation head gives Z_d):
- soft: (1 − α)·CE(Z_cls, y) + α·τ²·KL(softmax(Z_t/τ) ‖ softmax(Z_d/τ))
- hard: ½·CE(Z_cls, y) + ½·CE(Z_d, argmax Z_t)     (DeiT's choice; it worked better there)

:class:`Distiller` puts a student and a frozen teacher in one module so that the course's one
training loop, :func:`course_utils.train.fit`, trains it unchanged: in training mode it returns
``(averaged logits, class logits, distillation logits, teacher logits)`` and
:class:`DistillationLoss` reads them; in eval mode it returns the student's averaged logits.
"""

from __future__ import annotations

from dataclasses import asdict

import torch
import torch.nn.functional as F
from torch import nn

from .vit import ViT, ViTConfig, _init_weights

KINDS = ("none", "soft", "hard")


class DistilledViT(nn.Module):
    """DeiT's student: the course ViT with a second, distillation token and its own head.

    Takes the same arguments as :class:`course_utils.vit.ViT` (with ``pool`` "mean" or "seq" the class
    head reads the patch tokens only, never the distillation token).
    forward: images (B, C, H, W) → logits (B, K), the mean of the two heads' logits.
    """

    def __init__(self, **vit_args):
        super().__init__()
        self.vit = ViT(**vit_args)  # patch embedding, CLS token, positions, encoder, class head
        self.config: ViTConfig = self.vit.config
        dim, classes = self.config.embed_dim, self.config.num_classes
        self.dist_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.head_dist = nn.Linear(dim, classes)
        nn.init.trunc_normal_(self.dist_token, std=0.02)
        _init_weights(self.head_dist)

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) → the encoder's input (B, 2 + N, D): CLS, DIST, then the patches."""
        x = self.vit.tokens(images)  # (B, 1 + N, D), CLS first, positions added to the patches
        dist = self.dist_token.expand(x.shape[0], -1, -1)  # (B, 1, D)
        return torch.cat([x[:, :1], dist, x[:, 1:]], dim=1)  # (B, 2 + N, D)

    def heads(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(class logits, distillation logits), each (B, K)."""
        x = self.vit.encoder(self.tokens(images))  # (B, 2 + N, D), normalised
        return self.vit.head(self.vit.pool(x, first_patch=2)), self.head_dist(x[:, 1])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        cls, dist = self.heads(images)
        return 0.5 * (cls + dist)  # (B, K)

    @torch.no_grad()
    def attention_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's attention weights: a list of depth tensors (B, heads, 2 + N, 2 + N)."""
        return self.vit.encoder.attention_maps(self.tokens(images))

    def describe(self) -> dict:
        """The configuration, as saved with a checkpoint."""
        return asdict(self.config)


class Distiller(nn.Module):
    """A student and a frozen teacher, trained together by ``fit``.

    training mode: images → (averaged logits, class logits, distillation logits, teacher logits);
    eval mode: images → the student's averaged logits (B, K). The teacher stays in eval mode and
    never gets gradients. ``teacher_tta``: the teacher's logits averaged with its mirror image's.
    """

    def __init__(self, student: DistilledViT, teacher: nn.Module, teacher_tta: bool = False):
        super().__init__()
        self.student, self.teacher, self.teacher_tta = student, teacher, teacher_tta
        self.teacher.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> "Distiller":
        super().train(mode)
        self.teacher.eval()  # its BatchNorm statistics are part of what it teaches
        return self

    @torch.no_grad()
    def teacher_logits(self, images: torch.Tensor) -> torch.Tensor:
        """The teacher's logits (B, K) for the student's (augmented) batch."""
        logits = self.teacher(images)
        return 0.5 * (logits + self.teacher(images.flip(-1))) if self.teacher_tta else logits

    def forward(self, images: torch.Tensor):
        if not self.training:
            return self.student(images)
        cls, dist = self.student.heads(images)
        return 0.5 * (cls + dist), cls, dist, self.teacher_logits(images)


class DistillationLoss(nn.Module):
    """DeiT's losses on a :class:`Distiller`'s training output; plain cross-entropy on eval logits.

    kind: "hard" (½ CE on labels + ½ CE on the teacher's argmax), "soft" ((1 − alpha) CE on labels
    + alpha τ² KL to the teacher at temperature ``tau``), or "none" (both heads on the labels only:
    the distillation token without a teacher, a control). ``label_smoothing`` applies to the labels' CE.
    """

    def __init__(self, kind: str = "hard", tau: float = 3.0, alpha: float = 0.5, label_smoothing: float = 0.0):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind {kind!r} is not one of {KINDS}")
        if tau <= 0:
            raise ValueError(f"tau {tau} must be positive")
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha {alpha} must be in [0, 1]")
        self.kind, self.tau, self.alpha, self.label_smoothing = kind, tau, alpha, label_smoothing

    def forward(self, output, targets: torch.Tensor) -> torch.Tensor:
        if isinstance(output, torch.Tensor):  # evaluation: the averaged logits
            return F.cross_entropy(output, targets)
        _, cls, dist, teacher = output
        ce = F.cross_entropy(cls, targets, label_smoothing=self.label_smoothing)
        if self.kind == "none":
            return 0.5 * ce + 0.5 * F.cross_entropy(dist, targets, label_smoothing=self.label_smoothing)
        if self.kind == "hard":
            return 0.5 * ce + 0.5 * F.cross_entropy(dist, teacher.argmax(-1))
        t = self.tau
        kl = F.kl_div(F.log_softmax(dist / t, dim=-1), F.log_softmax(teacher / t, dim=-1), reduction="batchmean",
                      log_target=True)
        return (1 - self.alpha) * ce + self.alpha * t * t * kl


@torch.no_grad()
def head_agreement(student: DistilledViT, teacher: nn.Module, loader, device: torch.device | str = "cpu") -> dict:
    """How the two heads and the teacher agree over a loader: fractions in [0, 1], and the labels.

    Returns {"heads", "cls_teacher", "dist_teacher", "student_teacher", "acc_cls", "acc_dist",
    "acc_student", "acc_teacher"} and the per-image predictions ("pred_student", "pred_teacher",
    "targets", tensors (N,)).
    """
    student.eval()
    teacher.eval()
    preds = {"cls": [], "dist": [], "student": [], "teacher": [], "targets": []}
    for images, targets in loader:
        images = images.to(device)
        cls, dist = student.heads(images)
        preds["cls"].append(cls.argmax(-1).cpu())
        preds["dist"].append(dist.argmax(-1).cpu())
        preds["student"].append((cls + dist).argmax(-1).cpu())
        preds["teacher"].append(teacher(images).argmax(-1).cpu())
        preds["targets"].append(targets.cpu())
    if not preds["targets"]:
        raise ValueError("head_agreement() got an empty loader")
    p = {k: torch.cat(v) for k, v in preds.items()}
    rate = lambda a, b: (a == b).float().mean().item()  # noqa: E731 - a one-line helper
    return {"heads": rate(p["cls"], p["dist"]), "cls_teacher": rate(p["cls"], p["teacher"]),
            "dist_teacher": rate(p["dist"], p["teacher"]), "student_teacher": rate(p["student"], p["teacher"]),
            "acc_cls": rate(p["cls"], p["targets"]), "acc_dist": rate(p["dist"], p["targets"]),
            "acc_student": rate(p["student"], p["targets"]), "acc_teacher": rate(p["teacher"], p["targets"]),
            "pred_student": p["student"], "pred_teacher": p["teacher"], "targets": p["targets"]}


def save_student(model: nn.Module, path, meta: dict) -> None:
    """Write a trained student (a :class:`DistilledViT` or a plain ViT) in bfloat16, with its checksum.

    Measure ``meta``'s accuracy on the stored weights (``model.load_state_dict(stored_state(model))``).
    """
    from .checkpoints import save_pretrained_state
    from .cnn import stored_state

    config = {**asdict(model.config), "distilled": isinstance(model, DistilledViT)}
    save_pretrained_state(path, stored_state(model), config, meta)


def load_student(path, map_location: str | torch.device = "cpu", url: str | None = None) -> tuple[nn.Module, dict]:
    """A student written by :func:`save_student`, in float32 and eval mode, and its metadata.

    ``url``: where to fetch the file when it is missing (Colab); kept only if it verifies.
    """
    from .checkpoints import load_pretrained_state

    state = load_pretrained_state(path, map_location, url, what="ViT student",
                                  how="train one with `python benchmarks/distill_cifar10.py student --save PATH`")
    cfg = dict(state["config"])
    distilled = cfg.pop("distilled")
    model = DistilledViT(**cfg) if distilled else ViT.from_config(cfg)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()})
    return model.eval(), state["meta"]
