"""The ipywidgets explorers. They only draw: the numbers come from the tested modules."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch


def attention_explorer(q: torch.Tensor, k: torch.Tensor, tokens: Sequence[str]):
    """Pick a query token and a temperature; see its attention weights over the keys.

    q, k: (L, d_k). Temperature T divides the scaled scores: softmax(q kᵀ / (√d_k · T)).
    Returns the ipywidgets container (display it, or let it be a cell's last value).
    """
    import ipywidgets as widgets
    from IPython.display import display

    if q.ndim != 2 or k.ndim != 2 or len(tokens) != k.shape[0]:
        raise ValueError(f"need q (L, d), k (L, d) and {k.shape[0]} token names, got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, {len(tokens)} names")
    scores = q @ k.T / q.shape[-1] ** 0.5  # (L_q, L_k)
    query = widgets.Dropdown(options=[(t, i) for i, t in enumerate(tokens)], value=0, description="query")
    temperature = widgets.FloatLogSlider(value=1.0, base=10, min=-1, max=1, step=0.05, description="temperature")
    out = widgets.Output()

    def draw(*_):
        weights = (scores[query.value] / temperature.value).softmax(-1)
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6, 2.6))
            bars = ax.bar(range(len(tokens)), weights.numpy(), color="tab:blue")
            bars[int(weights.argmax())].set_color("tab:orange")
            ax.set_xticks(range(len(tokens)), tokens)
            ax.set(ylim=(0, 1), ylabel="weight",
                   title=f"query '{tokens[query.value]}', T={temperature.value:.2f}: "
                         f"max weight {weights.max():.2f}, entropy {-(weights * weights.clamp_min(1e-12).log()).sum():.2f} nats")
            display(fig)
            plt.close(fig)

    query.observe(draw, names="value")
    temperature.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([query, temperature]), out])
