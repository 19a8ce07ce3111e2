import os

import pytest
import torch
from torch import nn

from course_utils import train
from course_utils.config import seed_everything


def toy_batches(n=64, batch=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] > 0).long()
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)]


def make(seed=0):
    seed_everything(seed)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def test_fit_learns_and_records_history():
    model, opt = make()
    hist = train.fit(model, toy_batches(), opt, epochs=20, val_loader=toy_batches(seed=1), progress=False)
    assert hist.epoch == list(range(1, 21)) and len(hist.seconds) == 20
    assert hist.train_loss[-1] < hist.train_loss[0]
    assert hist.val_acc[-1] > 0.8


def test_same_seed_same_losses():
    m1, o1 = make(3)
    h1 = train.fit(m1, toy_batches(), o1, epochs=3, progress=False)
    m2, o2 = make(3)
    h2 = train.fit(m2, toy_batches(), o2, epochs=3, progress=False)
    assert h1.train_loss == h2.train_loss


def test_resume_continues_where_it_stopped(tmp_path):
    ckpt = tmp_path / "run.pt"
    m_full, o_full = make(1)
    full = train.fit(m_full, toy_batches(), o_full, epochs=4, progress=False)
    m, o = make(1)
    train.fit(m, toy_batches(), o, epochs=2, checkpoint=ckpt, progress=False)
    m2, o2 = make(99)  # a fresh model: everything must come from the checkpoint
    resumed = train.fit(m2, toy_batches(), o2, epochs=4, checkpoint=ckpt, progress=False)
    assert resumed.epoch == [1, 2, 3, 4]
    assert resumed.train_loss == pytest.approx(full.train_loss, rel=1e-6)
    for p, q in zip(m2.parameters(), m_full.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_resume_restores_scheduler(tmp_path):
    ckpt = tmp_path / "s.pt"
    m, o = make(0)
    sched = train.warmup_cosine(o, warmup_steps=2, total_steps=16)
    train.fit(m, toy_batches(), o, epochs=2, scheduler=sched, checkpoint=ckpt, progress=False)
    m2, o2 = make(0)
    sched2 = train.warmup_cosine(o2, warmup_steps=2, total_steps=16)
    train.fit(m2, toy_batches(), o2, epochs=2, scheduler=sched2, checkpoint=ckpt, progress=False)
    assert sched2.last_epoch == 8 and o2.param_groups[0]["lr"] == pytest.approx(o.param_groups[0]["lr"])


def test_interrupted_save_keeps_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    train.save_checkpoint(path, value=torch.tensor([1.0]))

    def boom(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        train.save_checkpoint(path, value=torch.tensor([2.0]))
    assert train.load_checkpoint(path)["value"].item() == 1.0
    assert os.listdir(tmp_path) == ["model.pt"]  # no temporary file left behind


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train.load_checkpoint(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="could not be read"):
        train.load_checkpoint(bad)


class Evil:
    """An arbitrary object: a checkpoint holding one must not be unpickled."""


def test_checkpoint_refuses_arbitrary_pickles(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"obj": Evil()}, path)
    with pytest.raises(ValueError, match="could not be read"):
        train.load_checkpoint(path)


def test_max_minutes_stops_between_steps(monkeypatch):
    clock = iter(range(0, 10_000, 30))  # every call to the clock advances 30 s
    monkeypatch.setattr(train.time, "perf_counter", lambda: float(next(clock)))
    model, opt = make()
    hist = train.fit(model, toy_batches(n=640), opt, epochs=50, max_minutes=1, progress=False)
    assert hist.stopped_early and len(hist) == 1


def test_bad_arguments():
    model, opt = make()
    with pytest.raises(ValueError, match="epochs -1"):
        train.fit(model, toy_batches(), opt, epochs=-1)
    with pytest.raises(ValueError, match="max_minutes 0"):
        train.fit(model, toy_batches(), opt, epochs=1, max_minutes=0)
    with pytest.raises(ValueError, match="empty train_loader"):
        train.fit(model, [], opt, epochs=1, progress=False)
    with pytest.raises(ValueError, match="warmup_steps"):
        train.warmup_cosine(opt, 10, 5)


def test_evaluate_and_predict():
    model, _ = make()
    loss, acc = train.evaluate(model, toy_batches())
    logits, targets = train.predict(model, toy_batches())
    assert logits.shape == (64, 2) and targets.shape == (64,)
    assert acc == pytest.approx(train.accuracy(logits, targets))
    assert loss == pytest.approx(nn.functional.cross_entropy(logits, targets).item(), rel=1e-5)


def test_bfloat16_autocast_trains_and_keeps_float32_weights():
    model, opt = make()
    hist = train.fit(model, toy_batches(), opt, epochs=20, val_loader=toy_batches(seed=1), precision="bf16",
                     progress=False)
    assert hist.train_loss[-1] < hist.train_loss[0] and hist.val_acc[-1] > 0.8
    assert all(p.dtype == torch.float32 for p in model.parameters())
    with pytest.raises(ValueError, match="precision 'fp8' is not one of"):
        train.fit(model, toy_batches(), opt, epochs=1, precision="fp8")
    with pytest.raises(ValueError, match="precision 'fp16' needs a GPU"):
        train.fit(model, toy_batches(), opt, epochs=1, precision="fp16", device="cpu")


def test_time_budget_cosine_follows_the_clock(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(train.time, "perf_counter", lambda: now[0])
    model, opt = make()
    sched = train.TimeBudgetCosine(opt, minutes=10, warmup=0.1)
    rates = {}
    for seconds in (30, 60, 330, 599, 600, 900):
        now[0] = float(seconds)
        opt.step()
        sched.step()
        rates[seconds] = opt.param_groups[0]["lr"]
    assert rates[30] == pytest.approx(0.05) and rates[60] == pytest.approx(0.1)  # warm-up: 10 % of the budget
    assert rates[330] == pytest.approx(0.05)  # half-way through the cosine
    assert rates[599] < 1e-4 and rates[600] == 0.0 and rates[900] == 0.0
    with pytest.raises(ValueError, match="minutes > 0"):
        train.TimeBudgetCosine(opt, minutes=0)
    with pytest.raises(ValueError, match="warmup < 1"):
        train.TimeBudgetCosine(opt, minutes=1, warmup=1.0)


# ----------------------------------------------------------------------------- exact resume

def image_data(per_class=8, seed=0):
    from course_utils.data import ImageDataset

    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (10 * per_class, 3, 8, 8), generator=g, dtype=torch.uint8)
    targets = torch.arange(10).repeat_interleave(per_class)
    return ImageDataset(images, targets, classes=[str(i) for i in range(10)], mean=(0.5,) * 3, std=(0.25,) * 3,
                        name="cifar10", source="test")


def setup_run(seed):
    """AdamW, warm-up + cosine, dropout, a shuffled augmenting loader: everything a resume must restore."""
    from course_utils import data

    seed_everything(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(192, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05)
    loader = data.make_loader(image_data(), 16, train=True, augment="crop_flip", seed=7)
    sched = train.warmup_cosine(opt, 3, 4 * len(loader))
    return model, opt, loader, sched


class Killed(Exception):
    """Stands in for the process being killed."""


def test_killed_after_epoch_one_resumes_to_the_same_bits(tmp_path):
    model, opt, loader, sched = setup_run(0)
    whole = train.fit(model, loader, opt, epochs=4, scheduler=sched, progress=False)
    ckpt = tmp_path / "run.pt"
    m1, o1, l1, s1 = setup_run(0)
    calls = [0]

    def kill_in_epoch_two(module, inputs):
        calls[0] += 1
        if calls[0] == len(l1) + 2:  # two steps into epoch 2, after epoch 1's checkpoint
            raise Killed

    handle = m1.register_forward_pre_hook(kill_in_epoch_two)
    with pytest.raises(Killed):
        train.fit(m1, l1, o1, epochs=4, scheduler=s1, checkpoint=ckpt, progress=False)
    handle.remove()
    m2, o2, l2, s2 = setup_run(123)  # a new process: other weights, other random state
    torch.rand(1000)
    resumed = train.fit(m2, l2, o2, epochs=4, scheduler=s2, checkpoint=ckpt, progress=False)
    assert resumed.train_loss == whole.train_loss and resumed.epoch == [1, 2, 3, 4]
    for (name, p), q in zip(m2.state_dict().items(), model.state_dict().values()):
        assert torch.equal(p, q), f"{name} differs after resume"


def test_budget_stop_inside_an_epoch_resumes_to_the_same_bits(tmp_path, monkeypatch):
    model, opt, loader, sched = setup_run(0)
    whole = train.fit(model, loader, opt, epochs=4, scheduler=sched, progress=False)
    ckpt = tmp_path / "run.pt"
    clock = iter(range(0, 10**6, 10))
    monkeypatch.setattr(train.time, "perf_counter", lambda: float(next(clock)))
    m1, o1, l1, s1 = setup_run(0)
    cut = train.fit(m1, l1, o1, epochs=4, scheduler=s1, checkpoint=ckpt, max_minutes=1.5, progress=False)
    assert cut.stopped_early and 1 < cut.epochs_run < 2  # stopped inside epoch 2
    monkeypatch.undo()
    m2, o2, l2, s2 = setup_run(5)
    done = train.fit(m2, l2, o2, epochs=4, scheduler=s2, checkpoint=ckpt, progress=False)
    assert not done.stopped_early and done.epoch == [1, 2, 3, 4] and done.epochs_run == 4
    assert done.train_loss == whole.train_loss and done.train_acc == whole.train_acc
    assert done.lr[-1] == whole.lr[-1] == 0.0
    assert all(torch.equal(p, q) for p, q in zip(m2.state_dict().values(), model.state_dict().values()))


def test_resume_refuses_a_different_run(tmp_path):
    ckpt = tmp_path / "run.pt"
    m, o = make(0)
    train.fit(m, toy_batches(), o, epochs=1, checkpoint=ckpt, extra={"recipe": {"augment": "crop_flip"}},
              progress=False)
    with pytest.raises(ValueError, match=r"recipe.augment: 'crop_flip' → 'strong'"):
        train.fit(m, toy_batches(), o, epochs=2, checkpoint=ckpt, extra={"recipe": {"augment": "strong"}},
                  progress=False)


def test_a_diverged_step_is_not_applied():
    model, opt = make(0)
    batches = toy_batches()
    poisoned = [batches[0], (torch.full_like(batches[1][0], float("nan")), batches[1][1])] + batches[2:]
    train.fit(model, batches[:1], opt, epochs=1, progress=False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model2, opt2 = make(0)
    with pytest.raises(FloatingPointError, match="step was not applied"):
        train.fit(model2, poisoned, opt2, epochs=1, progress=False)
    assert all(torch.equal(before[k], v) for k, v in model2.state_dict().items())  # only the good step landed
    hist = train.fit(model2, batches, opt2, epochs=5, progress=False)  # and the model trains on
    assert all(torch.isfinite(p).all() for p in model2.parameters()) and hist.train_loss[-1] < hist.train_loss[0]


def test_checkpoints_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = train.save_checkpoint(tmp_path / "c.pt", value=torch.tensor([1.0]))
    finally:
        os.umask(old)
    assert (path.stat().st_mode & 0o777) == 0o644


def test_loader_replays_an_epoch_from_any_batch():
    from course_utils import data

    loader = data.make_loader(image_data(), 16, train=True, augment="crop_flip", seed=3)
    state = loader.state_dict()
    first = list(loader)
    loader.load_state_dict(state)
    tail = list(loader.iter_from(2))
    assert len(tail) == len(first) - 2
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first[2:], tail))
    assert not torch.equal(torch.cat([x for x, _ in first]), torch.cat([x for x, _ in loader]))  # next epoch differs


def test_sharded_loader_splits_each_global_batch():
    from course_utils import data

    ds = image_data()
    whole = list(data.make_loader(ds, 16, train=True, seed=3))
    shards = [data.BatchLoader(ds, 16, shuffle=True, augment="crop_flip", seed=3, rank=r, world_size=2)
              for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == len(whole)
    for (x, y), (x0, y0), (x1, y1) in zip(whole, *shards):
        assert torch.equal(torch.cat([x0, x1]), x) and torch.equal(torch.cat([y0, y1]), y)
    with pytest.raises(ValueError, match="rank 2 must be in"):
        data.BatchLoader(ds, 16, rank=2, world_size=2)


# ----------------------------------------------------------------------------- exact values (issue 18)

def test_warmup_cosine_exact_values():
    """warm-up (step + 1)/(warmup + 1), then ½(1 + cos(π·progress)) down to min_factor; a linear decay fails
    at the quarter and three-quarter points (0.854 / 0.146 against 0.75 / 0.25)."""
    import math

    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = train.warmup_cosine(opt, warmup_steps=4, total_steps=12)  # cosine over steps 4..12
    rates = [opt.param_groups[0]["lr"]]
    for _ in range(16):
        opt.step()
        sched.step()
        rates.append(opt.param_groups[0]["lr"])
    assert rates[:4] == pytest.approx([0.2, 0.4, 0.6, 0.8])  # the warm-up, linear
    assert rates[4] == pytest.approx(1.0)  # end of warm-up: the peak
    assert rates[6] == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))  # a quarter of the cosine: 0.8536
    assert rates[8] == pytest.approx(0.5)  # the midpoint
    assert rates[10] == pytest.approx(0.5 * (1 - math.cos(math.pi / 4)))  # three quarters: 0.1464
    assert rates[12] == 0.0 and rates[16] == 0.0  # the end, and after it
    opt2 = torch.optim.SGD(model.parameters(), lr=2.0)
    floor = train.warmup_cosine(opt2, warmup_steps=0, total_steps=10, min_factor=0.1)
    assert opt2.param_groups[0]["lr"] == pytest.approx(2.0)  # no warm-up: starts at the peak
    for step in range(1, 11):
        opt2.step()
        floor.step()
        if step == 5:
            assert opt2.param_groups[0]["lr"] == pytest.approx(2.0 * 0.55)  # min + (1 − min)·½
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.2)  # ends at min_factor·lr


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_fit_computes_in_the_precision_it_is_given(precision, dtype):
    """A forward hook on a Linear sees what the matrix multiplications produced inside fit."""
    model, opt = make()
    seen = []
    model[0].register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    train.fit(model, toy_batches(), opt, epochs=1, precision=precision, progress=False)
    assert seen == [dtype] * len(toy_batches())
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights stay float32 either way
