import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import cnn, distill, train, vit
from course_utils.config import seed_everything

TINY = dict(image_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=2, mlp_dim=64)


def test_student_has_two_tokens_and_two_heads():
    seed_everything(0)
    student = distill.DistilledViT(**TINY)
    x = torch.randn(3, 3, 16, 16)
    assert student.tokens(x).shape == (3, 2 + 16, 32)
    cls, dist = student.heads(x)
    assert cls.shape == dist.shape == (3, 10) and not torch.allclose(cls, dist)
    assert torch.allclose(student(x), 0.5 * (cls + dist))
    maps = student.attention_maps(x)
    assert len(maps) == 2 and maps[0].shape == (3, 2, 18, 18)
    with pytest.raises(ValueError, match="pool 'max' is not one of"):
        distill.DistilledViT(**TINY, pool="max")


def test_distiller_keeps_the_teacher_frozen_and_in_eval_mode():
    seed_everything(0)
    teacher = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.LazyLinear(10))
    teacher(torch.randn(2, 3, 16, 16))
    model = distill.Distiller(distill.DistilledViT(**TINY), teacher).train()
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    running = teacher[1].running_mean.clone()
    out = model(torch.randn(4, 3, 16, 16))
    assert len(out) == 4 and all(o.shape == (4, 10) for o in out)
    assert torch.equal(running, teacher[1].running_mean)  # eval mode: BatchNorm statistics untouched
    loss = distill.DistillationLoss("hard")(out, torch.arange(4))
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert model.eval()(torch.randn(4, 3, 16, 16)).shape == (4, 10)


def test_losses_match_a_hand_computation():
    g = torch.Generator().manual_seed(0)
    cls, dist, teacher = (torch.randn(5, 10, generator=g) for _ in range(3))
    y = torch.tensor([0, 3, 3, 9, 1])
    out = (0.5 * (cls + dist), cls, dist, teacher)
    hard = distill.DistillationLoss("hard")(out, y)
    by_hand = 0.5 * F.cross_entropy(cls, y) + 0.5 * F.cross_entropy(dist, teacher.argmax(1))
    assert hard.item() == pytest.approx(by_hand.item(), rel=1e-6)
    tau, alpha = 3.0, 0.3
    soft = distill.DistillationLoss("soft", tau=tau, alpha=alpha)(out, y)
    p_t = torch.softmax(teacher / tau, 1)
    kl = (p_t * (p_t.log() - torch.log_softmax(dist / tau, 1))).sum(1).mean()  # KL(teacher ‖ student)
    assert soft.item() == pytest.approx(((1 - alpha) * F.cross_entropy(cls, y) + alpha * tau**2 * kl).item(), rel=1e-5)
    none = distill.DistillationLoss("none")(out, y)
    assert none.item() == pytest.approx((0.5 * F.cross_entropy(cls, y) + 0.5 * F.cross_entropy(dist, y)).item())
    assert distill.DistillationLoss()(cls, y).item() == pytest.approx(F.cross_entropy(cls, y).item())
    for bad, match in ((dict(kind="medium"), "kind 'medium'"), (dict(tau=0), "tau 0"), (dict(alpha=2), "alpha 2")):
        with pytest.raises(ValueError, match=match):
            distill.DistillationLoss(**bad)


def test_hard_distillation_teaches_the_teachers_answers():
    """A teacher that answers 'label + 1' (wrong but consistent): the distillation head learns it."""
    seed_everything(0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, 3, 16, 16, generator=g)
    y = torch.arange(40) % 10

    class Shifted(nn.Module):  # sees the whole set in order, as one batch
        def forward(self, images):
            return F.one_hot((y[:len(images)] + 1) % 10, 10).float() * 5

    batches = [(x, y)]
    model = distill.Distiller(distill.DistilledViT(**TINY), Shifted())
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    hist = train.fit(model, batches, opt, epochs=120, loss_fn=distill.DistillationLoss("hard"), progress=False)
    assert hist.train_loss[-1] < 0.2 * hist.train_loss[0]
    cls, dist = model.student.eval().heads(x)
    assert (cls.argmax(1) == y).float().mean() > 0.9  # the class head: the labels
    assert (dist.argmax(1) == (y + 1) % 10).float().mean() > 0.9  # the distillation head: the teacher


def test_head_agreement_counts():
    seed_everything(0)
    student = distill.DistilledViT(**TINY)
    x, y = torch.randn(12, 3, 16, 16), torch.arange(12) % 10

    class Echo(nn.Module):  # a "teacher" that predicts what the student's class head predicts
        def forward(self, images):
            return student.heads(images)[0]

    stats = distill.head_agreement(student, Echo(), [(x[:6], y[:6]), (x[6:], y[6:])])
    assert stats["cls_teacher"] == 1.0 and stats["acc_cls"] == stats["acc_teacher"]
    cls, dist = student.heads(x)
    assert stats["heads"] == pytest.approx((cls.argmax(1) == dist.argmax(1)).float().mean().item())
    assert stats["pred_student"].shape == (12,)
    with pytest.raises(ValueError, match="empty loader"):
        distill.head_agreement(student, Echo(), [])


def test_fast_cnn_shapes_whitening_and_tta():
    seed_everything(0)
    model = cnn.FastCNN(widths=(8, 16, 16)).eval()
    images = torch.randn(64, 3, 32, 32) * torch.tensor([1.0, 2.0, 0.5])[:, None, None]
    model.whiten(images)
    assert model.whitening.weight.shape == (24, 3, 2, 2) and not model.whitening.weight.requires_grad
    # the first 12 filters decorrelate the 2×2 patches: their outputs have unit variance, no correlation
    out = F.conv2d(images, model.whitening.weight[:12]).permute(0, 2, 3, 1).reshape(-1, 12)
    cov = torch.cov(out.T)
    assert torch.allclose(cov, torch.eye(12), atol=0.05)
    x = torch.randn(4, 3, 32, 32)
    assert model(x).shape == (4, 10)
    assert torch.allclose(model.predict_tta(x), 0.5 * (model(x) + model(x.flip(-1))), atol=1e-5)
    with pytest.raises(ValueError, match="widths"):
        cnn.FastCNN(widths=(8, 16))
    with pytest.raises(ValueError, match=r"expects images \(B, 3, H, W\)"):
        model(torch.randn(3, 32, 32))


@pytest.mark.parametrize("distilled", [True, False])
def test_a_saved_student_loads_as_the_same_model_in_bfloat16(tmp_path, distilled):
    seed_everything(0)
    model = distill.DistilledViT(**TINY, lsa=True) if distilled else vit.ViT(**TINY, pool="seq")
    path = tmp_path / "student.pt"
    distill.save_student(model, path, {"test_acc": 0.5})
    loaded, meta = distill.load_student(path)
    assert type(loaded) is type(model) and meta["test_acc"] == 0.5 and not loaded.training
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert b.dtype == a.dtype and torch.equal(b, a.to(torch.bfloat16).to(a.dtype)), name
    path.write_bytes(path.read_bytes()[:-10])  # damaged: the checksum says so
    with pytest.raises(ValueError, match="damaged"):
        distill.load_student(path)
