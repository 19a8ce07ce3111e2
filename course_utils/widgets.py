"""The ipywidgets explorers. They only draw: the numbers come from the tested modules."""

from __future__ import annotations

from typing import Callable, Sequence

import matplotlib.pyplot as plt
import torch

from .patches import check_positive


def _explorer(controls: list, figure: Callable[[], "plt.Figure"]):
    """Controls above an output area that shows ``figure()`` again whenever a control changes."""
    import ipywidgets as widgets
    from IPython.display import display

    out = widgets.Output()

    def draw(*_):
        with out:
            out.clear_output(wait=True)
            fig = figure()
            display(fig)
            plt.close(fig)

    for control in controls:
        control.observe(draw, names="value")
    draw()
    head = controls[0] if len(controls) == 1 else widgets.HBox(controls)
    return widgets.VBox([head, out])


def attention_explorer(q: torch.Tensor, k: torch.Tensor, tokens: Sequence[str]):
    """Pick a query token and a temperature; see its attention weights over the keys.

    q, k: (L, d_k). Temperature T divides the scaled scores: softmax(q kᵀ / (√d_k · T)).
    Returns the ipywidgets container (display it, or let it be a cell's last value).
    """
    import ipywidgets as widgets

    if q.ndim != 2 or k.ndim != 2 or len(tokens) != k.shape[0]:
        raise ValueError(f"need q (L, d), k (L, d) and {k.shape[0]} token names, got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, {len(tokens)} names")
    if len(tokens) == 0 or q.shape[0] == 0:
        raise ValueError(f"attention_explorer needs at least one token, got q {tuple(q.shape)} and k {tuple(k.shape)}")
    if q.shape[1] == 0 or q.shape[1] != k.shape[1]:
        raise ValueError(f"q has d_k={q.shape[1]} and k has d_k={k.shape[1]}: they must be equal and at least 1")
    scores = q @ k.T / q.shape[-1] ** 0.5  # (L_q, L_k)
    query = widgets.Dropdown(options=[(t, i) for i, t in enumerate(tokens)], value=0, description="query")
    temperature = widgets.FloatLogSlider(value=1.0, base=10, min=-1, max=1, step=0.05, description="temperature")

    def figure():
        weights = (scores[query.value] / temperature.value).softmax(-1)
        fig, ax = plt.subplots(figsize=(6, 2.6))
        bars = ax.bar(range(len(tokens)), weights.numpy(), color="tab:blue")
        bars[int(weights.argmax())].set_color("tab:orange")
        ax.set_xticks(range(len(tokens)), tokens)
        ax.set(ylim=(0, 1), ylabel="weight",
               title=f"query '{tokens[query.value]}', T={temperature.value:.2f}: "
                     f"max weight {weights.max():.2f}, entropy {-(weights * weights.clamp_min(1e-12).log()).sum():.2f} nats")
        return fig

    return _explorer([query, temperature], figure)


