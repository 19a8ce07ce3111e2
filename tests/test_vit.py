import pytest
import torch
from conftest import train_steps

from course_utils import vit


def small(**kw):
    base = dict(image_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, mlp_dim=64)
    base.update(kw)
    return vit.ViT(**base)


@pytest.mark.parametrize("pos, pool", [("learned", "cls"), ("sincos2d", "mean")])
def test_shapes_and_attention_maps(pos, pool):
    model = small(pos_embedding=pos, pool=pool).eval()
    x = torch.randn(3, 3, 32, 32)
    assert model(x).shape == (3, 10)
    maps = model.attention_maps(x)
    assert len(maps) == 2 and maps[0].shape == (3, 4, 17, 17)
    for m in maps:
        torch.testing.assert_close(m.sum(-1), torch.ones(3, 4, 17))


def test_sincos_is_a_buffer_not_a_parameter():
    model = small(pos_embedding="sincos2d")
    assert "pos_embed" in dict(model.named_buffers()) and "pos_embed" not in dict(model.named_parameters())
    assert "pos_embed" in dict(small().named_parameters())


def test_attention_path_equals_fused_path():
    model = small().eval()
    x = torch.randn(2, 3, 32, 32)
    tokens = model.tokens(x)
    fused = model.encoder(tokens)
    manual = tokens
    for block in model.encoder.blocks:
        manual, _ = block(manual, return_attention=True)
    torch.testing.assert_close(model.encoder.norm(manual), fused, atol=1e-5, rtol=1e-5)


def test_overfits_a_few_batches():
    torch.manual_seed(0)
    model = small()
    losses = train_steps(model, torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,)), steps=60, lr=3e-3)
    assert losses[-1] < 0.2 * losses[0]


def test_config_round_trip():
    model = small(pool="mean")
    clone = vit.ViT.from_config(model.config)
    clone.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(clone.eval()(x), model.eval()(x))


def test_bad_configurations():
    with pytest.raises(ValueError, match="image size 32 is not divisible by patch size 5"):
        small(patch_size=5)
    with pytest.raises(ValueError, match="embed_dim 30 is not divisible by num_heads 4"):
        small(embed_dim=30)
    with pytest.raises(ValueError, match="pos_embedding 'rope'"):
        small(pos_embedding="rope")
    with pytest.raises(ValueError, match="pool 'max'"):
        small(pool="max")


def test_conv_stem_gives_the_same_token_grid():
    model = small(stem="conv", patch_size=8).eval()
    x = torch.randn(2, 3, 32, 32)
    assert model.patch_embed(x).shape == (2, 16, 32) and model(x).shape == (2, 10)
    assert model.config.stem == "conv"
    with pytest.raises(ValueError, match="patch size 6 must be a power of two"):
        vit.ViT(image_size=48, patch_size=6, embed_dim=32, depth=1, num_heads=4, mlp_dim=64, stem="conv")
    with pytest.raises(ValueError, match="stem 'resnet'"):
        small(stem="resnet")
