"""The notes' Keras model rebuilt: shapes, the as-written failure, the fix, equivariance, counts."""

import math

import pytest
import torch

from course_utils import keras_notes as kn


@pytest.fixture
def images():
    return torch.rand(2, 32, 32, 3, generator=torch.Generator().manual_seed(0))  # channels-last, like Keras


def fixed_model(seed=0):
    torch.manual_seed(seed)
    return kn.NotesModel(fixed=True).eval()


def test_shapes_channels_last_and_first(images):
    model = fixed_model()
    with torch.no_grad():
        logits = model(images)
        assert logits.shape == (2, 10)
        assert model.block(images).shape == (2, 32, 32, 3)
        wrapped = kn.ChannelsFirst(model)(images.permute(0, 3, 1, 2))  # the course's (B, C, H, W)
    torch.testing.assert_close(wrapped, logits)
    assert kn.course_model().model.config.fixed


def test_channels_first_input_to_the_keras_model_is_refused():
    with pytest.raises(ValueError, match=r"channels-last images \(B, 32, 32, 3\).*\(2, 3, 32, 32\)"):
        fixed_model()(torch.rand(2, 3, 32, 32))


def test_as_written_fails_at_the_second_residual_naming_both_shapes(images):
    torch.manual_seed(0)
    model = kn.NotesModel(fixed=False)
    with pytest.raises(ValueError) as info:
        model(images)
    message = str(info.value)
    assert "(2, 32, 32, 3)" in message and "(2, 32, 32, 64)" in message
    assert "3 features vs 64" in message


def test_as_written_runs_when_the_input_is_already_embed_dim_wide():
    block = kn.TransformerBlock(embed_dim=8, num_heads=2, ff_dim=16, in_features=8, fixed=False)
    assert block(torch.rand(1, 4, 4, 8)).shape == (1, 4, 4, 8)


def keras_einsum_attention(att, x):
    """Keras' own computation, independently: 6-D einsums over both spatial axes, softmax over (u, v)."""
    h, k = att.num_heads, att.key_dim
    c = x.shape[-1]

    def project(layer):  # Keras kernel (C, heads, key_dim) and bias (heads, key_dim)
        return torch.einsum("bxyc,chk->bxyhk", x, layer.weight.T.reshape(c, h, k)) + layer.bias.view(h, k)

    q, key, v = project(att.query), project(att.key), project(att.value)
    scores = torch.einsum("bxyhk,buvhk->bhxyuv", q, key) / math.sqrt(k)  # (B, h, H, W, H, W)
    b, _, hh, ww, _, _ = scores.shape
    weights = scores.reshape(b, h, hh, ww, hh * ww).softmax(-1).reshape(scores.shape)
    y = torch.einsum("bhxyuv,buvhk->bxyhk", weights, v)
    kernel = att.output_dense.weight.T.reshape(h, k, c)  # Keras' (heads, key_dim, C)
    return torch.einsum("bxyhk,hkc->bxyc", y, kernel) + att.output_dense.bias


def test_attention_matches_keras_einsum_over_both_spatial_axes(images):
    att = fixed_model().block.att
    with torch.no_grad():
        expected = keras_einsum_attention(att, images)
        fused = att(images)
        written, weights = att(images, return_attention=True)
    torch.testing.assert_close(fused, expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(written, expected, atol=1e-5, rtol=1e-4)
    assert weights.shape == (2, 4, 1024, 1024)


def test_the_model_returns_attention_over_1024_tokens(images):
    with torch.no_grad():
        logits, weights = fixed_model()(images, return_attention=True)
    assert logits.shape == (2, 10) and weights.shape == (2, 4, 1024, 1024)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 1024))


def test_block_is_permutation_equivariant_but_the_model_is_not(images):
    perm = torch.randperm(1024, generator=torch.Generator().manual_seed(1))

    def shuffle(x):  # (B, 32, 32, C) → the same pixels in another order
        return x.reshape(x.shape[0], 1024, x.shape[-1])[:, perm].reshape(x.shape)

    # float64: exact up to rounding; float32: the sums over 1,024 keys run in another order, and the
    # LayerNorm over 3 features magnifies that rounding to about 1e-5
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 1e-4)):
        model, x = fixed_model().to(dtype), images.to(dtype)
        with torch.no_grad():
            out, out_shuffled = model.block(x), model.block(shuffle(x))
            logits, logits_shuffled = model(x), model(shuffle(x))
        assert (out_shuffled - shuffle(out)).abs().max() < tol  # shuffled the same way
        assert (logits_shuffled - logits).abs().max() > 1e-3  # only the Dense after Flatten sees positions


