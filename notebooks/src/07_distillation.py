# %% [markdown]
# # 07 · Distillation: a CNN teacher and a ViT student (DeiT)
#
# {{COLAB_BADGE}}
#
# **Learning goals.** After this notebook you can
# 1. say why a ViT trained on 45,000 images loses to a small CNN, and what a teacher can pass on;
# 2. build DeiT's student: a class token *and* a distillation token, two heads, their average;
# 3. write soft distillation (temperature, KL, the factor τ²) and hard distillation (the
#    teacher's argmax) and say what each asks of the student;
# 4. read an honest comparison: scratch, soft and hard students at one time budget, two seeds
#    each, and say why the teacher does not pay at that budget;
# 5. measure what the student inherits: agreement with the teacher, on its mistakes too, per class;
# 6. compare where a distilled and a scratch ViT look (attention rollout), with numbers.
#
# **The lecture notes' claims we test here.**
# - "DeIT is a vision transformer variant that relies on distillation and data augmentation and
#   compute to reduce the size of the training data corpus" (the ViT lecture). We distil on
#   CIFAR-10's 45,000 training images, two CPU cores, ten minutes.
# - "ViTs require more compute and data than CNNs" (its summary). Notebook 04 measured it at
#   ten minutes; here we ask how much of the gap a teacher closes.
# - The hybrids lecture shows its hybrid model as an "intuition [...] taken from [DEIT2021]",
#   and notebook 06 once called DeiT a hybrid. DeiT's student is a ViT; the CNN teaches it during
#   training and is gone at inference. We check that with a counter.

# %%
{{COLAB_SETUP}}

import json
import urllib.request
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from course_utils import checks, cnn, config, data, distill, small_data, train, viz, vit
from course_utils.claims import claim

config.seed_everything(0)
device = config.get_device()
print(config.summary(device))

REPO = "{{REPO_URL}}"
CHECKPOINTS = cnn.DEFAULT_TEACHER.parent  # data/checkpoints in this checkout


def results(name):
    """A benchmark's results file: from this checkout, or (on Colab) from the course repository."""
    for folder in ("../benchmarks/results", "../../benchmarks/results"):  # from notebooks/ or notebooks/student/
        local = Path(folder) / name
        if local.exists():
            return json.loads(local.read_text())
    if config.in_colab():
        with urllib.request.urlopen(f"{REPO}/raw/main/benchmarks/results/{name}") as response:
            return json.loads(response.read())
    raise FileNotFoundError(f"no benchmarks/results/{name}: run this notebook from the course repository")

# %% [markdown]
# ## 1. The gap
#
# Notebook 04 trained a ViT and a small CNN for the same ten minutes on the same images. Its
# benchmark (`python benchmarks/vit_cifar10.py budget`) stored both results:

# %%
budget_rows = {r["name"]: r for r in results("vit_cifar10.json")["rows"] if r["section"] == "budget"}
vit_10, cnn_10 = budget_rows["best-vit"], budget_rows["cnn"]
print(f"ViT (conv stem, {vit_10['params']:,} parameters): {vit_10['test_acc']:.2f} % after {vit_10['epochs']:.1f} epochs")
print(f"small CNN ({cnn_10['params']:,} parameters):      {cnn_10['test_acc']:.2f} % after {cnn_10['epochs']:.1f} epochs")
claim(cnn_10["test_acc"] - vit_10["test_acc"] > 5,
      "with {ratio:.1f}× fewer parameters the CNN wins by {gap:.1f} points at ten minutes",
      ratio=vit_10["params"] / cnn_10["params"], gap=cnn_10["test_acc"] - vit_10["test_acc"])

# %% [markdown]
# A convolution assumes that nearby pixels belong together and that a pattern means the same
# wherever it appears. A ViT with a plain patch embedding assumes neither: it must learn them
# from data, and 45,000 images are few for that. (Notebook 04's ViT, our student, keeps a small
# convolutional stem, so it has a little locality built in; the rest is attention.) DeiT's idea (Touvron et al., 2021): let a network that *has* those
# assumptions, a CNN, label the training images for the ViT. The student then learns from the
# labels **and** from the teacher's answers on each augmented image, answers that carry the
# CNN's sense of what looks alike.
#
# ## 2. The teacher
#
# A strong teacher that trains in minutes on a CPU follows the CIFAR-10 speed-run literature
# (airbench, hlb-CIFAR10): a first convolution whose filters are **fixed** to whiten 2×2 patches
# (computed from the data, never trained), three groups of two 3×3 convolutions with batch norm
# and max pooling, a scaled linear head; SGD with Nesterov momentum, a large learning rate with
# warm-up and decay, label smoothing, crop and flip, and bfloat16 with channels-last memory
# where the CPU computes them natively. `course_utils.cnn.FastCNN` is that network; the
# committed weights come from `python -m course_utils.recipes cnn-teacher` (16 epochs, its
# benchmark row below; that benchmark, `python benchmarks/distill_cifar10.py teacher`, runs
# the same recipe). At test time we average its logits over each image and its mirror image:
# flip **test-time augmentation** (TTA). The file stores the weights in bfloat16, so its
# accuracy, measured here, differs from the training run's in the second decimal.

