"""Bad input gets a clear error (issue #14): every message names the bad value and the rule.

One test per fault found; each failed (a crash, a silent NaN, a wrong answer) before its fix."""

import ipywidgets
import matplotlib
import numpy as np
import pytest
import torch

from course_utils import attention, data, hybrid, patches, positional, swin, vit, viz, widgets

matplotlib.use("Agg")

SMALL_VIT = dict(embed_dim=32, depth=1, num_heads=2, mlp_dim=64)


# ----------------------------------------------------------------------------- 1. attention

def test_numpy_boolean_mask_is_accepted():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, 8, generator=g) for _ in range(3))
    mask = np.tril(np.ones((4, 4), dtype=bool))
    out, weights = attention.scaled_dot_product_attention(q, k, v, mask)
    expected, _ = attention.scaled_dot_product_attention(q, k, v, torch.as_tensor(mask))
    torch.testing.assert_close(out, expected)
    mha = attention.MultiHeadAttention(8, 2)
    torch.testing.assert_close(mha(q, mask=mask), mha(q, mask=torch.as_tensor(mask)))
    with pytest.raises(TypeError, match="mask dtype torch.int64 is not allowed: the mask must be boolean"):
        attention.scaled_dot_product_attention(q, k, v, np.ones((4, 4), dtype=np.int64))


@pytest.mark.parametrize("embed_dim, num_heads, message", [
    (8, 0, "num_heads 0 must be a positive integer"),
    (8, -2, "num_heads -2 must be a positive integer"),
    (0, 2, "embed_dim 0 must be a positive integer"),
    (8.0, 2, "embed_dim 8.0 must be a positive integer"),
    (8, 3, "embed_dim 8 is not divisible by num_heads 3"),
])
def test_multi_head_attention_sizes_are_checked(embed_dim, num_heads, message):
    with pytest.raises(ValueError, match=message):
        attention.MultiHeadAttention(embed_dim, num_heads)


def test_zero_width_queries_are_refused():
    q = torch.randn(2, 3, 0)
    with pytest.raises(ValueError, match="d_k=0"):
        attention.scaled_dot_product_attention(q, q, torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="L_k=0"):
        attention.scaled_dot_product_attention(torch.randn(2, 3, 4), torch.randn(2, 0, 4), torch.randn(2, 0, 4))


# ----------------------------------------------------------------------------- 2. positional

@pytest.mark.parametrize("base", [0, -1.0, float("nan")])
def test_sinusoidal_base_must_be_positive(base):
    with pytest.raises(ValueError, match=f"base {base} must be a positive number"):
        positional.sinusoidal_1d(4, 8, base=base)
    with pytest.raises(ValueError, match=f"base {base} must be a positive number"):
        positional.sinusoidal_2d(2, 2, 8, base=base)


def test_positional_sizes_are_checked():
    with pytest.raises(ValueError, match="dim -4 must be a positive"):
        positional.sinusoidal_2d(2, 2, -4)  # used to blame "dim -2", half of it
    with pytest.raises(ValueError, match="dim 0 must be a positive"):
        positional.sinusoidal_2d(2, 2, 0, mode="sum")
    with pytest.raises(ValueError, match="num_positions -1 must be a positive integer"):
        positional.LearnedPositionalEmbedding(-1, 4)
    with pytest.raises(ValueError, match="num_positions 0 must be a positive integer"):
        positional.LearnedPositionalEmbedding(0, 4)
    with pytest.raises(ValueError, match="dim 0 must be a positive integer"):
        positional.LearnedPositionalEmbedding(4, 0)


# ----------------------------------------------------------------------------- 3. swin

