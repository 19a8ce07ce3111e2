"""course_utils.swin against timm's Swin (an independent implementation) and against definitions."""

import pytest
import torch
from conftest import train_steps

from course_utils import swin

timm_swin = pytest.importorskip("timm.models.swin_transformer", reason="timm is the reference implementation")


@pytest.mark.parametrize("h, w, m", [(8, 8, 4), (16, 8, 4), (12, 12, 3), (7, 14, 7)])
def test_partition_and_reverse_match_timm(h, w, m):
    x = torch.randn(2, h, w, 5)
    windows = swin.window_partition(x, m)
    assert windows.shape == (2 * (h // m) * (w // m), m, m, 5)
    torch.testing.assert_close(windows, timm_swin.window_partition(x, (m, m)))
    assert torch.equal(swin.window_reverse(windows, m, h, w), x)
    torch.testing.assert_close(swin.window_reverse(windows, m, h, w), timm_swin.window_reverse(windows, (m, m), h, w))


def test_window_order_is_row_major():
    x = torch.arange(16.0).view(1, 4, 4, 1)
    windows = swin.window_partition(x, 2)
    assert windows[1, :, :, 0].tolist() == [[2.0, 3.0], [6.0, 7.0]]  # second window: top right


@pytest.mark.parametrize("h, w, m, s", [(8, 8, 4, 2), (16, 16, 4, 2), (12, 12, 4, 2), (14, 14, 7, 3), (8, 16, 4, 1)])
def test_shifted_mask_matches_timm(h, w, m, s):
    block = timm_swin.SwinTransformerBlock(dim=8, input_resolution=(h, w), num_heads=2, window_size=m, shift_size=s)
    reference = block.get_attn_mask(device=torch.device("cpu"), dtype=torch.float32) == 0  # 0 = allowed there
    ours = swin.shifted_window_mask(h, w, m, s)
    assert ours.shape == ((h // m) * (w // m), m * m, m * m) and ours.dtype == torch.bool
    assert torch.equal(ours, reference)


def test_unshifted_mask_allows_everything():
    assert swin.shifted_window_mask(8, 8, 4, 0).all()


@pytest.mark.parametrize("m", [2, 4, 7])
def test_relative_position_index_matches_timm(m):
    ours = swin.relative_position_index(m)
    assert ours.shape == (m * m, m * m) and ours.min() == 0 and ours.max() == (2 * m - 1) ** 2 - 1
    assert torch.equal(ours, timm_swin.get_relative_position_index(m, m))
    assert len(torch.unique(ours)) == (2 * m - 1) ** 2  # every offset is used


@pytest.mark.parametrize("shift", [0, 2])
def test_block_matches_timm_with_copied_weights(shift):
    torch.manual_seed(0)
    h = w = 8
    ref = timm_swin.SwinTransformerBlock(dim=16, input_resolution=(h, w), num_heads=2, window_size=4, shift_size=shift).eval()
    ours = swin.SwinBlock(16, (h, w), num_heads=2, window_size=4, shift_size=shift).eval()
    with torch.no_grad():
        ref.attn.relative_position_bias_table.normal_()  # make the bias matter
        ours.norm1.load_state_dict(ref.norm1.state_dict())
        ours.norm2.load_state_dict(ref.norm2.state_dict())
        ours.attn.qkv.load_state_dict(ref.attn.qkv.state_dict())
        ours.attn.proj.load_state_dict(ref.attn.proj.state_dict())
        ours.attn.bias_table.copy_(ref.attn.relative_position_bias_table)
        ours.mlp.fc1.load_state_dict(ref.mlp.fc1.state_dict())
        ours.mlp.fc2.load_state_dict(ref.mlp.fc2.state_dict())
    x = torch.randn(2, h, w, 16)
    torch.testing.assert_close(ours(x.view(2, h * w, 16)).view(2, h, w, 16), ref(x), atol=1e-5, rtol=1e-4)


def test_masked_attention_after_roll_equals_attention_on_real_shifted_windows():
    """The paper's trick: roll + mask computes exactly attention within the irregular shifted windows."""
    torch.manual_seed(1)
    h = w = 8
    m, s = 4, 2
    block = swin.SwinBlock(8, (h, w), num_heads=2, window_size=m, shift_size=s).eval()
    x = torch.randn(1, h * w, 8)
    with torch.no_grad():
        fast = block._attention(x)
        # slow: for every token, attend over the tokens of its shifted window (no roll, no wrap)
        q, k, v = block.attn.qkv(x).view(1, h * w, 3, 2, 4).permute(2, 0, 3, 1, 4)  # (1, h, N, d)
        rows, cols = torch.arange(h * w) // w, torch.arange(h * w) % w
        win = ((rows + m - s) // m) * 10 + (cols + m - s) // m  # windows of the shifted grid, irregular at edges
        same = win[:, None] == win[None, :]
        # relative bias inside a real window uses the offsets of positions in the rolled frame
        rr, cc = (rows - s) % h, (cols - s) % w  # position after the roll
        dr = (rr[:, None] - rr[None, :]) % m
        dr = torch.where(rr[:, None] // m == rr[None, :] // m, rr[:, None] - rr[None, :], dr)
        dc = torch.where(cc[:, None] // m == cc[None, :] // m, cc[:, None] - cc[None, :], (cc[:, None] - cc[None, :]) % m)
        bias = block.attn.bias_table[(dr + m - 1) * (2 * m - 1) + (dc + m - 1)].permute(2, 0, 1)  # (h, N, N)
        scores = q @ k.transpose(-2, -1) / 2 + bias
        scores = scores.masked_fill(~same, float("-inf"))
        slow = block.attn.proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(1, h * w, 8))
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-4)


def test_patch_merging_matches_timm_order():
    torch.manual_seed(0)
    ref = timm_swin.PatchMerging(dim=6)
    ours = swin.PatchMerging(6, (4, 4))
    ours.load_state_dict({"norm.weight": ref.norm.weight, "norm.bias": ref.norm.bias, "reduction.weight": ref.reduction.weight})
    x = torch.randn(2, 4, 4, 6)
    out = ours(x.view(2, 16, 6))
    assert out.shape == (2, 4, 12)
    torch.testing.assert_close(out.view(2, 2, 2, 12), ref(x), atol=1e-6, rtol=1e-5)


def test_tiny_swin_shapes_and_learning():
    torch.manual_seed(0)
    model = swin.SwinTransformer(embed_dim=24, depths=(2, 2), num_heads=(2, 4))
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    assert model(x).shape == (8, 10)
    losses = train_steps(model, x, y, steps=25, lr=2e-3)
    assert losses[-1] < 0.5 * losses[0]


def test_padding_for_sizes_not_divisible_by_the_window():
    block = swin.SwinBlock(8, (6, 6), num_heads=2, window_size=4, shift_size=2)
    assert block(torch.randn(1, 36, 8)).shape == (1, 36, 8)


def test_flops_formulas():
    assert swin.attention_flops(56, 56, 96) == 4 * 3136 * 96**2 + 2 * 3136**2 * 96
    assert swin.attention_flops(56, 56, 96, 7) == 4 * 3136 * 96**2 + 2 * 49 * 3136 * 96


def test_bad_sizes():
    with pytest.raises(ValueError, match="feature map 10x8 is not divisible by window size 4"):
        swin.window_partition(torch.zeros(1, 10, 8, 3), 4)
    with pytest.raises(ValueError, match="shift size 4 must be in 0..3"):
        swin.shifted_window_mask(8, 8, 4, 4)
    with pytest.raises(ValueError, match="even feature map, got 5x4"):
        swin.PatchMerging(8, (5, 4))
    with pytest.raises(ValueError, match="do not tile"):
        swin.window_reverse(torch.zeros(3, 4, 4, 2), 4, 8, 8)
    with pytest.raises(ValueError, match="dim 10 is not divisible by num_heads 4"):
        swin.WindowAttention(10, 4, 4)