# %%
test_set = data.load_cifar10("test", per_class=config.pick(None, 20))
test_loader = data.make_loader(test_set, 500)
print(f"test {len(test_set):,} images ({test_set.source})")

teacher, teacher_meta = cnn.load_teacher(url=f"{REPO}/raw/main/data/checkpoints/cnn_teacher.pt")
teacher_row = next(r for r in results("distill_cifar10.json")["rows"] if r["kind"] == "teacher")


@torch.no_grad()
def predictions(model, loader, tta=False):
    """Class predictions (N,) and logits (N, K) of ``model`` over ``loader``."""
    model.eval()
    logits = torch.cat([model.predict_tta(x) if tta else model(x) for x, _ in loader])
    return logits.argmax(-1), logits


targets = torch.cat([y for _, y in test_loader])
teacher_pred, teacher_logits = predictions(teacher, test_loader, tta=True)
teacher_acc = 100 * (teacher_pred == targets).float().mean().item()
print(f"FastCNN {vit.count_parameters(teacher):,} parameters, trained {teacher_row['epochs']} epochs in "
      f"{teacher_row['train_seconds'] / 60:.1f} minutes on 2 CPU cores (benchmark: {teacher_row['test_acc']:.2f} %)")
print(f"test accuracy of the committed weights, measured now: {teacher_acc:.2f} % (flip TTA)")
claim(teacher_acc >= 90 and teacher_row["train_seconds"] < 20 * 60,
      "the teacher, trained in {minutes:.1f} minutes (under 20) on two CPU cores, scores {acc:.2f} % (at least 90 %)",
      minutes=teacher_row["train_seconds"] / 60, acc=teacher_acc)

# %% [markdown]
# ## 3. The student: two tokens, two heads
#
# DeiT's student is notebook 04's ViT with one more learned token. The **class token** feeds a
# head trained on the true labels; the **distillation token** feeds a second head trained on the
# teacher's answers. Both tokens attend to the patches and to each other in every block. At
# inference the two heads' logits are averaged (the DeiT paper adds the two heads' softmax
# outputs; its code, like ours, averages the logits).
#
# First by hand, on a tiny ViT: where the tokens go and what each head reads.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
tiny = vit.ViT(image_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=2, mlp_dim=64)
dist_token = torch.nn.Parameter(torch.randn(1, 1, 32) * 0.02)  # (1, 1, D): one more learned vector
head_dist = torch.nn.Linear(32, 10)  # the distillation head

images = torch.randn(4, 3, 16, 16)
tokens = tiny.tokens(images)  # (B, 1 + N, D): CLS, then 16 patches with positions
tokens = torch.cat([tokens[:, :1], dist_token.expand(4, -1, -1), tokens[:, 1:]], dim=1)  # (B, 2 + N, D)
out = tiny.encoder(tokens)  # (B, 2 + N, D)
cls_logits, dist_logits = tiny.head(out[:, 0]), head_dist(out[:, 1])  # (B, K) each
print("tokens in:", tuple(tokens.shape), "| class head:", tuple(cls_logits.shape), "| distillation head:",
      tuple(dist_logits.shape))

# %% [markdown]
# `course_utils.distill.DistilledViT` is the tested version; with the same weights it computes
# the same two heads.

# %%
# NBVAL_CHECK_OUTPUT
student = distill.DistilledViT(image_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=2, mlp_dim=64)
student.vit.load_state_dict(tiny.state_dict())
with torch.no_grad():
    student.dist_token.copy_(dist_token)
    student.head_dist.load_state_dict(head_dist.state_dict())
    cls_t, dist_t = student.heads(images)
gap = max((cls_t - cls_logits).abs().max().item(), (dist_t - dist_logits).abs().max().item())
claim(gap < 1e-5, "the tested DistilledViT computes the same two heads as the cells above (largest gap {gap:.1e})",
      exact=True, gap=gap)
extra = vit.count_parameters(student) - vit.count_parameters(tiny)
claim(extra == 32 + 32 * 10 + 10, "the distillation token costs {extra:,} parameters: one token (32) and one head "
      "(32 × 10 + 10)", exact=True, extra=extra)

