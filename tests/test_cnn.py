import pytest
import torch
from conftest import train_steps

from course_utils import cnn, vit


def test_shapes_and_size():
    model = cnn.ConvNet()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert vit.count_parameters(model) == 391_466
    assert cnn.ConvNet(in_channels=1, widths=(8, 16))(torch.randn(1, 1, 28, 28)).shape == (1, 10)


def test_learns_a_few_batches():
    torch.manual_seed(0)
    x, y = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))
    losses = train_steps(cnn.ConvNet(widths=(8, 16, 16, 16)), x, y, steps=30, lr=3e-3)
    assert losses[-1] < 0.5 * losses[0]


def test_too_small_images_are_refused():
    with pytest.raises(ValueError, match="30×30 must be divisible by 8"):
        cnn.ConvNet()(torch.randn(1, 3, 30, 30))
