"""Every plot the notebooks show. Functions draw and return a matplotlib Figure; nothing else.

No rcParams are changed at import time: the course's look is applied inside each function.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .patches import check_positive


def _to_hwc(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """uint8 or float image (C, H, W) or (H, W) → an array imshow understands (H, W[, C])."""
    arr = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] in (1, 3):
        arr = arr.transpose(1, 2, 0)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    return arr


def _image_axes(image: torch.Tensor, ax, size: float):
    """(figure, axes, image array, height, width), drawing on ``ax`` or on a new figure sized to the image."""
    arr = _to_hwc(image)
    h, w = arr.shape[:2]
    if ax is None:
        fig, ax = plt.subplots(figsize=(size, size * h / w))
    else:
        fig = ax.figure
    ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, interpolation="nearest")
    return fig, ax, arr, h, w


def image_grid(images: torch.Tensor, labels: Sequence[int] | torch.Tensor | None = None,
               classes: Sequence[str] | None = None, ncols: int = 8, title: str | None = None,
               size: float = 1.4, titles: Sequence[str] | None = None) -> Figure:
    """A grid of images (N, C, H, W) (uint8, or floats in [0, 1]) titled with class names (or ``titles``)."""
    n = len(images)
    if n == 0:
        raise ValueError("image_grid needs at least one image")
    ncols = min(check_positive("ncols", ncols), n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.25) * nrows + (0.4 if title else 0)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        arr = _to_hwc(images[i])
        ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[i], fontsize=7)
        elif labels is not None:
            label = int(labels[i])
            ax.set_title(classes[label] if classes else str(label), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def class_grid(dataset, per_class: int = 6, seed: int = 0, title: str | None = None) -> Figure:
    """``per_class`` random images of each class of an ImageDataset, one row per class."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for label in range(len(dataset.classes)):
        idx = torch.nonzero(dataset.targets == label).flatten()
        rows.append(idx[torch.randperm(idx.numel(), generator=g)[:per_class]])
    idx = torch.cat(rows)
    return image_grid(dataset.images[idx], dataset.targets[idx], dataset.classes, ncols=per_class, title=title)


