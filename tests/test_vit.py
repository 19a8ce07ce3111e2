from pathlib import Path

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


CHECKPOINT_SUBSET = Path(__file__).with_name("checkpoint_subset.json")
"""What the shipped checkpoint predicts on a fixed 500-image stratified subset of the CIFAR-10 test set,
recorded together with a full test-set evaluation (``python tests/test_vit.py record``). A json here,
not in the checkpoint: its metadata lives inside the .pt file (editing it would change the file's
SHA-256), and the .sha256 sidecar is a one-line ``sha256sum`` file that load_pretrained parses.
The record names the checkpoint's SHA-256, so a new checkpoint is noticed and must be recorded again."""


def checkpoint_subset_scores(data_dir) -> dict:
    """The shipped checkpoint on the subset: its predictions, the number correct, the subset's indices' hash."""
    import hashlib

    from course_utils import data, train

    test = data.load_cifar10("test", data_dir=data_dir)
    idx = data.stratified_indices(test.targets, 50, seed=0)  # 50 per class, 500 images
    model, _ = vit.load_pretrained()
    logits, targets = train.predict(model, data.make_loader(test.subset(idx), 500))
    predictions = logits.argmax(-1)
    return {"checkpoint_sha256": hashlib.sha256(vit.DEFAULT_CHECKPOINT.read_bytes()).hexdigest(),
            "subset": "CIFAR-10 test split, data.stratified_indices(targets, 50, seed=0): 500 images",
            "indices_sha256": hashlib.sha256(idx.numpy().astype("int64").tobytes()).hexdigest(),
            "correct": int((predictions == targets).sum()), "predictions": predictions.tolist()}


def test_committed_checkpoint_is_what_it_says(mirror):
    """The course's checkpoint: a pure ViT of at most 3 M parameters whose stored test accuracy is what it
    scored on the real CIFAR-10 test set when it was recorded, and which still predicts, image for image,
    what it predicted then on a 500-image subset (a second instead of 25: the whole set is scored only
    when the record is written)."""
    import json

    if not vit.DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no checkpoint in data/checkpoints")
    model, meta = vit.load_pretrained()
    assert model.config.stem == "patch" and vit.count_parameters(model) <= 3_000_000
    assert meta["epochs_done"] == len(meta["history"]["epoch"]) and meta["train_hours"] > 0
    record = json.loads(CHECKPOINT_SUBSET.read_text())
    got = checkpoint_subset_scores(mirror)
    assert got["checkpoint_sha256"] == record["checkpoint_sha256"], (
        "data/checkpoints/vit_cifar10.pt is not the checkpoint tests/checkpoint_subset.json was recorded for: "
        "run `python tests/test_vit.py record` (it scores the whole test set once)")
    assert meta["test_acc"] == record["full_test_acc"]  # the accuracy the whole test set gave when recorded
    assert got["indices_sha256"] == record["indices_sha256"]  # the same 500 images
    assert got["predictions"] == record["predictions"]  # the smallest logit margin on them is 0.013
    assert got["correct"] == record["correct"] == 388


def record_checkpoint_subset(data_dir) -> None:
    """Score the whole test set (it must equal the checkpoint's stored accuracy), then write the record."""
    import json

    from course_utils import data, train

    model, meta = vit.load_pretrained()
    _, acc = train.evaluate(model, data.make_loader(data.load_cifar10("test", data_dir=data_dir), 1000))
    if abs(acc - meta["test_acc"]) > 5e-4:
        raise SystemExit(f"the checkpoint scores {acc} on the test set but stores {meta['test_acc']}: not recorded")
    record = {**checkpoint_subset_scores(data_dir), "full_test_acc": meta["test_acc"],
              "recorded_with": "python tests/test_vit.py record"}
    CHECKPOINT_SUBSET.write_text(json.dumps(record) + "\n")
    print(f"wrote {CHECKPOINT_SUBSET}: {record['correct']}/500 on the subset, {acc} on the whole test set")


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


# ----------------------------------------------------------------------------- against independent references

