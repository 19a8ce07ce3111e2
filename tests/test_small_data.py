"""SPT, LSA and SeqPool (course_utils.small_data) and their switches in the course ViT."""

import math

import pytest
import torch
from torch import nn

from course_utils import distill, small_data, vit
from course_utils.attention import MultiHeadAttention


def test_shift_image_moves_pixels_and_fills_zeros():
    img = torch.arange(1, 17, dtype=torch.float32).view(1, 1, 4, 4)
    moved = small_data.shift_image(img, dx=1, dy=-1)  # one right, one up
    expected = torch.zeros(4, 4)
    for y in range(4):
        for x in range(4):
            sy, sx = y + 1, x - 1  # out[y, x] = img[y - dy, x - dx]
            if 0 <= sy < 4 and 0 <= sx < 4:
                expected[y, x] = img[0, 0, sy, sx]
    assert torch.equal(moved[0, 0], expected)
    with pytest.raises(ValueError, match="out of the frame"):
        small_data.shift_image(img, dx=4, dy=0)


def test_shifted_patches_stack_the_image_and_four_diagonal_shifts():
    img = torch.randn(2, 3, 8, 8)
    out = small_data.ShiftedPatches(2)(img)
    assert out.shape == (2, 15, 8, 8)
    assert torch.equal(out[:, :3], img)
    assert torch.equal(out[:, 3:6], small_data.shift_image(img, -2, -2))  # left-up
    assert torch.equal(out[:, 12:15], small_data.shift_image(img, 2, 2))  # right-down
    with pytest.raises(ValueError, match="at least one pixel"):
        small_data.ShiftedPatches(0)


def _lsa_by_hand(layer: small_data.LocalitySelfAttention, x: torch.Tensor) -> torch.Tensor:
    b, n, d = x.shape
    q, k, v = layer.qkv(x).view(b, n, 3, layer.num_heads, layer.head_dim).permute(2, 0, 3, 1, 4)
    scores = q @ k.transpose(-2, -1) / layer.tau
    scores = scores.masked_fill(torch.eye(n, dtype=torch.bool), float("-inf"))
    y = scores.softmax(-1) @ v
    return layer.out(y.transpose(1, 2).reshape(b, n, d))


def test_lsa_masks_the_diagonal_and_divides_by_a_learned_temperature():
    torch.manual_seed(0)
    layer = small_data.LocalitySelfAttention(16, 2)
    assert layer.tau.item() == pytest.approx(math.sqrt(8))  # starts at √d_k
    with torch.no_grad():
        layer.log_tau.fill_(math.log(0.7))  # a temperature the standard layer cannot express
    x = torch.randn(3, 5, 16)
    out, weights = layer(x, return_attention=True)
    assert torch.allclose(out, _lsa_by_hand(layer, x), atol=1e-5)
    assert torch.allclose(layer(x), out, atol=1e-5)  # the fused path computes the same
    assert torch.all(weights.diagonal(dim1=-2, dim2=-1) == 0)
    assert torch.allclose(weights.sum(-1), torch.ones(3, 2, 5))
    layer(x).square().sum().backward()
    assert layer.log_tau.grad is not None and layer.log_tau.grad.abs() > 0


def test_lsa_differs_from_standard_attention_only_by_its_two_changes():
    torch.manual_seed(1)
    lsa, std = small_data.LocalitySelfAttention(12, 3), MultiHeadAttention(12, 3)
    std.load_state_dict({k: v for k, v in lsa.state_dict().items() if k != "log_tau"})
    x = torch.randn(2, 6, 12)
    _, w_lsa = lsa(x, return_attention=True)
    _, w_std = std(x, return_attention=True)
    # at τ = √d_k, masking the diagonal renormalises what is left of each row
    off = w_std.masked_fill(torch.eye(6, dtype=torch.bool), 0)
    assert torch.allclose(w_lsa, off / off.sum(-1, keepdim=True), atol=1e-6)
    with pytest.raises(ValueError, match="L ≥ 2"):
        lsa(torch.randn(1, 1, 12))


def test_seq_pool_is_a_softmax_weighted_average():
    torch.manual_seed(2)
    pool = small_data.SeqPool(8)
    x = torch.randn(4, 7, 8)
    w = pool.weights(x)
    assert w.shape == (4, 7) and torch.allclose(w.sum(-1), torch.ones(4))
    assert torch.allclose(pool(x), (w[..., None] * x).sum(1), atol=1e-6)
    perm = torch.randperm(7)
    assert torch.allclose(pool(x[:, perm]), pool(x), atol=1e-6)  # order does not matter
    with torch.no_grad():
        pool.score.weight.zero_()
    assert torch.allclose(pool(x), x.mean(1), atol=1e-6)  # equal scores: the plain mean


@pytest.mark.parametrize("switches", [{"spt": True}, {"lsa": True}, {"pool": "seq"},
                                      {"spt": True, "lsa": True, "pool": "seq"}])
@pytest.mark.parametrize("stem", ["patch", "conv"])
def test_vit_switches_keep_shapes_and_round_trip_through_the_config(switches, stem):
    torch.manual_seed(3)
    model = vit.ViT(16, patch_size=4, embed_dim=24, depth=2, num_heads=2, mlp_dim=32, stem=stem, **switches)
    x = torch.randn(2, 3, 16, 16)
    assert model(x).shape == (2, 10)
    maps = model.attention_maps(x)
    assert len(maps) == 2 and maps[0].shape == (2, 2, 17, 17)
    twin = vit.ViT.from_config(model.config)
    twin.load_state_dict(model.state_dict())
    assert torch.equal(twin.eval()(x), model.eval()(x))


def test_switches_off_build_the_course_vit_parameter_for_parameter():
    torch.manual_seed(4)
    plain = vit.ViT(16, patch_size=4, embed_dim=24, depth=2, num_heads=2, mlp_dim=32)
    assert not any(isinstance(m, (small_data.LocalitySelfAttention, small_data.SeqPool)) for m in plain.modules())
    assert isinstance(plain.shifted, nn.Identity)
    spt = vit.ViT(16, patch_size=4, embed_dim=24, depth=2, num_heads=2, mlp_dim=32, spt=True)
    # five images' worth of channels into the patch projection, nothing else added
    extra = vit.count_parameters(spt) - vit.count_parameters(plain)
    assert extra == 4 * (4 * 4 * 3) * 24
    lsa = vit.ViT(16, patch_size=4, embed_dim=24, depth=2, num_heads=2, mlp_dim=32, lsa=True)
    assert vit.count_parameters(lsa) - vit.count_parameters(plain) == 2  # one temperature per block


@pytest.mark.parametrize("pool", ["seq", "mean"])
def test_distilled_vit_pooling_reads_the_patches_not_its_two_tokens(pool):
    torch.manual_seed(5)
    model = distill.DistilledViT(image_size=16, patch_size=4, embed_dim=24, depth=1, num_heads=2, mlp_dim=32,
                                 pool=pool).eval()
    x = model.vit.encoder(model.tokens(torch.randn(2, 3, 16, 16)))  # (B, 2 + N, D)
    pooled = model.vit.pool(x, first_patch=2)
    expected = model.vit.seq_pool(x[:, 2:]) if pool == "seq" else x[:, 2:].mean(1)
    assert torch.allclose(pooled, expected)
    x2 = x.clone()
    x2[:, :2] += 5.0  # the class and distillation tokens' outputs do not reach the class head
    assert torch.equal(model.vit.pool(x2, first_patch=2), pooled)
