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


def test_attention_rollout_identity_and_rows():
    eye = torch.eye(5).expand(2, 3, 5, 5)
    assert torch.allclose(vit.attention_rollout([eye, eye]), torch.eye(5).expand(2, 5, 5))
    torch.manual_seed(0)
    maps = [torch.softmax(torch.randn(2, 3, 5, 5), -1) for _ in range(3)]
    rollout = vit.attention_rollout(maps)
    assert rollout.shape == (2, 5, 5) and torch.allclose(rollout.sum(-1), torch.ones(2, 5))
    plain = vit.attention_rollout(maps, residual=False)
    assert torch.allclose(plain, maps[2].mean(1) @ maps[1].mean(1) @ maps[0].mean(1), atol=1e-6)
    with pytest.raises(ValueError, match="at least one"):
        vit.attention_rollout([])
    with pytest.raises(ValueError, match=r"\(B, heads, L, L\)"):
        vit.attention_rollout([torch.ones(2, 5, 5)])


def test_rollout_of_a_real_model():
    model = vit.ViT(32, 8, embed_dim=32, depth=3, num_heads=2, mlp_dim=64).eval()
    rollout = vit.attention_rollout(model.attention_maps(torch.randn(2, 3, 32, 32)))
    assert rollout.shape == (2, 17, 17) and torch.allclose(rollout.sum(-1), torch.ones(2, 17), atol=1e-5)


def test_lecture_model_shapes_and_positions():
    from course_utils.positional import sinusoidal_1d

    processor, model = vit.LectureProcessor(), vit.LectureViT()
    tokens = processor(torch.randn(3, 3, 32, 32))
    assert tokens.shape == (3, 16, 64) and model(tokens).shape == (3, 10)
    table = sinusoidal_1d(16, 64)
    assert torch.allclose(processor.pos[6], table[6] + table[1] + table[2])  # patch 6 = row 1, column 2
    assert vit.count_parameters(model) == 67_786 and vit.count_parameters(processor) == 12_352
    assert "pos" in dict(processor.named_buffers())
    assert model.encoder.layers[0].norm_first is False  # the notes' encoder is post-norm


def test_load_pretrained_fetches_a_missing_file(tmp_path):
    source = tmp_path / "served.pt"
    vit.save_pretrained(vit.ViT(32, 8, embed_dim=16, depth=1, num_heads=2, mlp_dim=32), source, {"test_acc": 0.5})
    target = tmp_path / "cache" / "vit.pt"
    model, meta = vit.load_pretrained(target, url=source.as_uri())
    assert target.is_file() and meta["test_acc"] == 0.5 and not model.training
    assert [p.name for p in target.parent.iterdir()] == ["vit.pt"]  # no temporary file left behind


def test_committed_checkpoint_is_what_it_says(mirror):
    """The course's checkpoint: a pure ViT of at most 3 M parameters whose stored test accuracy
    is what it scores on the real CIFAR-10 test set."""
    from course_utils import data, train

    if not vit.DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no checkpoint in data/checkpoints")
    model, meta = vit.load_pretrained()
    assert model.config.stem == "patch" and vit.count_parameters(model) <= 3_000_000
    _, acc = train.evaluate(model, data.make_loader(data.load_cifar10("test", data_dir=mirror), 1000))
    assert acc == pytest.approx(meta["test_acc"], abs=5e-4)
    assert meta["epochs_done"] == len(meta["history"]["epoch"]) and meta["train_hours"] > 0


def test_exercise_checkers():
    from course_utils import checks

    assert checks.check_encoder_block(lambda x, b: b(x))

    def post_norm(x, b):
        y = b.norm1(x + b.attn(x))
        return b.norm2(y + b.mlp(y))

    assert "post-norm" in repr(checks.check_encoder_block(post_norm))
    assert "residual" in repr(checks.check_encoder_block(lambda x, b: b.mlp(b.norm2(b.attn(b.norm1(x))))))
    assert "not done yet" in repr(checks.check_encoder_block(lambda x, b: (_ for _ in ()).throw(NotImplementedError)))
    assert checks.check_vit_param_count(1_806_346)
    assert not checks.check_vit_param_count(1_806_346 - 65 * 192)  # no class token, no positions
    assert "LayerNorms" in repr(checks.check_vit_param_count(1_806_346 - 6 * 4 * 192 - 2 * 192))
    assert "not done yet" in repr(checks.check_vit_param_count(...))