# %% [markdown]
# ## 4. Soft and hard distillation
#
# The teacher's logits $z_t$, the student's class and distillation logits $z_c$, $z_d$, the
# label $y$, cross-entropy CE, and the Kullback-Leibler divergence KL(p ‖ q) = Σ p log(p / q),
# which is zero when the student's distribution q equals the teacher's p and grows as they
# differ. The temperature τ divides the logits before the softmax; α weighs the two terms:
#
# - **soft**: $(1-\alpha)\,\mathrm{CE}(z_c, y) + \alpha\,\tau^2\,\mathrm{KL}\big(\mathrm{softmax}(z_t/\tau)\,\|\,\mathrm{softmax}(z_d/\tau)\big)$:
#   the distillation head matches the teacher's whole distribution, softened by a temperature τ
#   (DeiT tried soft distillation on the class token; putting it on the distillation token, as
#   here, is this course's variant);
# - **hard**: $\tfrac12\,\mathrm{CE}(z_c, y) + \tfrac12\,\mathrm{CE}(z_d, \arg\max z_t)$: the
#   distillation head learns the teacher's answer as if it were a label (DeiT's choice).
#
# What the temperature does to the teacher's answers, on the four test images where its second
# choice is strongest (the clearer its runner-up, the more a softened answer says):

# %%
top2 = teacher_logits.softmax(-1).topk(2, dim=-1).values  # (N, 2)
show = top2[:, 1].topk(4).indices
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2), sharey=True)
for ax, i in zip(axes, show):
    for tau, colour in ((1, "tab:blue"), (3, "tab:orange"), (10, "tab:green")):
        ax.plot(range(10), (teacher_logits[i] / tau).softmax(-1), "o-", color=colour, label=f"τ = {tau}")
    ax.set_title(f"true: {test_set.classes[targets[i]]}", fontsize=11)
    ax.set_xticks(range(10), test_set.classes, rotation=90, fontsize=9)
axes[0].set_ylabel("teacher's probability")
axes[-1].legend(fontsize=10)
fig.suptitle("the teacher's answer softened by a temperature τ", fontsize=12)
fig.tight_layout()

# %%
entropy = lambda logits, tau: -((logits / tau).log_softmax(-1).exp() * (logits / tau).log_softmax(-1)).sum(-1)  # noqa: E731
h1, h3 = entropy(teacher_logits, 1).mean().item(), entropy(teacher_logits, 3).mean().item()
claim(h3 > h1, "softening spreads the teacher's answers: mean entropy {h1:.2f} nats at τ = 1, {h3:.2f} at τ = 3 "
      "(uniform: {uniform:.2f})", h1=h1, h3=h3, uniform=float(np.log(10)))

# %% [markdown]
# Entropy, −Σ p log p, measures how spread out a distribution is (in nats with the natural
# log): 0 for a certain answer, log 10 ≈ 2.30 for ten equal classes.
#
# The hard loss, written out on a small batch, against `distill.DistillationLoss` (what the
# benchmark trains with). The soft loss you will write yourself in exercise 2.

# %%
# NBVAL_CHECK_OUTPUT
g = torch.Generator().manual_seed(3)
z_c, z_d, z_t = (torch.randn(6, 10, generator=g) for _ in range(3))
y = torch.randint(0, 10, (6,), generator=g)
tau, alpha = 3.0, 0.5
hard_by_hand = 0.5 * F.cross_entropy(z_c, y) + 0.5 * F.cross_entropy(z_d, z_t.argmax(-1))
output = (0.5 * (z_c + z_d), z_c, z_d, z_t)  # what a Distiller returns in training mode
hard = distill.DistillationLoss("hard")(output, y)
soft = distill.DistillationLoss("soft", tau=tau, alpha=alpha)(output, y)
gap = abs(hard - hard_by_hand).item()
print(f"hard {hard.item():.4f}, soft {soft.item():.4f} (τ = {tau:g}, α = {alpha:g})")
claim(gap < 1e-5, "DistillationLoss's hard loss equals the one written out (gap {gap:.1e})", exact=True, gap=gap)

# %% [markdown]
# During training, `distill.Distiller` holds the student and the frozen teacher: the teacher
# sees every augmented batch the student sees (its forward pass is paid for inside the
# student's time budget). In evaluation mode only the student runs. Is DeiT a hybrid? Count
# the teacher's calls at inference:

# %%
# NBVAL_CHECK_OUTPUT
calls = {"teacher": 0}
hook = teacher.register_forward_hook(lambda *_: calls.__setitem__("teacher", calls["teacher"] + 1))
pair = distill.Distiller(distill.DistilledViT(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2,
                                              mlp_dim=64), teacher)
x = torch.randn(2, 3, 32, 32)
pair.train()
_ = pair(x)
during_training = calls["teacher"]
pair.eval()
_ = pair(x)
hook.remove()
claim(during_training == 1 and calls["teacher"] == 1,
      "the teacher runs once per training batch and {at_inference} times at inference: the deployed model is the ViT "
      "alone, not a hybrid", exact=True, at_inference=calls["teacher"] - during_training)

