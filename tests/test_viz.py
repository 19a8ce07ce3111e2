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