def patch_size_explorer(image: torch.Tensor):
    """A patch-size slider over an image (C, H, W): the grid, the token count, the attention matrix size."""
    import ipywidgets as widgets

    from . import viz
    from .patches import num_patches

    if image.ndim != 3 or 0 in image.shape:
        raise ValueError(f"patch_size_explorer needs a non-empty image (C, H, W), got shape {tuple(image.shape)}")
    h, w = image.shape[-2:]
    sizes = [p for p in range(1, min(h, w) + 1) if h % p == 0 and w % p == 0]
    slider = widgets.SelectionSlider(options=sizes, value=sizes[len(sizes) // 2], description="patch size")

    def figure():
        p = slider.value
        n = num_patches((h, w), p)
        return viz.patch_grid(image, p, numbers=n <= 64,
                              title=f"P={p}: {n:,} tokens, attention matrix {n:,}² = {n * n:,} entries")

    return _explorer([slider], figure)


def similarity_explorer(tables: dict, height: int, width: int, vmin: float | None = None, vmax: float = 1.0):
    """Pick a method (a named (H·W, D) table) and a patch; see its cosine similarity to every patch.

    The colour scale runs from ``vmin`` to ``vmax``; ``vmin=None`` (the default) scales each map on its
    own, from its smallest similarity. Pass the scale of a notebook's other similarity figures to
    draw the explorer's maps on it.
    """
    import ipywidgets as widgets

    from .positional import cosine_similarity_matrix

    if not tables:
        raise ValueError("similarity_explorer needs at least one table, got none")
    check_positive("height", height)
    check_positive("width", width)
    for name, table in tables.items():
        if table.ndim != 2 or table.shape[0] != height * width:
            raise ValueError(f"table {name!r} has {table.shape[0]} rows (shape {tuple(table.shape)}): "
                             f"a {height}x{width} grid needs one row per cell, (H·W, D) = ({height * width}, D)")
    method = widgets.Dropdown(options=list(tables), description="encoding")
    patch = widgets.IntSlider(value=0, min=0, max=height * width - 1, description="patch")

    def figure():
        sim = cosine_similarity_matrix(tables[method.value])[patch.value].reshape(height, width)
        fig, ax = plt.subplots(figsize=(3.8, 3.4))
        im = ax.imshow(sim.numpy(), cmap="viridis", vmin=float(sim.min()) if vmin is None else vmin, vmax=vmax)
        r, c = divmod(patch.value, width)
        ax.scatter([c], [r], marker="*", s=160, color="red")
        for i in range(height * width):
            rr, cc = divmod(i, width)
            ax.text(cc, rr + 0.3, f"{sim[rr, cc]:.2f}", ha="center", fontsize=7, color="white")
        ax.set(xticks=range(width), yticks=range(height))
        ax.set_title(f"{method.value}: similarity to patch {patch.value}", fontsize=9)
        fig.colorbar(im, ax=ax)
        fig.tight_layout()
        return fig

    return _explorer([method, patch], figure)


def prediction_explorer(model, dataset, attention_fn, attention_title: str = "attention"):
    """Pick a test image: see it, the model's class probabilities and where its attention goes.

    ``attention_fn(images (1, C, H, W)) → (1, h, w)``: a map of attention over positions.
    """
    import ipywidgets as widgets

    from .data import normalize
    from .viz import _to_hwc

    if len(dataset) == 0:
        raise ValueError(f"dataset {getattr(dataset, 'name', '')!r} is empty: the explorer needs at least one image")
    index = widgets.IntSlider(value=0, min=0, max=len(dataset) - 1, description="test image")
    classes = list(dataset.classes)

    def figure():
        image = dataset.images[index.value : index.value + 1]  # (1, C, H, W) uint8
        x = normalize(image, dataset.mean, dataset.std)
        model.eval()
        with torch.no_grad():
            probs = model(x).softmax(-1)[0]
            heat = attention_fn(x)[0]
        fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(9.5, 2.8), gridspec_kw={"width_ratios": [1, 1, 1.8]})
        arr = _to_hwc(image[0])
        cmap = "gray" if arr.ndim == 2 else None
        ax1.imshow(arr, cmap=cmap)
        ax1.set_title(f"label: {classes[int(dataset.targets[index.value])]}")
        ax2.imshow(arr, cmap=cmap)
        big = torch.nn.functional.interpolate(heat[None, None], size=image.shape[-2:], mode="bilinear")[0, 0]
        ax2.imshow(big.numpy(), cmap="inferno", alpha=0.55)
        ax2.set_title(attention_title)
        for ax in (ax1, ax2):
            ax.axis("off")
        ax3.bar(range(len(probs)), probs.numpy(), color="tab:blue")
        ax3.set_xticks(range(len(probs)), classes, rotation=45 if max(map(len, classes)) > 2 else 0, fontsize=8)
        ax3.set(ylim=(0, 1), title=f"prediction: {classes[int(probs.argmax())]} ({100 * probs.max():.1f} %)")
        fig.tight_layout()
        return fig

    return _explorer([index], figure)


def digit_explorer(model, dataset, attention_fn):
    """:func:`prediction_explorer` for MNIST digits, showing the attention each position receives."""
    return prediction_explorer(model, dataset, attention_fn, "attention received")


def window_explorer(image: torch.Tensor, patch_size: int):
    """Window-size and shift sliders over an image's patch grid (Swin's regular and shifted windows)."""
    import ipywidgets as widgets

    from . import viz

    check_positive("patch size", patch_size)
    grid = image.shape[-1] // patch_size
    sizes = [m for m in range(2, grid + 1) if grid % m == 0]
    if not sizes:
        raise ValueError(f"a patch grid of {grid} is too small for windows (image width {image.shape[-1]}, "
                         f"patch size {patch_size}): it needs at least 2 patches a side")
    window = widgets.SelectionSlider(options=sizes, value=sizes[min(1, len(sizes) - 1)], description="window")
    shift = widgets.IntSlider(value=0, min=0, max=window.value - 1, description="shift")

    def figure():
        shift.max = window.value - 1  # a shift is always smaller than the window
        n = (grid // window.value) ** 2
        return viz.window_overlay(image, patch_size, window.value, shift.value,
                                  title=f"{n} windows of {window.value}×{window.value} patches, shift {shift.value}")

    return _explorer([window, shift], figure)