# %% [markdown]
# ## 5. Ten minutes, three ways, two seeds
#
# `benchmarks/distill_cifar10.py` trains notebook 04's ten-minute ViT (conv stem, 16 tokens,
# 192 wide, 6 blocks; AdamW, a cosine that ends with the budget, crop + flip, label smoothing,
# bfloat16) three ways, for ten minutes of wall-clock time each on two CPU cores, with seeds 0
# and 1: from scratch, with soft distillation (τ = 3, α = 0.5) and with hard distillation, the
# teacher pretrained (its 15 minutes are not in the students' budget). Same data, same splits
# (45,000 training images; 5,000 held out for validation; the test set only reported).
#
#     python benchmarks/distill_cifar10.py student --kind scratch|soft|hard --minutes 10 --seed 0|1
#
# On a GPU the same ten minutes buy many more epochs: numbers there will differ. The scratch
# row is notebook 04's recipe run again beside the students, on the same day: it got fewer
# epochs than the row printed in section 1, which was measured on another day. A time budget
# measures the machine too, which is why the baseline is rerun rather than quoted.

# %%
rows = [r for r in results("distill_cifar10.json")["rows"]
        if r["kind"] != "teacher" and r["minutes"] == 10 and not r.get("variant")]
kinds = ("scratch", "soft", "hard")
by_kind = {k: sorted((r for r in rows if r["kind"] == k), key=lambda r: r["seed"]) for k in kinds}
print(f"{'student':9s} {'seeds':>6s} {'epochs':>7s} {'val %':>14s} {'test %':>14s} {'mean':>6s} {'spread':>7s}")
stats = {}
for k in kinds:
    val = [r["val_acc"] for r in by_kind[k]]
    test = [r["test_acc"] for r in by_kind[k]]
    stats[k] = {"val": np.mean(val), "test": np.mean(test), "spread": max(test) - min(test),
                "epochs": np.mean([r["epochs"] for r in by_kind[k]])}
    print(f"{k:9s} {len(val):6d} {stats[k]['epochs']:7.1f} {', '.join(f'{v:.2f}' for v in val):>14s} "
          f"{', '.join(f'{t:.2f}' for t in test):>14s} {stats[k]['test']:6.2f} {stats[k]['spread']:7.2f}")
print(f"teacher alone: {teacher_row['test_acc']:.2f} % (flip TTA)")

fig, ax = plt.subplots(figsize=(7.5, 3.8))
for i, k in enumerate(kinds):
    tests = [r["test_acc"] for r in by_kind[k]]
    ax.plot(i, np.mean(tests), "_", color="black", markersize=30, mew=2, label="mean of the seeds" if i == 0 else None)
    ax.plot(i + np.linspace(-0.08, 0.08, len(tests)), tests, "o", color="tab:red", label="one seed" if i == 0 else None)
ax.axhline(teacher_acc, color="tab:blue", linestyle="--", label=f"teacher {teacher_acc:.1f} % (TTA)")
ax.set_xticks(range(3), ["from scratch", "soft distillation", "hard distillation"], fontsize=11)
ax.set(xlim=(-0.5, 2.5), ylim=(60, 100), ylabel="test accuracy (%)",
       title="ViT students, 10 minutes on 2 CPU cores (axis from 60 %)")
ax.legend(loc="center right", fontsize=10)
fig.tight_layout()

# %% [markdown]
# Which distillation is kept is decided on validation accuracy (never on the test set), and a
# difference counts only when it is larger than the spread between seeds:

# %%
best = max(("soft", "hard"), key=lambda k: stats[k]["val"])
other = "soft" if best == "hard" else "hard"
spread = max(stats[k]["spread"] for k in kinds)
gains = {k: stats[k]["test"] - stats["scratch"]["test"] for k in ("soft", "hard")}
print(f"chosen on validation: {best} ({stats[best]['val']:.2f} % vs {stats[other]['val']:.2f} %)")
print(f"gain over scratch (test, mean of 2 seeds): soft {gains['soft']:+.2f}, hard {gains['hard']:+.2f} points; "
      f"largest seed spread {spread:.2f}")
claim(all(g < -spread for g in gains.values()),
      "at ten minutes, with τ = 3 and α = 0.5, both distilled students score below the ViT from scratch, by more than "
      "the seeds' spread: soft {soft:+.2f}, hard {hard:+.2f} points (spread {spread:.2f})",
      soft=gains["soft"], hard=gains["hard"], spread=spread)
claim(all(stats[k]["epochs"] < stats["scratch"]["epochs"] for k in ("soft", "hard")),
      "the teacher's forward pass costs the students epochs: {soft:.1f} (soft) and {hard:.1f} (hard) instead of "
      "{scratch:.1f} in the same ten minutes", soft=stats["soft"]["epochs"], hard=stats["hard"]["epochs"],
      scratch=stats["scratch"]["epochs"])