def history_curves(*histories, labels: Sequence[str] | None = None, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch (train solid, validation dashed) for one or more Histories."""
    labels = labels or [f"run {i + 1}" for i in range(len(histories))]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    for hist, label, color in zip(histories, labels, plt.cm.tab10.colors):
        ax_loss.plot(hist.epoch, hist.train_loss, color=color, label=f"{label} train")
        ax_acc.plot(hist.epoch, [100 * a for a in hist.train_acc], color=color, label=f"{label} train")
        if not all(np.isnan(hist.val_loss)):
            ax_loss.plot(hist.epoch, hist.val_loss, "--", color=color, label=f"{label} val")
            ax_acc.plot(hist.epoch, [100 * a for a in hist.val_acc], "--", color=color, label=f"{label} val")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(targets: torch.Tensor, predictions: torch.Tensor, classes: Sequence[str],
                     normalize: bool = True, title: str | None = None) -> Figure:
    """A seaborn heatmap of the confusion matrix (rows: true class, columns: predicted); labels in [0, K)."""
    import seaborn as sns

    k = len(classes)
    if k == 0:
        raise ValueError("confusion_matrix needs at least one class name")
    t, p = torch.as_tensor(targets).long().cpu(), torch.as_tensor(predictions).long().cpu()
    if t.shape != p.shape:
        raise ValueError(f"targets {tuple(t.shape)} and predictions {tuple(p.shape)} must have the same shape")
    for name, labels in (("targets", t), ("predictions", p)):
        bad = labels[(labels < 0) | (labels >= k)]
        if bad.numel():
            raise ValueError(f"{name} must be class indices in [0, {k}), got {int(bad[0])} "
                             f"({bad.numel()} out of range; there are {k} class names)")
    cm = torch.bincount(t * k + p, minlength=k * k).reshape(k, k).double()
    if normalize:
        cm = cm / cm.sum(dim=1, keepdim=True).clamp(min=1)
    fig, ax = plt.subplots(figsize=(0.55 * k + 2.5, 0.5 * k + 1.8))
    sns.heatmap(cm.numpy(), annot=True, fmt=".2f" if normalize else ".0f", cmap="Blues", cbar=False,
                xticklabels=classes, yticklabels=classes, ax=ax, annot_kws={"fontsize": 7})
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion matrix")
    fig.tight_layout()
    return fig


def class_counts(counts: dict[str, Sequence[int]], classes: Sequence[str], title: str | None = None) -> Figure:
    """Bars of images per class for each split (``{"train": [...], "test": [...]}``)."""
    fig, ax = plt.subplots(figsize=(8, 2.8))
    width = 0.8 / len(counts)
    x = np.arange(len(classes))
    for i, (split, values) in enumerate(counts.items()):
        ax.bar(x + i * width, values, width, label=split)
    ax.set_xticks(x + width * (len(counts) - 1) / 2, classes, rotation=30, fontsize=8)
    ax.set(ylabel="images", title=title or "images per class")
    ax.legend()
    fig.tight_layout()
    return fig


def per_class_accuracy(targets: torch.Tensor, predictions: torch.Tensor, classes: Sequence[str],
                       title: str | None = None) -> Figure:
    """Horizontal bars: the accuracy on each class, with the overall accuracy as a line."""
    targets, predictions = torch.as_tensor(targets), torch.as_tensor(predictions)
    acc = [100 * (predictions[targets == k] == k).float().mean().item() for k in range(len(classes))]
    overall = 100 * (predictions == targets).float().mean().item()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    y = np.arange(len(classes))
    ax.barh(y, acc, color="tab:blue")
    ax.axvline(overall, color="black", linestyle="--", linewidth=1, label=f"all classes {overall:.1f} %")
    for yi, a in zip(y, acc):
        ax.text(a + 0.5, yi, f"{a:.1f}", va="center", fontsize=8)
    ax.set_yticks(y, classes)
    ax.invert_yaxis()
    ax.set(xlim=(0, 105), xlabel="test accuracy (%)", title=title or "accuracy per class")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def ladder(rows: Sequence[dict], reference: float | None = None, title: str | None = None) -> Figure:
    """The ablation ladder: one bar per rung (validation accuracy), kept rungs solid, dropped ones hatched.

    ``rows``: dicts with "name", "val_acc", "test_acc", "kept" (as benchmarks/vit_cifar10.py writes them).
    """
    fig, ax = plt.subplots(figsize=(8, 0.38 * len(rows) + 1.2))
    y = np.arange(len(rows))
    for yi, r in zip(y, rows):
        ax.barh(yi, r["val_acc"], color="tab:blue" if r["kept"] else "white", edgecolor="tab:blue",
                hatch=None if r["kept"] else "//")
        ax.text(r["val_acc"] + 0.5, yi, f"{r['val_acc']:.1f}", va="center", fontsize=8)
    if reference is not None:
        ax.axvline(reference, color="tab:red", linestyle="--", linewidth=1, label=f"lecture notes {reference:.2f} %")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_yticks(y, [f"{i}. {r['name']}" for i, r in enumerate(rows)], fontsize=8)
    ax.invert_yaxis()
    ax.set(xlim=(0, 100), xlabel="validation accuracy (%)", title=title or "ablation ladder (hatched: not kept)")
    fig.tight_layout()
    return fig


def attention_heatmap(weights: torch.Tensor, queries: Sequence[str] | None = None, keys: Sequence[str] | None = None,
                      title: str | None = None, annotate: bool = True, ax=None, cmap: str = "viridis",
                      cbar: bool | None = None, cbar_label: str = "attention weight", fontsize: float = 7,
                      xlabel: str = "key", ylabel: str = "query", fmt: str = ".2f") -> Figure:
    """A heatmap of attention weights (L_q, L_k): rows are queries, columns keys.

    Small matrices are annotated with their values; ``cbar=None`` then leaves the colour bar out
    (True draws it anyway, labelled ``cbar_label``). ``fontsize`` sizes the annotations and ``fmt``
    formats them (``"g"`` writes a 0/1 mask as 0 and 1).
    """
    import seaborn as sns

    w = weights.detach().cpu().float().numpy()
    if w.ndim != 2:
        raise ValueError(f"attention_heatmap needs a (L_q, L_k) matrix, got shape {w.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.5 * w.shape[1] + 2, 0.45 * w.shape[0] + 1.2))
    else:
        fig = ax.figure
    small = annotate and w.size <= 144
    bar = (not small) if cbar is None else cbar
    sns.heatmap(w, annot=small, fmt=fmt, cmap=cmap, vmin=0, vmax=1, cbar=bar, square=True, ax=ax,
                xticklabels=list(keys) if keys is not None else "auto",
                yticklabels=list(queries) if queries is not None else "auto", annot_kws={"fontsize": fontsize},
                cbar_kws={"label": cbar_label} if bar else None)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def loglog_cost(sizes: Sequence[float], series: dict[str, Sequence[float]], xlabel: str, ylabel: str,
                title: str | None = None, slopes: Sequence[int] = (1, 2), variable: str = "size",
                styles: dict[str, dict] | None = None, legend_fontsize: float = 10) -> Figure:
    """Measured cost against size on log-log axes, with reference lines of the given slopes.

    The reference lines are labelled "∝ {variable}²" and so on. ``styles`` maps a series' name to
    extra keyword arguments for its line (e.g. a dashed prediction without markers).
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = np.asarray(sizes, dtype=float)
    for (name, values), marker in zip(series.items(), "osD^v"):
        ax.plot(sizes, values, **{"marker": marker, "label": name, **(styles or {}).get(name, {})})
    finite = [np.asarray(v, float) for v in series.values()]
    anchor = np.nanmax([v[0] for v in finite])
    powers = {1: "", 2: "²", 3: "³"}
    for slope, style in zip(slopes, (":", "--", "-.")):
        ax.plot(sizes, anchor * (sizes / sizes[0]) ** slope, style, color="grey", alpha=0.6,
                label=f"∝ {variable}{powers.get(slope, f'^{slope}')}")
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel=ylabel, title=title or "")
    ax.set_xticks(sizes, [f"{s:g}" for s in sizes])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=legend_fontsize)
    fig.tight_layout()
    return fig