def test_window_size_zero_is_refused():
    x = torch.randn(1, 4, 4, 2)
    for call in (lambda: swin.window_partition(x, 0), lambda: swin.window_reverse(x, 0, 4, 4),
                 lambda: swin.shifted_window_mask(4, 4, 0, 0), lambda: swin.shift_regions(4, 4, -1, 0),
                 lambda: swin.relative_position_index(0), lambda: swin.WindowAttention(8, 0, 2),
                 lambda: swin.SwinTransformer(window_size=0)):
        with pytest.raises(ValueError, match=r"window size -?\d must be a positive integer"):
            call()


def test_non_square_swin_takes_a_batch_of_one():
    model = swin.SwinTransformer(image_size=(32, 64)).eval()  # last stage: one row of two windows
    x = torch.randn(2, 3, 32, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x[:1]), model(x)[:1])
    windows = swin.window_partition(torch.randn(1, 4, 8, 3), 4)  # the cause: a strided view came back
    assert windows.is_contiguous() and windows.view(-1, 16, 3).shape == (2, 16, 3)


def test_window_attention_refuses_a_query_that_sees_nothing():
    layer = swin.WindowAttention(8, 2, 2)
    mask = torch.ones(1, 4, 4, dtype=torch.bool)
    mask[0, 1] = False  # token 1 of the window may attend to no key
    with pytest.raises(ValueError, match=r"mask allows no key at all for query 1 of window 0"):
        layer(torch.randn(3, 4, 8), mask)
    with pytest.raises(TypeError, match="mask dtype torch.float32 is not allowed"):
        layer(torch.randn(3, 4, 8), mask.float())
    with pytest.raises(ValueError, match="3 windows are not a whole number of batches of 2"):
        layer(torch.randn(3, 4, 8), torch.ones(2, 4, 4, dtype=torch.bool))
    assert not layer(torch.randn(3, 4, 8), torch.ones(1, 4, 4, dtype=torch.bool)).isnan().any()


# ----------------------------------------------------------------------------- 4. vit

@pytest.mark.parametrize("name, value", [("depth", -1), ("depth", 0), ("embed_dim", 0), ("num_classes", 0),
                                         ("num_heads", 0), ("mlp_dim", 0), ("in_channels", 0), ("patch_size", 0)])
def test_vit_sizes_must_be_positive(name, value):
    with pytest.raises(ValueError, match=f"{name} {value} must be a positive integer"):
        vit.ViT(**{**SMALL_VIT, name: value})


@pytest.mark.parametrize("stem", ["patch", "conv"])
def test_vit_says_what_image_shape_it_wants(stem):
    model = vit.ViT(stem=stem, **SMALL_VIT).eval()
    with pytest.raises(ValueError, match=r"expects images \(B, 3, 32, 32\), got shape \(3, 32, 32\)"):
        model(torch.randn(3, 32, 32))  # unbatched
    with pytest.raises(ValueError, match=r"expects images \(B, 3, 32, 32\), got shape \(2, 3, 28, 28\)"):
        model(torch.randn(2, 3, 28, 28))
    with pytest.raises(ValueError, match=r"expects images \(B, 3, 32, 32\), got shape \(2, 1, 32, 32\)"):
        model(torch.randn(2, 1, 32, 32))
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_conv_stem_supports_a_non_square_image():
    model = vit.ViT(image_size=(32, 64), stem="conv", **SMALL_VIT)
    assert model.patch_embed.grid == (8, 16) and model(torch.randn(2, 3, 32, 64)).shape == (2, 10)
    with pytest.raises(ValueError, match="image size 30 is not divisible by patch size 4"):
        vit.ViT(image_size=(32, 30), stem="conv", **SMALL_VIT)


def test_lecture_models_check_their_input():
    with pytest.raises(ValueError, match="image size 30 is not divisible by patch size 8"):
        vit.LectureProcessor(30, 8)
    with pytest.raises(ValueError, match="embed_dim 30 is not divisible by num_heads 4"):
        vit.LectureViT(embed_dim=30, num_heads=4)
    with pytest.raises(ValueError, match="num_classes 0 must be a positive integer"):
        vit.LectureViT(num_classes=0)
    with pytest.raises(ValueError, match=r"expects images \(B, 3, 32, 32\), got shape \(3, 32, 32\)"):
        vit.LectureProcessor()(torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match=r"expects tokens \(B, N, 64\), got shape \(16, 64\)"):
        vit.LectureViT()(torch.randn(16, 64))