# %% [markdown]
# The lecture's promise does not hold at this budget, and that is worth understanding. These
# rows ran one after another on the same machine, the same day; the same scratch recipe on
# another day gave the 74.42 % of section 1, a larger difference than any seed spread here, so
# only rows run together can be compared. (We did not tune τ or α: the negative result is for
# τ = 3 and α = 0.5.)
#
# DeiT's gains were measured after 300 epochs on ImageNet, with heavy augmentation (RandAugment,
# Mixup, CutMix); in the DeiT paper most of the improvement over the original ViT comes from that recipe, and
# distillation added one or two points on top. Our students see the data eight to ten times,
# with crop and flip only. Are they memorising anything yet? Compare the scratch student (seed
# 0, committed below) on 5,000 of its own training images (no augmentation) and on the test set:

# %%
scratch_model, scratch_meta = distill.load_student(
    CHECKPOINTS / "students" / "vit_scratch_10min.pt", url=f"{REPO}/raw/main/data/checkpoints/students/vit_scratch_10min.pt")
seen = data.train_val_split(data.load_cifar10("train", per_class=config.pick(None, 100)),
                            val_per_class=config.pick(500, 10))[0]
seen = seen.subset(data.stratified_indices(seen.targets, config.pick(500, 10)))  # 5,000 training images
_, train_acc = train.evaluate(scratch_model, data.make_loader(seen, 500))
_, test_acc_scratch = train.evaluate(scratch_model, test_loader)
print(f"scratch ViT, seed 0: {100 * train_acc:.2f} % on training images it learned from, "
      f"{100 * test_acc_scratch:.2f} % on test images")
claim(100 * (train_acc - test_acc_scratch) < 10,
      "after ten minutes the ViT is still far from memorising: {train:.1f} % on its training images, {test:.1f} % on "
      "the test set (a gap of {gap:.1f} points)", train=100 * train_acc, test=100 * test_acc_scratch,
      gap=100 * (train_acc - test_acc_scratch))

# %% [markdown]
# Our guesses, not measured here: a student that is still *under*-fitting gains little from a
# better teacher of the same images, since what limits it is the number of steps, and every
# step now also pays for the teacher's forward pass. And with crop and flip only, the teacher's
# answer on an augmented image is almost always the true label, so hard distillation mostly
# repeats the cross-entropy; DeiT's teacher helps most when heavy augmentation makes the true
# label wrong for the augmented image. Distillation should pay off with longer training and
# stronger augmentation, or with the teacher's answers computed once per image.
# %% [markdown]
# ## 6. What the student inherits
#
# Equal accuracy could still hide a student that learned the teacher's way of seeing. The
# benchmark kept seed 0's students; the scratch one and the distilled one chosen above are
# committed in bfloat16 (which is why they score 72.01 % and 71.24 % here, a hair from the runs'
# 71.93 % and 71.26 %). We compare them with the teacher (with flip TTA) on every test image.

# %%
distilled_model, distilled_meta = distill.load_student(
    CHECKPOINTS / "students" / f"vit_{best}_10min.pt", url=f"{REPO}/raw/main/data/checkpoints/students/vit_{best}_10min.pt")
scratch_pred, _ = predictions(scratch_model, test_loader)
distilled_pred, _ = predictions(distilled_model, test_loader)
acc = lambda pred: 100 * (pred == targets).float().mean().item()  # noqa: E731
agree = lambda a, b: 100 * (a == b).float().mean().item()  # noqa: E731
print(f"test accuracy: scratch {acc(scratch_pred):.2f} %, {best}-distilled {acc(distilled_pred):.2f} %, "
      f"teacher {acc(teacher_pred):.2f} %")
print(f"agreement with the teacher: scratch {agree(scratch_pred, teacher_pred):.2f} %, "
      f"distilled {agree(distilled_pred, teacher_pred):.2f} %")
claim(agree(distilled_pred, teacher_pred) <= agree(scratch_pred, teacher_pred) + 1,
      "after ten minutes the distilled ViT agrees with its teacher no more than the scratch ViT: it agrees with the "
      "teacher on {d:.1f} % of the test images, the scratch ViT on {s:.1f} %", d=agree(distilled_pred, teacher_pred), s=agree(scratch_pred, teacher_pred))

# %% [markdown]
# Agreement on right answers is expected from any good model. A sharper test is the teacher's
# **mistakes**: on the test images the teacher gets wrong, how often does a student give the
# *same wrong* answer? A student that learned from the teacher should copy them more often than
# one that never saw it, so the scratch ViT is the baseline here.

