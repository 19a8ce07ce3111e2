import matplotlib
import torch
from matplotlib.figure import Figure

from course_utils import viz
from course_utils.train import History

matplotlib.use("Agg")


def test_image_grid_titles_classes():
    images = torch.randint(0, 255, (5, 3, 8, 8), dtype=torch.uint8)
    fig = viz.image_grid(images, [0, 1, 2, 1, 0], ["cat", "dog", "frog"], ncols=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert isinstance(fig, Figure) and titles == ["cat", "dog", "frog", "dog", "cat"]


def test_grey_images_and_empty_input():
    fig = viz.image_grid(torch.rand(2, 1, 8, 8))
    assert len(fig.axes) == 2
    try:
        viz.image_grid(torch.rand(0, 1, 8, 8))
    except ValueError as exc:
        assert "at least one image" in str(exc)
    else:
        raise AssertionError("an empty grid must be refused")


def test_history_curves():
    hist = History(epoch=[1, 2], train_loss=[2.0, 1.0], train_acc=[0.2, 0.5], val_loss=[2.1, 1.2],
                   val_acc=[0.2, 0.4], seconds=[1, 1], lr=[0.1, 0.1])
    fig = viz.history_curves(hist, labels=["vit"])
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2


def test_confusion_matrix_values():
    fig = viz.confusion_matrix(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1]), ["a", "b"])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["0.50", "0.50", "0.00", "1.00"]


def test_image_grid_with_titles():
    fig = viz.image_grid(torch.rand(2, 3, 8, 8), titles=["a → b", "c → d"])
    assert [ax.get_title() for ax in fig.axes] == ["a → b", "c → d"]


def test_per_class_accuracy_and_ladder():
    fig = viz.per_class_accuracy(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1]), ["cat", "dog"])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["50.0", "100.0"] and "75.0 %" in fig.axes[0].get_legend().get_texts()[0].get_text()
    rows = [{"name": "base", "val_acc": 50.0, "test_acc": 49.0, "kept": True},
            {"name": "try", "val_acc": 40.0, "test_acc": 41.0, "kept": False}]
    fig = viz.ladder(rows, reference=56.76)
    bars = fig.axes[0].patches
    assert len(bars) == 2 and bars[0].get_width() == 50.0 and bars[1].get_hatch() == "//"
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["0. base", "1. try"]


def _clims(fig):
    """The (vmin, vmax) of every image or mesh drawn in the figure's panels (colour bars left out)."""
    return {tuple(round(v, 6) for v in m.get_clim()) for ax in fig.axes for m in [*ax.images, *ax.collections]
            if hasattr(m, "get_clim") and m.get_array() is not None and ax.get_label() != "<colorbar>"}


def test_matrix_heatmap_labels_its_colour_bar_or_leaves_it_out():
    fig = viz.matrix_heatmap(torch.rand(3, 4), cbar_label="cosine similarity")
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "cosine similarity"
    assert len(viz.matrix_heatmap(torch.rand(3, 4), cbar=False).axes) == 1


def test_attention_heatmap_colour_bar_labels_and_annotations():
    w = torch.rand(3, 4).softmax(-1)
    fig = viz.attention_heatmap(w, ["a", "b", "c"], list("wxyz"))
    assert len(fig.axes) == 1 and fig.axes[0].get_xlabel() == "key"  # annotated: no bar by default
    fig = viz.attention_heatmap(w, cbar=True, cbar_label="share", fontsize=11, xlabel="source", ylabel="step")
    ax, bar = fig.axes
    assert bar.get_ylabel() == "share" and (ax.get_xlabel(), ax.get_ylabel()) == ("source", "step")
    assert {t.get_fontsize() for t in ax.texts} == {11}
    assert len(viz.attention_heatmap(torch.rand(20, 20).softmax(-1)).axes) == 2  # too big to annotate: a bar


def test_heatmap_panels_share_one_colour_scale_and_one_bar():
    a, b = torch.zeros(4, 4), torch.full((4, 4), 2.0)
    a[0, 0] = -1.0
    fig = viz.heatmap_panels({"a": a, "b": b}, xlabel="key", ylabel="query", cbar_label="value", block=2)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["a", "b"] and all(ax.get_xlabel() == "key" for ax in panels)
    assert _clims(fig) == {(-1.0, 2.0)}  # the smallest and largest value over both panels
    bars = [ax for ax in fig.axes if ax not in panels]
    assert len(bars) == 1 and bars[0].get_ylabel() == "value"
    assert len(panels[0].lines) == 2  # one white line each way, between the two 2-row blocks
    fixed = viz.heatmap_panels({"a": a, "b": b}, vmin=0.0, vmax=1.0)
    assert _clims(fixed) == {(0.0, 1.0)}


def test_similarity_maps_panels_share_one_colour_scale_and_one_bar():
    from course_utils import positional

    tables = {"1D": positional.sinusoidal_1d(6, 16), "concat": positional.sinusoidal_2d(2, 3, 16)}
    lowest = min(positional.cosine_similarity_matrix(t).min().item() for t in tables.values())
    fig = viz.similarity_maps_panels(tables, 2, 3)
    maps = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]
    assert len(maps) == 12 and {ax.images[0].get_clim() for ax in maps} == {(lowest, 1.0)}
    assert all(len(ax.lines) == 1 for ax in maps)  # the red dot on each map's own cell
    assert sum(ax.get_ylabel() == "cosine similarity" for ax in fig.axes) == 1
    fixed = viz.similarity_maps_panels(tables, 2, 3, vmin=0.5, mark_self=False)
    assert {ax.images[0].get_clim() for ax in fixed.axes if ax.images} == {(0.5, 1.0)}


def test_similarity_maps_default_scale_is_unchanged():
    from course_utils import positional

    table = positional.sinusoidal_1d(4, 8)
    fig = viz.similarity_maps(table, 2, 2)
    lo = positional.cosine_similarity_matrix(table).min().item()
    assert {ax.images[0].get_clim() for ax in fig.axes if ax.images and ax.get_title()} == {(lo, 1.0)}


def test_attention_heatmap_formats_a_mask_as_whole_numbers():
    fig = viz.attention_heatmap(torch.ones(3, 3).tril(), fmt="g")
    assert {t.get_text() for t in fig.axes[0].texts} == {"0", "1"}


def test_loglog_cost_names_the_variable_and_styles_a_series():
    fig = viz.loglog_cost([1, 2, 4], {"measured": [1, 4, 16], "predicted": [1, 4, 16]}, "L", "cost",
                          slopes=(2,), variable="L", styles={"predicted": {"ls": "--", "marker": ""}})
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    assert set(lines) == {"measured", "predicted", "∝ L²"}
    assert lines["predicted"].get_linestyle() == "--" and lines["predicted"].get_marker() in ("", "None")
    assert lines["measured"].get_marker() == "o"
    assert {t.get_fontsize() for t in ax.get_legend().get_texts()} == {10}