def test_parameter_count_equals_the_hand_formula():
    for fixed in (True, False):
        torch.manual_seed(0)
        model = kn.NotesModel(fixed=fixed)
        formula = kn.parameter_formula(model.config)
        assert sum(p.numel() for p in model.parameters()) == sum(formula.values())
    # by hand: 3·(3·256 + 256) + (256·3 + 3) + 6 + (3·128 + 128) + (128·3 + 3) + 6 + (3,072·10 + 10)
    assert sum(kn.parameter_formula(kn.NotesConfig(fixed=True)).values()) == 35_484


def test_keras_defaults_epsilon_init_and_relu():
    model = fixed_model()
    assert model.block.layernorm1.eps == model.block.layernorm2.eps == 1e-6
    assert isinstance(model.block.ffn[1], torch.nn.ReLU)
    q = model.block.att.query
    limit = math.sqrt(6 / (4 * 3 + 64 * 3))  # Keras' fans for the (3, 4, 64) EinsumDense kernel
    assert q.weight.abs().max() <= limit and q.weight.abs().max() > 0.9 * limit
    assert all(not layer.bias.any() for layer in (q, model.block.att.output_dense, model.dense))


def test_the_fixed_model_trains(images):
    model = kn.course_model(fixed=True)
    x, y = images.permute(0, 3, 1, 2), torch.tensor([1, 7])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    losses = []
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]


# ----------------------------------------------------------------------------- the benchmark script

@pytest.fixture(scope="module")
def bench():
    import importlib.util
    import sys
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    if str(folder) not in sys.path:  # as when the script runs: vit_cifar10.py and provenance.py importable
        sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location("keras_notes_cifar10", folder / "keras_notes_cifar10.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_recipes_follow_keras_and_the_course(bench):
    notes, course = bench.RECIPES["notes"], bench.RECIPES["course"]
    assert (notes["optimizer"], notes["lr"], notes["adam_eps"], notes["batch_size"]) == ("adam", 1e-3, 1e-7, 32)
    assert notes["augment"] == "none" and notes["inputs"] == "x / 255"
    for key in ("lr", "weight_decay", "batch_size", "schedule", "label_smoothing", "augment", "precision"):
        assert course[key] == bench.BEST[key], key


def test_benchmark_cost_rows_build_and_run(bench):
    for name, (tokens, *_) in bench.COST_ROWS.items():
        for form in bench.FORMS:
            with torch.inference_mode():
                out = bench._forward(name, form)()
            assert out is not None, (name, form)
    assert bench.COST_ROWS["notes block, 1,024 pixel tokens"][0] == 1024


def test_benchmark_unit_scaling_and_rows_replaced_by_key(bench, tmp_path):
    from course_utils import data

    ds = data.ImageDataset(torch.full((2, 3, 4, 4), 255, dtype=torch.uint8), torch.tensor([0, 1]), classes=("a", "b"),
                           mean=(0.5,) * 3, std=(0.2,) * 3, name="cifar10", source="test")
    x, _ = next(iter(data.make_loader(bench.unit_scaled(ds), 2)))
    assert torch.equal(x, torch.ones(2, 3, 4, 4))  # x / 255, as the notes feed it
    out = tmp_path / "r.json"
    row = {"section": "budget", "name": "notes", "minutes": 10, "seed": 0, "per_class": None, "test_acc": 1}
    bench.save_rows(out, [row], bench.budget_key)
    bench.save_rows(out, [{**row, "test_acc": 2}], bench.budget_key)
    bench.save_rows(out, [{**row, "seed": 1}], bench.budget_key)
    bench.save_rows(out, [{"section": "cost", "name": "x"}], key=lambda r: r["section"])
    rows = bench.load_rows(out)
    assert [(r["section"], r.get("seed"), r.get("test_acc")) for r in rows] == [
        ("budget", 0, 2), ("budget", 1, 1), ("cost", None, None)]