def patch_grid(image: torch.Tensor, patch_size: int, numbers: bool = True, title: str | None = None,
               ax=None, size: float = 4.0) -> Figure:
    """An image (C, H, W) with its P×P patch grid drawn over it and the patches numbered row-major."""
    check_positive("patch size", patch_size)
    fig, ax, arr, h, w = _image_axes(image, ax, size)
    for x in range(0, w + 1, patch_size):
        ax.axvline(x - 0.5, color="white", lw=1)
    for y in range(0, h + 1, patch_size):
        ax.axhline(y - 0.5, color="white", lw=1)
    n_w = w // patch_size
    if numbers and (h // patch_size) * n_w <= 64:
        for i in range((h // patch_size) * n_w):
            r, c = divmod(i, n_w)
            ax.text(c * patch_size + patch_size / 2 - 0.5, r * patch_size + patch_size / 2 - 0.5, str(i),
                    ha="center", va="center", color="yellow", fontsize=9, fontweight="bold")
    ax.set(xticks=[], yticks=[], title=title or f"{(h // patch_size) * n_w} patches of {patch_size}×{patch_size}")
    return fig


def patch_tiles(tokens: torch.Tensor, patch_size: int, channels: int, ncols: int | None = None,
                title: str | None = None, size: float = 0.9) -> Figure:
    """Flattened patches (N, C·P·P), each shown as a small image, numbered in order."""
    check_positive("patch size", patch_size)
    check_positive("channels", channels)
    if tokens.ndim != 2 or tokens.shape[1] != channels * patch_size**2:
        raise ValueError(f"patch_tiles needs patches (N, {channels}·{patch_size}·{patch_size} = "
                         f"{channels * patch_size**2}), got shape {tuple(tokens.shape)}")
    n = tokens.shape[0]
    if n == 0:
        raise ValueError("patch_tiles needs at least one patch, got none")
    ncols = int(round(n**0.5)) if ncols is None else check_positive("ncols", ncols)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.2) * nrows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            tile = tokens[i].reshape(channels, patch_size, patch_size)
            ax.imshow(_to_hwc(tile), cmap="gray" if channels == 1 else None, interpolation="nearest")
            ax.set_title(str(i), fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def matrix_heatmap(matrix: torch.Tensor, title: str | None = None, xlabel: str = "", ylabel: str = "",
                   annotate: bool = False, ax=None, cmap: str = "viridis", vmin=None, vmax=None,
                   size: float = 4.5, fmt: str = ".2f", cbar: bool = True, cbar_label: str | None = None) -> Figure:
    """A seaborn heatmap of any 2D tensor (an encoding table, a similarity matrix).

    ``cbar_label`` names the colour bar's quantity; ``cbar=False`` leaves the bar out (for panels
    that share one bar, see :func:`heatmap_panels`).
    """
    import seaborn as sns

    m = matrix.detach().cpu().float().numpy()
    if m.ndim != 2 or 0 in m.shape:
        raise ValueError(f"matrix_heatmap needs a non-empty 2D matrix, got shape {tuple(m.shape)}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(size * min(2.2, max(1.0, m.shape[1] / m.shape[0])), size))
    else:
        fig = ax.figure
    sns.heatmap(m, annot=annotate, fmt=fmt, cmap=cmap, vmin=vmin, vmax=vmax, ax=ax, annot_kws={"fontsize": 6},
                cbar=cbar, cbar_kws={"label": cbar_label} if cbar and cbar_label else None)
    ax.set(title=title or "", xlabel=xlabel, ylabel=ylabel)
    fig.tight_layout()
    return fig


def heatmap_panels(matrices: dict[str, torch.Tensor], xlabel: str = "", ylabel: str = "", vmin=None, vmax=None,
                   cmap: str = "viridis", cbar_label: str | None = None, block: int | None = None,
                   size: float = 4.2, title: str | None = None) -> Figure:
    """Matrices side by side on ONE colour scale with one colour bar: {panel title: (N, M)}.

    The scale runs from ``vmin`` to ``vmax`` (default: the smallest and largest value over all
    panels), so equal colours mean equal values in every panel. ``block`` draws white lines every
    ``block`` rows and columns (e.g. one grid row of patches).
    """
    if not matrices:
        raise ValueError("heatmap_panels needs at least one matrix")
    arrays = {name: m.detach().cpu().float() for name, m in matrices.items()}
    lo = min(a.min().item() for a in arrays.values()) if vmin is None else vmin
    hi = max(a.max().item() for a in arrays.values()) if vmax is None else vmax
    n = len(arrays)
    fig, axes = plt.subplots(1, n, figsize=(size * n + 1.2, size + 0.3), squeeze=False)
    for ax, (name, a) in zip(axes[0], arrays.items()):
        matrix_heatmap(a, title=name, xlabel=xlabel, ylabel=ylabel, ax=ax, cmap=cmap, vmin=lo, vmax=hi, cbar=False)
        ax.title.set_fontsize(12)
        if block:
            for k in range(block, max(a.shape), block):
                ax.axhline(k, color="white", linewidth=1.5)
                ax.axvline(k, color="white", linewidth=1.5)
    fig.tight_layout(rect=(0, 0, 0.93, 0.94 if title else 1))
    cax = fig.add_axes((0.945, 0.15, 0.012, 0.7))
    fig.colorbar(axes[0, 0].collections[0], cax=cax).set_label(cbar_label or "", fontsize=11)
    if title:
        fig.suptitle(title, fontsize=13)
    return fig


def similarity_maps(table: torch.Tensor, height: int, width: int, title: str | None = None,
                    vmin: float | None = None, size: float = 0.75, axes_grid=None, vmax: float = 1.0,
                    mark_self: bool = False) -> Figure:
    """For every grid cell, its cosine similarity to all cells, as an H×W map placed at that cell.

    ``table``: encodings (H·W, D), row-major. Like figure 7 of the ViT paper. The colour scale runs
    from ``vmin`` (default: the smallest similarity) to ``vmax``; ``mark_self`` puts a red dot on
    the cell each map belongs to.
    """
    from .positional import cosine_similarity_matrix

    sim = cosine_similarity_matrix(table).cpu().numpy()  # (N, N)
    if axes_grid is None:
        fig, axes = plt.subplots(height, width, figsize=(size * width + 0.6, size * height + 0.5), squeeze=False)
    else:
        axes = axes_grid
        fig = axes.flat[0].figure
    lo = sim.min() if vmin is None else vmin
    for i, ax in enumerate(axes.flat):
        im = ax.imshow(sim[i].reshape(height, width), vmin=lo, vmax=vmax, cmap="viridis")
        if mark_self:
            ax.plot(i % width, i // width, "o", color="red", markersize=5)
        ax.set(xticks=[], yticks=[])
        ax.set_title(str(i), fontsize=6, pad=1)
    if axes_grid is None:
        fig.colorbar(im, ax=axes, shrink=0.6, label="cosine similarity")
        if title:
            fig.suptitle(title)
    return fig


def similarity_maps_panels(tables: dict[str, torch.Tensor], height: int, width: int, vmin: float | None = None,
                           vmax: float = 1.0, size: float = 1.05, mark_self: bool = True) -> Figure:
    """:func:`similarity_maps` of several encodings {panel title: (H·W, D)} side by side, on ONE colour scale.

    The scale runs from ``vmin`` (default: the smallest similarity in any panel) to ``vmax``, with
    one colour bar, so equal colours mean equal similarities in every panel.
    """
    from .positional import cosine_similarity_matrix

    if not tables:
        raise ValueError("similarity_maps_panels needs at least one table")
    lo = min(cosine_similarity_matrix(t).min().item() for t in tables.values()) if vmin is None else vmin
    n = len(tables)
    fig = plt.figure(figsize=(n * (size * width + 0.6) + 1.0, size * height + 1.2))
    subs = fig.subfigures(1, n + 1, width_ratios=[1.0] * n + [0.22])
    for sub, (name, table) in zip(subs, tables.items()):
        axes = sub.subplots(height, width, squeeze=False, gridspec_kw={"wspace": 0.08, "hspace": 0.3})
        similarity_maps(table, height, width, vmin=lo, vmax=vmax, axes_grid=axes, mark_self=mark_self)
        for i, ax in enumerate(axes.flat):
            ax.set_title(str(i), fontsize=10, pad=2)  # the patch whose map this is
        sub.suptitle(name, fontsize=13)
        sub.supxlabel("column (left to right)", fontsize=11)
        sub.supylabel("row (top to bottom)", fontsize=11)
    cax = subs[-1].add_axes((0.15, 0.15, 0.25, 0.7))
    fig.colorbar(subs[0].axes[0].images[0], cax=cax).set_label("cosine similarity", fontsize=11)
    return fig


def attention_overlay(images: torch.Tensor, maps: torch.Tensor, titles: Sequence[str] | None = None,
                      ncols: int = 8, size: float = 1.6, alpha: float = 0.55) -> Figure:
    """Images (B, C, H, W) with attention maps (B, h, w) upsampled and drawn over them."""
    import torch.nn.functional as F

    b = images.shape[0]
    if b == 0:
        raise ValueError("attention_overlay needs at least one image, got none")
    check_positive("ncols", ncols)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (B, h, w), got shape {tuple(maps.shape)}")
    if maps.shape[0] != b:
        raise ValueError(f"{maps.shape[0]} maps for {b} images: attention_overlay needs one (h, w) map per image")
    up = F.interpolate(maps[:, None].float(), size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    ncols = min(ncols, b)
    nrows = -(-b // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.25) * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= b:
            continue
        arr = _to_hwc(images[i])
        ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None)
        heat = up[i] / up[i].max().clamp_min(1e-12)
        ax.imshow(heat.numpy(), cmap="inferno", alpha=alpha)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def window_overlay(image: torch.Tensor, patch_size: int, window_size: int, shift_size: int = 0, ax=None,
                   title: str | None = None, size: float = 4.0) -> Figure:
    """An image (C, H, W) with its patch grid (thin) and Swin's windows (thick), shifted by ``shift_size`` patches.

    Shifted windows are drawn where they really are on the image: smaller windows at the edges.
    """
    check_positive("patch size", patch_size)
    check_positive("window size", window_size)
    fig, ax, arr, h, w = _image_axes(image, ax, size)
    for x in range(0, w + 1, patch_size):
        ax.axvline(x - 0.5, color="white", lw=0.4, alpha=0.6)
    for y in range(0, h + 1, patch_size):
        ax.axhline(y - 0.5, color="white", lw=0.4, alpha=0.6)
    step = window_size * patch_size
    offset = (-shift_size * patch_size) % step if shift_size else 0
    for x in range(offset, w + 1, step):
        ax.axvline(x - 0.5, color="red", lw=2.5)
    for y in range(offset, h + 1, step):
        ax.axhline(y - 0.5, color="red", lw=2.5)
    ax.set(xticks=[], yticks=[], xlim=(-0.5, w - 0.5), ylim=(h - 0.5, -0.5))
    ax.set_title(title or (f"windows of {window_size}×{window_size} patches" +
                           (f", shifted by {shift_size}" if shift_size else "")), fontsize=10)
    return fig


def region_map(regions: torch.Tensor, window_size: int, ax=None, title: str | None = None) -> Figure:
    """Region ids (H, W) of the rolled map, numbers in each cell, window borders in red."""
    if regions.ndim != 2 or 0 in regions.shape:
        raise ValueError(f"region_map needs a non-empty (H, W) map of region ids, got shape {tuple(regions.shape)}")
    check_positive("window size", window_size)
    h, w = regions.shape
    if ax is None:
        fig, ax = plt.subplots(figsize=(4, 4 * h / w))
    else:
        fig = ax.figure
    ax.imshow(regions.numpy(), cmap="Pastel1", vmin=0, vmax=8)
    for i in range(h):
        for j in range(w):
            ax.text(j, i, str(int(regions[i, j])), ha="center", va="center", fontsize=8)
    for k in range(0, max(h, w) + 1, window_size):
        ax.axvline(k - 0.5, color="red", lw=2)
        ax.axhline(k - 0.5, color="red", lw=2)
    ax.set(xticks=[], yticks=[], title=title or "region of each token after the roll")
    return fig
