import pytest
import torch
from conftest import train_steps

from course_utils import checks, hybrid
from course_utils.attention import scaled_dot_product_attention


def test_lecture_self_attention_attends_over_one_token():
    layer = hybrid.LectureSelfAttention(16)
    x = torch.randn(5, 16)
    out = layer(x)
    assert layer.last_weights.shape == (5, 1, 1) and torch.all(layer.last_weights == 1)
    torch.testing.assert_close(out, layer.value(x))  # the layer is its value projection


def test_lecture_model_equals_its_control():
    images = torch.randn(3, 1, 28, 28)
    model = hybrid.LectureMNISTModel()
    control = hybrid.LectureMNISTModel.control_of(model)
    assert isinstance(control.attention1, torch.nn.Linear)
    torch.testing.assert_close(model(images), control(images))
    loss = model(images).logsumexp(-1).sum()
    loss.backward()
    assert model.attention1.query.weight.grad.abs().max() == 0  # the softmax of one score has no slope


def test_lecture_conv_attention_normalises_the_wrong_axis():
    layer = hybrid.LectureConvAttention(2, 4)
    x = torch.randn(2, 2, 5, 5)
    layer(x)
    w = layer.last_weights  # (B, N, N)
    torch.testing.assert_close(w.sum(dim=2), torch.ones(2, 25))  # rows sum to one...
    assert not torch.allclose(w.sum(dim=1), torch.ones(2, 25), atol=1e-2)  # ...but the product sums over columns
    with torch.no_grad():  # a constant value map does not survive
        layer.value_conv.weight.zero_()
        layer.value_conv.bias.fill_(1.0)
    assert not torch.allclose(layer(x), torch.ones(2, 4, 5, 5), atol=1e-2)


def test_conv_attention_is_attention_over_positions():
    torch.manual_seed(0)
    layer = hybrid.ConvAttention(3, 8)
    x = torch.randn(2, 3, 4, 5)
    out, w = layer(x, return_attention=True)
    assert out.shape == (2, 8, 4, 5) and w.shape == (2, 20, 20)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 20))  # each query position: one over the keys
    q, k, v = (conv(x).flatten(2).transpose(1, 2) for conv in (layer.query, layer.key, layer.value))
    want, want_w = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(w, want_w)
    torch.testing.assert_close(out, want.transpose(1, 2).reshape(2, 8, 4, 5))
    with torch.no_grad():
        layer.value.weight.zero_()
        layer.value.bias.fill_(2.0)
    torch.testing.assert_close(layer(x), torch.full((2, 8, 4, 5), 2.0))


def test_hybrid_and_baselines_shapes():
    images = torch.randn(2, 1, 28, 28)
    model = hybrid.HybridViT()
    assert model(images).shape == (2, 10)
    maps = model.attention_maps(images)
    assert len(maps) == 2 and maps[0].shape == (2, 4, 49, 49)
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(2, 4, 49))
    for m in (hybrid.SmallCNN(), hybrid.ConvAttentionNet("fixed"), hybrid.ConvAttentionNet("lecture"), hybrid.mlp()):
        assert m(images).shape == (2, 10)


def test_hybrid_bad_inputs():
    with pytest.raises(ValueError, match="kernel_size 4 must be odd"):
        hybrid.ConvAttention(1, 2, kernel_size=4)
    with pytest.raises(ValueError, match=r"x must be \(B, C, H, W\)"):
        hybrid.ConvAttention(1, 2)(torch.zeros(1, 28, 28))
    with pytest.raises(ValueError, match="image size 30 is not divisible by 4"):
        hybrid.HybridViT(image_size=30)
    with pytest.raises(ValueError, match="layer 'magic'"):
        hybrid.ConvAttentionNet("magic")


def test_hybrid_learns_a_few_batches():
    torch.manual_seed(0)
    model = hybrid.HybridViT(dim=32, depth=1, num_heads=2, mlp_dim=64)
    losses = train_steps(model, torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,)), steps=30, lr=3e-3)
    assert losses[-1] < 0.5 * losses[0]


def test_conv_attention_checker():
    def fixed(q, k, v):
        w = torch.softmax(q.transpose(1, 2) @ k / q.shape[1] ** 0.5, dim=-1)
        return v @ w.transpose(1, 2)

    def notes(q, k, v):
        return v @ torch.softmax(q.transpose(1, 2) @ k, dim=2)

    def unscaled(q, k, v):
        return v @ torch.softmax(q.transpose(1, 2) @ k, dim=-1).transpose(1, 2)

    assert checks.check_conv_attention(fixed)
    assert "sums over the query index" in repr(checks.check_conv_attention(notes))
    assert "not divided by √C" in repr(checks.check_conv_attention(unscaled))