# ----------------------------------------------------------------------------- 5. hybrid

def test_hybrid_says_what_image_shape_it_wants():
    model = hybrid.HybridViT().eval()
    with pytest.raises(ValueError, match=r"expects images \(B, 1, 28, 28\), got shape \(2, 1, 32, 32\)"):
        model(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"expects images \(B, 1, 28, 28\), got shape \(1, 28, 28\)"):
        model(torch.randn(1, 28, 28))
    with pytest.raises(ValueError, match=r"expects images \(B, 1, 28, 28\), got shape \(1, 28, 28\)"):
        model.attention_maps(torch.randn(1, 28, 28))
    with pytest.raises(ValueError, match="image size 0 must be a positive integer"):
        hybrid.HybridViT(image_size=0)
    for other in (hybrid.SmallCNN(), hybrid.ConvAttentionNet()):
        with pytest.raises(ValueError, match=r"expects images \(B, 1, H, W\), got shape \(1, 28, 28\)"):
            other(torch.randn(1, 28, 28))


# ----------------------------------------------------------------------------- 6. viz

def test_confusion_matrix_refuses_labels_outside_the_classes():
    classes = ["a", "b", "c"]
    with pytest.raises(ValueError, match=r"predictions must be class indices in \[0, 3\), got 3"):
        viz.confusion_matrix(torch.tensor([0, 1, 2]), torch.tensor([0, 1, 3]), classes)
    with pytest.raises(ValueError, match=r"targets must be class indices in \[0, 3\), got -1"):
        viz.confusion_matrix(torch.tensor([0, -1, 2]), torch.tensor([0, 1, 2]), classes)
    fig = viz.confusion_matrix(torch.tensor([0, 1, 2]), torch.tensor([0, 2, 2]), classes, normalize=False)
    assert [t.get_text() for t in fig.axes[0].texts] == ["1", "0", "0", "0", "0", "1", "0", "0", "1"]


