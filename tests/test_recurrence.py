import pytest
import torch

from course_utils import recurrence as R


@pytest.mark.parametrize("attention", [False, True])
def test_shapes(attention):
    cfg = R.Seq2SeqConfig(vocab=7, embed=5, hidden=6, max_len=12, attention=attention)
    model = R.make_model(cfg)
    src = torch.randint(0, 7, (3, 9))
    memory, last = model.encoder(src)
    assert memory.shape == (3, 9, 6) and last.shape == (3, 6)
    torch.testing.assert_close(last, memory[:, -1])  # the last state is the memory's last row
    logits, weights = model(src)
    assert logits.shape == (3, 9, 7)
    logits, weights = model(src, length=4)  # the output may be shorter than the source
    assert logits.shape == (3, 4, 7)
    if attention:
        assert weights.shape == (3, 4, 9)
        torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4))
    else:
        assert weights is None


def test_lengths_outside_the_tables_are_named():
    model = R.make_model(R.Seq2SeqConfig(max_len=8))
    with pytest.raises(ValueError, match="source length 9 is outside 1..max_len=8"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="output length 0 is outside"):
        model(torch.zeros(1, 3, dtype=torch.long), length=0)
    with pytest.raises(ValueError, match="hidden 0 must be a positive integer"):
        R.Seq2SeqConfig(hidden=0)
    with pytest.raises(ValueError, match="length 0 must be at least 1"):
        R.reverse_batch(4, 0, 10, torch.Generator())


def test_reverse_batch_reverses():
    src, tgt = R.reverse_batch(5, 6, 10, torch.Generator().manual_seed(0))
    assert src.shape == tgt.shape == (5, 6) and src.min() >= 0 and src.max() < 10
    assert all(tgt[i].tolist() == src[i].tolist()[::-1] for i in range(5))


def _decoder_outputs(model, memory, last):
    with torch.no_grad():
        return model.decoder(memory, last, memory.shape[1])[0]


def test_attention_reads_every_encoder_state():
    """Change one encoder state, keep the last: only the attended decoder's output changes."""
    src = torch.randint(0, 10, (2, 8), generator=torch.Generator().manual_seed(1))
    for attention in (False, True):
        model = R.make_model(R.Seq2SeqConfig(attention=attention), seed=3).eval()
        with torch.no_grad():
            memory, last = model.encoder(src)
        before = _decoder_outputs(model, memory, last)
        for i in range(7):  # every position but the last, whose state is also the start state
            changed = memory.clone()
            changed[:, i] += 1.0
            gap = (_decoder_outputs(model, changed, last) - before).abs().max().item()
            if attention:
                assert gap > 1e-4, f"the attended decoder ignores encoder state {i}"
            else:
                assert gap == 0, f"the plain decoder should see only the last state, but state {i} moved it by {gap}"


def test_attention_gradient_reaches_every_source_position_directly():
    model = R.make_model(R.Seq2SeqConfig(attention=True), seed=0)
    memory = torch.randn(1, 6, 64, requires_grad=True)
    logits, weights = model.decoder(memory, torch.zeros(1, 64), 6)
    logits.sum().backward()
    assert (memory.grad.abs().sum(-1) > 0).all()
    assert (weights > 0).all()  # a soft read: every state gets some weight


def test_make_model_is_deterministic_and_leaves_global_state():
    cfg = R.Seq2SeqConfig(attention=True)
    state = torch.random.get_rng_state()
    a, b, c = R.make_model(cfg, seed=4), R.make_model(cfg, seed=4), R.make_model(cfg, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


def test_training_is_deterministic_under_a_seed():
    cfg = R.Seq2SeqConfig(embed=8, hidden=16, attention=True)
    runs = [R.train_reverse(R.make_model(cfg, seed=0), length=5, steps=5, batch_size=8, seed=s) for s in (0, 0, 1)]
    assert runs[0]["loss"] == runs[1]["loss"]
    assert runs[0]["loss"] != runs[2]["loss"]


@pytest.mark.parametrize("attention", [False, True])
def test_training_learns_short_reversals(attention):
    """A few hundred steps reverse 5 tokens far above chance (0.1); untrained, the model is near chance."""
    model = R.make_model(R.Seq2SeqConfig(hidden=32, attention=attention), seed=0)
    before = R.reverse_accuracy(model, 5, n=500).mean().item()
    history = R.train_reverse(model, length=5, steps=200, seed=0)
    after = R.reverse_accuracy(model, 5, n=500)
    assert after.shape == (5,)
    assert before < 0.3 and after.mean().item() > 0.9, (before, after)
    assert sum(history["loss"][-10:]) < sum(history["loss"][:10])