# %%
wrong = teacher_pred != targets
same_wrong = lambda pred: 100 * (pred[wrong] == teacher_pred[wrong]).float().mean().item()  # noqa: E731
print(f"the teacher is wrong on {int(wrong.sum()):,} test images")
print(f"  scratch ViT gives the teacher's wrong answer on {same_wrong(scratch_pred):.1f} % of them")
print(f"  distilled ViT gives it on {same_wrong(distilled_pred):.1f} %")
claim(same_wrong(scratch_pred) > 30 and same_wrong(distilled_pred) <= same_wrong(scratch_pred) + 2,
      "even the ViT that never saw the teacher repeats {s:.1f} % of the teacher's {n:,} mistakes, and the distilled "
      "one no more ({d:.1f} %): no sign yet of learning the teacher",
      d=same_wrong(distilled_pred), s=same_wrong(scratch_pred), n=int(wrong.sum()))

# %% [markdown]
# Per class: does the teacher help anywhere?

# %%
classes = test_set.classes
per_class = {name: [100 * (pred[targets == k] == k).float().mean().item() for k in range(10)]
             for name, pred in (("scratch ViT", scratch_pred), (f"{best}-distilled ViT", distilled_pred),
                                ("CNN teacher", teacher_pred))}
fig, ax = plt.subplots(figsize=(10, 3.8))
width = 0.27
for j, (name, accs) in enumerate(per_class.items()):
    ax.bar(np.arange(10) + (j - 1) * width, accs, width, label=name)
ax.set_xticks(range(10), classes, fontsize=10)
ax.set(ylabel="test accuracy (%)", ylim=(0, 115), yticks=range(0, 101, 20), title="accuracy per class")
ax.legend(loc="upper center", fontsize=10, ncols=3)
fig.tight_layout()
gains = np.array(per_class[f"{best}-distilled ViT"]) - np.array(per_class["scratch ViT"])
print("gain per class (points):", ", ".join(f"{c} {g:+.1f}" for c, g in zip(classes, gains)))
worst = int(np.abs(gains).argmax())
claim(np.abs(gains).max() < 3, "no class moves by 3 points or more (largest change: {name} {g:+.1f}); "
      "{n} of 10 classes go up", name=classes[worst], g=float(gains[worst]), n=int((gains > 0).sum()))

# %% [markdown]
# (Our guess for why the scratch ViT shares so many of the teacher's mistakes: the hardest
# images, a cat that looks like a dog, fool both the same way.)
#
# And inside the student: the two heads are trained on different targets. How often do they
# agree, and which one is closer to the teacher? (`distill.head_agreement` compares with the
# teacher without TTA, the one the students were trained against: 92.12 %.)

# %%
stats_heads = distill.head_agreement(distilled_model, teacher, test_loader)
print(f"the two heads agree on {100 * stats_heads['heads']:.1f} % of test images")
print(f"class head: {100 * stats_heads['acc_cls']:.2f} % correct, agrees with the teacher on "
      f"{100 * stats_heads['cls_teacher']:.1f} %")
print(f"distillation head: {100 * stats_heads['acc_dist']:.2f} % correct, agrees with the teacher on "
      f"{100 * stats_heads['dist_teacher']:.1f} %")
claim(stats_heads["heads"] > 0.95 and abs(stats_heads["dist_teacher"] - stats_heads["cls_teacher"]) < 0.01,
      "the two heads agree on {h:.1f} % of the images, and the head trained on the teacher is no closer to it (within "
      "1 point) than the head trained on the labels ({d:.1f} % vs {c:.1f} %): the two tokens have not yet specialised",
      h=100 * stats_heads["heads"], d=100 * stats_heads["dist_teacher"], c=100 * stats_heads["cls_teacher"])

# %% [markdown]
# ## 7. Where do they look?
#
# Attention rollout (notebook 04): multiply the blocks' attention matrices, each with the
# identity added for the skip connection, to follow how much of the class token's final value
# comes from each patch. For the scratch ViT (top row) and the distilled one (bottom row), on
# the same test images; brighter means more. With a conv stem of patch 8 each map is 4 × 4.

# %%
picked = torch.stack([(targets == k).nonzero()[0, 0] for k in range(10)])[:8]  # one test image per class
x = data.normalize(test_set.images[picked], data.CIFAR10_MEAN, data.CIFAR10_STD)


def rollout_maps(model, images, first_patch):
    """Rollout from the class token to the patches: (B, h, w), each map summing to one."""
    maps = model.attention_maps(images)
    side = int((maps[0].shape[-1] - first_patch) ** 0.5)
    r = vit.attention_rollout(maps)[:, 0, first_patch:]
    return (r / r.sum(-1, keepdim=True)).reshape(-1, side, side)


r_scratch, r_distilled = rollout_maps(scratch_model, x, 1), rollout_maps(distilled_model, x, 2)
titles = [f"{classes[targets[k]]}\nscratch" for k in picked] + [f"{classes[targets[k]]}\ndistilled" for k in picked]
fig = viz.attention_overlay(torch.cat([test_set.images[picked]] * 2), torch.cat([r_scratch, r_distilled]), titles,
                            ncols=8, size=2.0)
for ax in fig.axes:
    ax.title.set_fontsize(10)
