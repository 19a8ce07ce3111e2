"""The explorers build, draw once, and draw again when a control changes.

(Outside a Jupyter kernel an Output widget captures nothing, so the redraws are counted;
the browser test sees the drawings themselves.)"""

import ipywidgets
import matplotlib
import matplotlib.pyplot as plt
import torch

from course_utils import data, positional, widgets

matplotlib.use("Agg")


def test_explorer_redraws_once_per_change():
    calls = []
    slider = ipywidgets.IntSlider(value=0, min=0, max=5)

    def figure():
        calls.append(slider.value)
        return plt.figure()

    box = widgets._explorer([slider], figure)
    assert calls == [0] and box.children[0] is slider and isinstance(box.children[1], ipywidgets.Output)
    slider.value = 3
    assert calls == [0, 3]


def test_window_explorer_keeps_shift_below_window():
    box = widgets.window_explorer(data.sample_photo(64), patch_size=4)  # a 16x16 patch grid
    window, shift = box.children[0].children
    window.value = 2
    assert shift.max == 1


def test_every_explorer_builds():
    tables = {"concat": positional.sinusoidal_2d(4, 4, 16), "sum": positional.sinusoidal_2d(4, 4, 16, "sum")}
    box = widgets.similarity_explorer(tables, 4, 4)
    box.children[0].children[0].value = "sum"  # redraws without error
    q, k = torch.randn(3, 4), torch.randn(3, 4)
    for made in (box, widgets.attention_explorer(q, k, ["a", "b", "c"]), widgets.patch_size_explorer(data.sample_photo(32))):
        assert isinstance(made, ipywidgets.VBox) and isinstance(made.children[-1], ipywidgets.Output)


def test_prediction_explorer_for_colour_and_grey_images():
    for channels, classes in ((3, data.CIFAR10_CLASSES), (1, data.MNIST_CLASSES)):
        images = torch.randint(0, 255, (4, channels, 16, 16), dtype=torch.uint8)
        dataset = data.ImageDataset(images, torch.arange(4), classes=classes, mean=(0.5,) * channels,
                                    std=(0.25,) * channels, name="toy", source="test")
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(channels * 256, 10))
        box = widgets.prediction_explorer(model, dataset, lambda x: torch.rand(1, 4, 4))
        box.children[0].value = 3  # redraws without error
        assert isinstance(box.children[-1], ipywidgets.Output)
    assert isinstance(widgets.digit_explorer(model, dataset, lambda x: torch.rand(1, 4, 4)), ipywidgets.VBox)


def test_similarity_explorer_scales_each_map_or_takes_a_shared_scale(monkeypatch):
    drawn = []
    monkeypatch.setattr(widgets, "_explorer", lambda controls, figure: drawn.append(figure()))
    table = positional.sinusoidal_1d(16, 16)
    lowest = positional.cosine_similarity_matrix(table)[0].min().item()
    widgets.similarity_explorer({"1D": table}, 4, 4)
    widgets.similarity_explorer({"1D": table}, 4, 4, vmin=0.6, vmax=1.0)
    own, shared = (fig.axes[0].images[0].get_clim() for fig in drawn)
    assert own == (lowest, 1.0) and shared == (0.6, 1.0)
    plt.close("all")
