import pytest
import torch

from course_utils import checks
from course_utils import patches as P


@pytest.mark.parametrize("c, h, w, p", [(3, 32, 32, 4), (3, 32, 32, 8), (1, 28, 28, 7), (3, 16, 24, 8), (2, 6, 6, 1)])
def test_round_trip(c, h, w, p):
    x = torch.randn(2, c, h, w)
    tokens = P.patchify(x, p)
    assert tokens.shape == (2, (h // p) * (w // p), c * p * p)
    assert torch.equal(P.unpatchify(tokens, p, (h, w), c), x)


def test_patch_order_and_layout():
    x = torch.arange(2 * 4 * 6, dtype=torch.float32).view(1, 2, 4, 6)  # C=2, H=4, W=6
    tokens = P.patchify(x, 2)  # grid 2 x 3
    assert tokens.shape == (1, 6, 8)
    # patch 4 is grid cell (1, 1): rows 2-3, columns 2-3, flattened as (C, P, P)
    assert torch.equal(tokens[0, 4], x[0, :, 2:4, 2:4].reshape(-1))


def test_conv_equals_linear_both_ways():
    torch.manual_seed(0)
    x = torch.randn(3, 3, 32, 32)
    conv = P.PatchEmbedding(32, 8, 3, 24)
    lin = P.LinearPatchEmbedding.from_conv(conv)
    torch.testing.assert_close(lin(x), conv(x), atol=1e-5, rtol=1e-5)
    lin2 = P.LinearPatchEmbedding(32, 4, 3, 16)
    conv2 = P.PatchEmbedding.from_linear(lin2)
    torch.testing.assert_close(conv2(x), lin2(x), atol=1e-5, rtol=1e-5)
    assert conv(x).shape == (3, 16, 24) and conv.num_patches == 16


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match="image size 30 is not divisible by patch size 8"):
        P.PatchEmbedding(30, 8)
    with pytest.raises(ValueError, match="image size 30 is not divisible by patch size 4"):
        P.patchify(torch.zeros(1, 3, 32, 30), 4)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        P.patchify(torch.zeros(3, 32, 32), 4)
    with pytest.raises(ValueError, match="do not fit a 3x32x32 image"):
        P.unpatchify(torch.zeros(1, 16, 10), 8, 32, 3)
    with pytest.raises(ValueError, match=r"image of size \(28, 28\)"):
        P.PatchEmbedding(32, 4)(torch.zeros(1, 3, 28, 28))


def test_token_counts():
    assert P.num_patches(256, 1) == 65_536 and P.num_patches(224, 16) == 196 and P.num_patches(32, 8) == 16


def test_scramble_is_a_permutation():
    tokens = torch.arange(10.0).view(1, 10, 1)
    shuffled, perm = P.scramble(tokens, torch.Generator().manual_seed(0))
    assert sorted(perm.tolist()) == list(range(10)) and torch.equal(shuffled[0, :, 0], perm.float())


def test_patchify_checker():
    assert checks.check_patchify(lambda x, p: P.patchify(x, p))
    notes = lambda x, p: x.unfold(2, p, p).unfold(3, p, p).permute(0, 2, 4, 1, 3, 5).reshape(x.shape[0], -1, x.shape[1] * p * p)  # noqa: E731
    assert "outside its" in repr(checks.check_patchify(notes))
    hwc = lambda x, p: x.unfold(2, p, p).unfold(3, p, p).permute(0, 2, 3, 4, 5, 1).reshape(x.shape[0], -1, x.shape[1] * p * p)  # noqa: E731
    assert "wrong order" in repr(checks.check_patchify(hwc))