def timm_twin(model: vit.ViT):
    """timm's VisionTransformer with ``model``'s configuration and weights copied in.

    timm is an independent implementation of the same architecture: pre-norm blocks, positions
    added to the patch tokens only (``no_embed_class``), a final LayerNorm over every token, then
    the CLS token ("token") or the mean of the patch tokens ("avg", with ``fc_norm=False`` so the
    LayerNorm comes before the mean, as in the course's ViT).
    """
    timm_vit = pytest.importorskip("timm.models.vision_transformer", reason="timm is the reference implementation")
    c = model.config
    twin = timm_vit.VisionTransformer(
        img_size=c.image_size, patch_size=c.patch_size, in_chans=c.in_channels, num_classes=c.num_classes,
        embed_dim=c.embed_dim, depth=c.depth, num_heads=c.num_heads, mlp_ratio=c.mlp_dim / c.embed_dim,
        qkv_bias=True, class_token=True, no_embed_class=True, global_pool="token" if c.pool == "cls" else "avg",
        fc_norm=False)
    for module in twin.modules():
        if isinstance(module, torch.nn.LayerNorm):
            module.eps = 1e-5  # timm's default is 1e-6; torch's (the course's) 1e-5
    state = {}
    for name, tensor in model.state_dict().items():
        name = name.replace("encoder.blocks.", "blocks.").replace("encoder.norm.", "norm.").replace(".attn.out.",
                                                                                                     ".attn.proj.")
        state[name] = tensor
    missing, unexpected = twin.load_state_dict(state, strict=True)
    assert not missing and not unexpected
    return twin.eval()


def scrambled(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every parameter random (the CLS token, LayerNorm gains and biases too), so nothing is a no-op."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(1 + 0.2 * noise if name.endswith("norm1.weight") or name.endswith("norm2.weight")
                    or name.endswith("norm.weight") else 0.3 * noise)
    return model.eval()


@pytest.mark.parametrize("pos", ["learned", "sincos2d"])
@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_logits_equal_timm_with_the_same_weights(pos, pool):
    """Catches pooling the wrong token, a misplaced norm, positions added to CLS or in the wrong
    order (a rectangular 4×3 grid), a post-norm block; no data needed."""
    model = scrambled(vit.ViT(image_size=(32, 24), patch_size=8, embed_dim=32, depth=2, num_heads=4, mlp_dim=64,
                              pos_embedding=pos, pool=pool))
    twin = timm_twin(model)
    x = torch.randn(5, 3, 32, 24, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = model(x), twin(x)
    assert ours.abs().max() > 0.5  # the comparison is not between near-zero vectors
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_cls_pooling_reads_token_zero_only():
    """Pooling reads the CLS output: the last token's (or any patch token's) output alone must not be it."""
    model = scrambled(small(pool="cls"))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        encoded = model.encoder(model.tokens(x))  # (B, 1 + N, D)
        torch.testing.assert_close(model(x), model.head(encoded[:, 0]))
        assert not torch.allclose(model(x), model.head(encoded[:, -1]), atol=1e-3)


def test_sincos_table_is_the_2d_concat_table():
    from course_utils.positional import sinusoidal_2d

    model = vit.ViT(image_size=(32, 24), patch_size=8, embed_dim=32, depth=1, num_heads=4, mlp_dim=64,
                    pos_embedding="sincos2d")
    assert torch.equal(model.pos_embed[0], sinusoidal_2d(4, 3, 32))  # 4 rows, 3 columns of patches


def test_rollout_equals_a_hand_computation():
    """Notebook 04's convention: per layer ½·mean_heads(A) + ½·I, rows renormalised; the later layer on the left."""
    g = torch.Generator().manual_seed(0)
    maps = [torch.softmax(3 * torch.randn(2, 3, 6, 6, generator=g, dtype=torch.float64), -1) for _ in range(3)]
    want = torch.empty(2, 6, 6, dtype=torch.float64)
    for b in range(2):
        total = torch.eye(6, dtype=torch.float64)
        for layer in maps:
            a = [[0.5 * sum(layer[b, h, i, j].item() for h in range(3)) / 3 + 0.5 * (i == j) for j in range(6)]
                 for i in range(6)]
            a = torch.tensor([[v / sum(row) for v in row] for row in a], dtype=torch.float64)
            total = a @ total
        want[b] = total
    torch.testing.assert_close(vit.attention_rollout(maps), want, atol=1e-12, rtol=0)
    # one layer, a known answer: A = all-uniform over 4 tokens → ½·¼ off the diagonal, ½ + ⅛ on it
    uniform = torch.full((1, 1, 4, 4), 0.25)
    expected = torch.full((4, 4), 0.125) + 0.5 * torch.eye(4)
    torch.testing.assert_close(vit.attention_rollout([uniform])[0], expected)


if __name__ == "__main__":  # python tests/test_vit.py record  (COURSE_DATA_DIR: the npz mirror)
    import sys

    from conftest import real_data_dir

    if sys.argv[1:] != ["record"] or real_data_dir() is None:
        raise SystemExit("usage: COURSE_DATA_DIR=<npz mirror> python tests/test_vit.py record")
    record_checkpoint_subset(real_data_dir())