fig.subplots_adjust(hspace=0.45)

# %% [markdown]
# Pictures of eight images prove little. Measure over 2,000 test images instead. Assuming
# CIFAR-10's objects sit mostly in the middle of the frame (a guess about the dataset, not
# measured here), count the share of the rollout on the
# central 2 × 2 of the 4 × 4 tokens (a quarter of the image), and the entropy of each map
# (spread out: high; concentrated: low).

# %%
@torch.no_grad()
def rollout_stats(model, first_patch, limit=2000):
    central, ent = [], []
    for images, _ in data.make_loader(test_set.subset(torch.arange(min(limit, len(test_set)))), 250):
        r = rollout_maps(model, images, first_patch)  # (B, 4, 4)
        central.append(r[:, 1:3, 1:3].sum((1, 2)))
        ent.append(-(r * r.clamp_min(1e-12).log()).sum((1, 2)))
    return 100 * torch.cat(central).mean().item(), torch.cat(ent).mean().item()


(c_s, e_s), (c_d, e_d) = rollout_stats(scratch_model, 1), rollout_stats(distilled_model, 2)
print(f"share of rollout on the central quarter: scratch {c_s:.1f} %, distilled {c_d:.1f} % (uniform: 25 %)")
print(f"entropy of the rollout map: scratch {e_s:.2f} nats, distilled {e_d:.2f} (uniform over 16: {np.log(16):.2f})")
claim(max(abs(c_s - 25), abs(c_d - 25)) < 5 and min(e_s, e_d) > 0.9 * np.log(16),
      "neither ViT's rollout singles out the centre: the central quarter gets {c_s:.1f} % (scratch) and {c_d:.1f} % "
      "(distilled), against 25 % for an even spread, and the maps' entropies ({e_s:.2f}, {e_d:.2f} nats) sit near the "
      "even spread's {h:.2f}", c_s=c_s, c_d=c_d, e_s=e_s, e_d=e_d, h=float(np.log(16)))

# %% [markdown]
# So the pictures above should be read with care: after ten minutes, with 16 coarse tokens and
# the skip connections counted in, the rollout of both students is close to an even spread, and
# the teacher has not changed where the student looks. (A guess: the longer-trained ViT of
# notebook 04, with 64 tokens, is the better place to look for attention on objects.)

# %% [markdown]
# ## 8. Three tricks from the small-data literature
#
# Other work makes the ViT itself better suited to small datasets. `course_utils.small_data`
# holds three, each one switch of the course ViT:
# - **shifted patch tokenization** (SPT, Lee et al., 2021): the image and four copies shifted
#   diagonally by half a patch go into the stem together, so each token sees across its borders;
# - **locality self-attention** (LSA, same paper): no token attends to itself, and softmax's
#   temperature is learned;
# - **sequence pooling** (CCT, Hassani et al., 2021): the head reads a learned weighted average
#   of the output tokens instead of the class token.
#
# What SPT feeds the stem, for one image (shifts of 4 pixels, half of an 8-pixel patch):

# %%
spt_in = small_data.ShiftedPatches(4)(test_set.images[picked[:1]].float() / 255)  # (1, 15, 32, 32), in [0, 1]
fig, axes = plt.subplots(1, 5, figsize=(10, 2.4))
for ax, i, name in zip(axes, range(5), ("original", "left-up", "right-up", "left-down", "right-down")):
    ax.imshow(spt_in[0, 3 * i:3 * i + 3].permute(1, 2, 0).numpy())
    ax.set_title(name, fontsize=11)
    ax.axis("off")
fig.tight_layout()

# %% [markdown]
# This notebook does not measure whether they help: each costs little (SPT four more images'
# worth of input channels in the stem, LSA one number per block, SeqPool one linear layer), but
# a trick is kept only when a ladder shows it beating the seeds' spread. The course's ladder,
# `python benchmarks/distill_cifar10.py ladder --kind soft --minutes 10 --seeds 0 1`, tries them
# one rung at a time (two seeds per rung: six ten-minute runs for the three rungs) and reuses
# the rows above as its base.

# %% [markdown]
# ## 9. Exercises
#
# **Predict, then run**: write your prediction first, then run the checker, which measures and
# shows how far off you were. **Implement**: write the function; the checker names the mistake
# it spots. **Experiment**: change one thing, measure, say in one sentence what you found.
#
# **Exercise 1 (predict).** A teacher gives the logits
# z = (6, 3, 1, 0, 0, −1, −1, −2, −2, −3) for the ten classes; softmax(z) puts 0.94 on the top
# class. What probability does softmax(z / 3), the teacher at τ = 3, put on it?

# %% tags=["solution", "prediction"]
top_probability_at_tau_3 = 0.5

# %%
# NBVAL_CHECK_OUTPUT
checks.check_temperature_prediction(top_probability_at_tau_3)