def test_plots_refuse_empty_input_and_zero_columns():
    cases = [
        (lambda: viz.patch_tiles(torch.zeros(0, 48), 4, 3), "patch_tiles needs at least one patch"),
        (lambda: viz.patch_tiles(torch.zeros(4, 48), 4, 3, ncols=0), "ncols 0 must be a positive integer"),
        (lambda: viz.patch_tiles(torch.zeros(4, 40), 4, 3), r"patches \(N, 3·4·4 = 48\)"),
        (lambda: viz.attention_overlay(torch.zeros(0, 3, 8, 8), torch.zeros(0, 2, 2)), "at least one image"),
        (lambda: viz.attention_overlay(torch.zeros(2, 3, 8, 8), torch.zeros(2, 2, 2), ncols=0), "ncols 0"),
        (lambda: viz.attention_overlay(torch.zeros(2, 3, 8, 8), torch.zeros(3, 2, 2)), "3 maps for 2 images"),
        (lambda: viz.matrix_heatmap(torch.zeros(0, 4)), r"non-empty 2D matrix, got shape \(0, 4\)"),
        (lambda: viz.matrix_heatmap(torch.zeros(4)), r"non-empty 2D matrix, got shape \(4,\)"),
        (lambda: viz.region_map(torch.zeros(0, 0, dtype=torch.long), 2), r"non-empty \(H, W\) map"),
        (lambda: viz.region_map(torch.zeros(4, 4, dtype=torch.long), 0), "window size 0 must be a positive"),
        (lambda: viz.image_grid(torch.zeros(2, 3, 8, 8), ncols=0), "ncols 0 must be a positive integer"),
        (lambda: viz.patch_grid(torch.zeros(3, 8, 8), 0), "patch size 0 must be a positive integer"),
        (lambda: viz.window_overlay(torch.zeros(3, 8, 8), 2, 0), "window size 0 must be a positive"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


# ----------------------------------------------------------------------------- 7. widgets

def test_explorers_refuse_empty_input():
    empty = data.ImageDataset(torch.zeros(0, 1, 8, 8, dtype=torch.uint8), torch.zeros(0, dtype=torch.long),
                              classes=data.MNIST_CLASSES, mean=(0.5,), std=(0.25,), name="empty", source="test")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    cases = [
        (lambda: widgets.prediction_explorer(model, empty, lambda x: torch.rand(1, 2, 2)), "dataset 'empty' is empty"),
        (lambda: widgets.digit_explorer(model, empty, lambda x: torch.rand(1, 2, 2)), "dataset 'empty' is empty"),
        (lambda: widgets.attention_explorer(torch.zeros(0, 4), torch.zeros(0, 4), []), "at least one token"),
        (lambda: widgets.attention_explorer(torch.zeros(2, 0), torch.zeros(2, 0), ["a", "b"]), "d_k=0"),
        (lambda: widgets.similarity_explorer({}, 2, 2), "at least one table"),
        (lambda: widgets.similarity_explorer({"x": torch.zeros(3, 4)}, 2, 2), r"table 'x' has 3 rows"),
        (lambda: widgets.patch_size_explorer(torch.zeros(3, 0, 8)), r"non-empty image \(C, H, W\)"),
        (lambda: widgets.window_explorer(torch.zeros(3, 8, 8), 0), "patch size 0 must be a positive integer"),
        (lambda: widgets.window_explorer(torch.zeros(3, 8, 8), 8), "patch grid of 1 is too small"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    assert isinstance(widgets.window_explorer(torch.zeros(3, 8, 8), 4), ipywidgets.VBox)  # a 2x2 grid is enough


# ----------------------------------------------------------------------------- 8. patches

@pytest.mark.parametrize("image_size, patch_size, message", [
    (0, 4, "image size 0 must be a positive integer"),
    (-32, 4, "image size -32 must be a positive integer"),
    ((32, 0), 4, "image size 0 must be a positive integer"),
    (32, -4, "patch size -4 must be a positive integer"),
    (32, 4.0, "patch size 4.0 must be a positive integer"),
])
def test_patch_grid_sizes_are_checked(image_size, patch_size, message):
    with pytest.raises(ValueError, match=message):
        patches.num_patches(image_size, patch_size)


def test_patch_embeddings_check_their_input():
    for cls in (patches.PatchEmbedding, patches.LinearPatchEmbedding):
        with pytest.raises(ValueError, match="in_channels 0 must be a positive integer"):
            cls(8, 4, 0, 4)
        with pytest.raises(ValueError, match="embed_dim 0 must be a positive integer"):
            cls(8, 4, 3, 0)
        embed = cls(8, 4, 3, 4)
        with pytest.raises(ValueError, match=r"expects images \(B, 3, 8, 8\), got shape \(3, 8, 8\)"):
            embed(torch.randn(3, 8, 8))  # the conv one used to return (4, 2, 2) silently
        with pytest.raises(ValueError, match=r"expects images \(B, 3, 8, 8\), got shape \(2, 1, 8, 8\)"):
            embed(torch.randn(2, 1, 8, 8))
        assert embed(torch.randn(0, 3, 8, 8)).shape == (0, 4, 4)  # an empty batch is fine
    with pytest.raises(ValueError, match=r"patches must be \(B, N, C·P·P\), got shape \(4, 48\)"):
        patches.unpatchify(torch.randn(4, 48), 4, 8, 3)
    with pytest.raises(ValueError, match=r"patches must be \(B, N, D\), got shape \(4, 48\)"):
        patches.scramble(torch.randn(4, 48))