# %% [markdown]
# **Exercise 2 (implement).** Write `my_soft_loss(student_logits, teacher_logits, tau)`: both
# (B, K); return the soft distillation term τ²·KL(softmax(teacher/τ) ‖ softmax(student/τ)),
# summed over classes and averaged over the batch (a scalar).

# %% tags=["solution"]
def my_soft_loss(student_logits, teacher_logits, tau):
    log_p_teacher = (teacher_logits / tau).log_softmax(-1)
    log_p_student = (student_logits / tau).log_softmax(-1)
    return tau**2 * (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(-1).mean()

# %%
# NBVAL_CHECK_OUTPUT
checks.check_soft_distillation_loss(my_soft_loss)

# %% [markdown]
# **Exercise 3 (experiment).** Why the factor τ²? The function `gradient_norm(tau)` below
# measures the gradient of the soft loss *without* that factor, with respect to the student's
# logits. Call it at τ = 1 and at τ = 4; set `gradient_ratio` to the first divided by the
# second, and `why_tau_squared` to one sentence on what it means for training.

# %%
g = torch.Generator().manual_seed(11)
s_logits = (torch.randn(8, 10, generator=g) * 2).requires_grad_(True)
t_logits = torch.randn(8, 10, generator=g) * 2


def gradient_norm(tau):
    """Norm of d(soft loss / τ²)/d(student logits): change nothing here, call it with two temperatures."""
    s_logits.grad = None
    output = (None, s_logits.detach(), s_logits, t_logits)  # α = 1: only the distillation term counts
    loss = distill.DistillationLoss("soft", tau=tau, alpha=1.0)(output, torch.zeros(8, dtype=torch.long))
    (loss / tau**2).backward()
    return s_logits.grad.norm().item()


print(f"τ = 1: {gradient_norm(1.0):.4f}")

# %% tags=["solution"]
def norm_without_tau_squared(tau):
    """gradient_norm above, written out in one piece: the KL term alone, then the gradient's norm."""
    rng = torch.Generator().manual_seed(11)  # the same logits as above
    s = (torch.randn(8, 10, generator=rng) * 2).requires_grad_(True)
    t = torch.randn(8, 10, generator=rng) * 2
    kl = F.kl_div(F.log_softmax(s / tau, -1), F.log_softmax(t / tau, -1), reduction="batchmean", log_target=True)
    kl.backward()
    return s.grad.norm().item()


gradient_ratio = norm_without_tau_squared(1.0) / norm_without_tau_squared(4.0)
why_tau_squared = "without tau squared the soft targets' gradient shrinks about 1/tau^2, so the teacher would fade"

# %%
# NBVAL_CHECK_OUTPUT
checks.check_tau_squared_experiment(gradient_ratio, why_tau_squared)

# %% [markdown]
# ## Summary
#
# - A ViT on 45,000 images lacks the CNN's assumptions (locality, translation). DeiT lets a CNN
#   teacher label each augmented image for a second, distillation token; at inference the two
#   heads are averaged and the teacher is gone: the deployed model is a plain ViT.
# - At ten minutes on two CPU cores (section 5, two seeds each, τ = 3, α = 0.5), both soft and
#   hard distillation score below training from scratch, beyond the seeds' spread. The teacher
#   costs the students epochs, and the students still under-fit; our guess is that distillation
#   needs longer training and stronger augmentation to pay, as in DeiT.
# - At this budget the distilled student is no closer to its teacher than a scratch ViT: same
#   agreement, the same share of the teacher's mistakes, two heads that answer alike. Measure
#   inheritance against a baseline: even a ViT that never saw the teacher repeats about half of
#   its mistakes.
#
# **Pitfalls found in the lecture notes.**
# 1. DeiT is cited beside a hybrid model, and notebook 06's first edition called it a hybrid.
#    DeiT's student is a ViT with a plain patch embedding; the CNN only trains it. (Our student
#    keeps notebook 04's small conv stem, a hybrid touch of its own.)
# 2. "DeIT [...] relies on distillation and data augmentation and compute to reduce the size of
#    the training data corpus": all three words matter. With little compute and crop + flip only,
#    as here, the teacher did not help (measured); that long training and heavy augmentation
#    are what it needs is our guess, in line with DeiT's own recipe.
#
# **References.** Touvron et al. (2021), *Training data-efficient image transformers &
# distillation through attention* (DeiT). Hinton, Vinyals & Dean (2015), *Distilling the
# Knowledge in a Neural Network* (soft targets, τ²). Lee, Lee & Song (2021), *Vision Transformer
# for Small-Size Datasets* (SPT, LSA). Hassani et al. (2021), *Escaping the Big Data Paradigm
# with Compact Transformers* (CCT, sequence pooling). Keller Jordan (2024), *94 % on CIFAR-10 in
# 3.29 seconds on a single GPU* (airbench). Abnar & Zuidema (2020) (rollout).
