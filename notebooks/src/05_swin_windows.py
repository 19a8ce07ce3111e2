# %% [markdown]
# # 05 · Swin Transformer: attention in shifted windows
#
# {{COLAB_BADGE}}
#
# **Learning goals.** After this notebook you can
# 1. partition a token map into windows and back, and draw the regular and shifted partitions;
# 2. explain the cyclic shift and build its attention mask, and prove it computes attention
#    in the real, irregular shifted windows;
# 3. explain the relative position bias and why its table has (2M−1)² entries;
# 4. follow the hierarchy that patch merging builds (16×16 → 8×8 → 4×4, channels doubling);
# 5. show how shifting lets information cross windows, and measure what windows save.
#
# **The lecture notes' claims we test here** (Liu et al., 2021, "Swin"; the notes call its
# implementation "out of scope"; here it is, in ~200 tested lines, `course_utils/swin.py`).
# - Attention inside local windows reduces the cost "from O(N²) to O(N)" in the number of patches N.
# - Shifting the windows between layers lets information "propagate" across windows.
# - Merging patches builds a hierarchy, like a CNN's feature pyramid.

# %%
{{COLAB_SETUP}}

import math
import time

import matplotlib.pyplot as plt
import torch

from course_utils import checks, config, data, profiling, swin, train, viz, vit, widgets

config.seed_everything(0)
device = config.get_device()
print(config.summary(device))

# %% [markdown]
# ## 1. Windows over a real image
#
# A 256×256 photograph cut into 16×16-pixel patches is a 16×16 grid of tokens. Swin groups
# the tokens into windows of M×M = 4×4 and computes self-attention only inside each window.
# In the next layer the windows move by M/2 = 2 patches (right figure, the paper's figure 2),
# so tokens that were separated by a window border now share a window.

# %%
photo = data.sample_photo(256)  # (3, 256, 256) uint8
fig, axes = plt.subplots(1, 2, figsize=(9, 4.6))
viz.window_overlay(photo, patch_size=16, window_size=4, shift_size=0, ax=axes[0], title="layer l: 16 windows of 4×4 patches")
viz.window_overlay(photo, patch_size=16, window_size=4, shift_size=2, ax=axes[1], title="layer l+1: windows shifted by 2 patches")
fig.tight_layout()

# %% [markdown]
# Partitioning is two reshapes and a permutation (channels last, as in the paper's code):

# %%
# NBVAL_CHECK_OUTPUT
M = 4
x = torch.arange(16 * 16, dtype=torch.float32).view(1, 16, 16, 1)  # (B, H, W, C): each token holds its index
w = x.view(1, 16 // M, M, 16 // M, M, 1)  # (B, nH, M, nW, M, C): split rows and columns into (window, offset)
w = w.permute(0, 1, 3, 2, 4, 5).reshape(-1, M, M, 1)  # (B·nH·nW, M, M, C): window indices first
print("windows:", tuple(w.shape), "| window 1 holds tokens", w[1, :, :, 0].int().tolist())
print("same as course_utils.swin.window_partition:", torch.equal(w, swin.window_partition(x, M)))
print("window_reverse gives the map back:", torch.equal(swin.window_reverse(w, M, 16, 16), x))

# %% [markdown]
# ## 2. The cyclic shift and its mask
#
# The shifted partition has windows of different sizes at the borders (right figure above):
# 25 windows instead of 16, some of 2×2 or 2×4 tokens. Batching them is awkward, so Swin uses
# a trick: **roll** the whole map by −2 patches (up and left), partition it regularly into 16
# windows of 4×4, and **mask** attention between tokens that were not neighbours before the
# roll. Each token gets a region id: which of 3×3 blocks of the rolled map it came from.

# %%
H = W = 8  # a small map so every token shows
regions = swin.shift_regions(H, W, window_size=4, shift_size=2)  # (H, W): region of each token after the roll
masks = swin.shifted_window_mask(H, W, window_size=4, shift_size=2)  # (4 windows, 16, 16), True = may attend
fig = plt.figure(figsize=(15, 3.8))
grid = fig.add_gridspec(1, 5, width_ratios=[1.2, 1, 1, 1, 1])
viz.region_map(regions, 4, ax=fig.add_subplot(grid[0]))
for i in range(4):
    viz.matrix_heatmap(masks[i].float(), title=f"window {i}", ax=fig.add_subplot(grid[i + 1]),
                       cmap="Greys", vmin=0, vmax=1, xlabel="key", ylabel="query")
fig.suptitle("left: region ids after the roll; right: each window's mask (black = may attend)", y=1.02)
fig.tight_layout()

# %% [markdown]
# Window 0 holds tokens of one region only: no mask needed. Window 1 (top right) mixes two
# regions side by side, window 2 two regions one above the other, window 3 four regions: the
# block patterns of the paper's figure 4.
#
# **Does roll + mask really equal attention in the shifted windows?** We compute it both
# ways for one Swin block: the fast way (`SwinBlock`'s roll, partition, masked attention,
# reverse, unroll) and the slow way, directly on the map without rolling, looping over the 9
# irregular windows of the shifted partition.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
m, s, dim = 4, 2, 8
block = swin.SwinBlock(dim, (H, W), num_heads=2, window_size=m, shift_size=s).eval()
tokens = torch.randn(1, H * W, dim)  # (B, H·W, C)
with torch.no_grad():
    fast = block._attention(tokens)  # shift, partition, attend with the mask, reverse, unshift
    q, k, v = block.attn.qkv(tokens).view(H * W, 3, 2, 4).permute(1, 2, 0, 3)  # each (heads, N, d)
    rows, cols = torch.arange(H * W) // W, torch.arange(H * W) % W
    window_id = ((rows + m - s) // m) * 100 + (cols + m - s) // m  # the shifted, irregular windows
    slow = torch.zeros(2, H * W, 4)
    for wid in window_id.unique():
        idx = torch.nonzero(window_id == wid).flatten()  # tokens of this window
        dr = rows[idx][:, None] - rows[idx][None, :]  # row offsets between its tokens
        dc = cols[idx][:, None] - cols[idx][None, :]
        bias = block.attn.bias_table[(dr + m - 1) * (2 * m - 1) + (dc + m - 1)].permute(2, 0, 1)  # (heads, n, n)
        scores = q[:, idx] @ k[:, idx].transpose(-2, -1) / 2 + bias
        slow[:, idx] = scores.softmax(-1) @ v[:, idx]
    slow = block.attn.proj(slow.transpose(0, 1).reshape(1, H * W, dim))
print(f"{len(window_id.unique())} irregular windows, looped over one by one")
print("roll + mask equals attention in the real shifted windows (to 1e-5):", torch.allclose(fast, slow, atol=1e-5))

# %% [markdown]
# ## 3. Relative position bias
#
# Instead of adding a position to each token, Swin adds a learned bias B to every score:
# softmax(QKᵀ/√d + B)V, where B depends only on the **offset** between query and key.
# Inside an M×M window, row offsets run from −(M−1) to M−1: 2M−1 values, and the same for
# columns, so there are (2M−1)² different offsets, one learned number per offset and head.
# The index table says which entry each (query, key) pair uses:

# %%
# NBVAL_CHECK_OUTPUT
index = swin.relative_position_index(4)  # (16, 16): query i, key j → table entry
print("index:", tuple(index.shape), "| distinct entries used:", len(index.unique()), "= (2·4 − 1)² =", (2 * 4 - 1) ** 2)
print("query 5 (row 1, col 1) vs key 6 (row 1, col 2) uses entry", int(index[5, 6]),
      "; query 9 vs key 10, the same offset, uses", int(index[9, 10]))

# %%
fig = viz.matrix_heatmap(index, title="relative position index, M = 4 (query × key)", xlabel="key", ylabel="query",
                         cmap="viridis", annotate=True, fmt=".0f", size=6)

# %% [markdown]
# The diagonal stripes are the point: every pair with the same offset reads the same bias, so
# the bias is translation-invariant inside the window, and shared by all windows.
#
# ## 4. The hierarchy: patch merging
#
# Between stages, each 2×2 group of neighbouring tokens is concatenated (4C channels),
# normalised and projected to 2C: the map halves in each direction and the channels double,
# like a CNN's stride-2 stage. The course's tiny Swin for CIFAR-10's 32×32 images:

# %%
# NBVAL_CHECK_OUTPUT
model = swin.SwinTransformer(image_size=32, patch_size=2, embed_dim=48, depths=(2, 2, 2), num_heads=(3, 6, 12), window_size=4)
x = torch.randn(2, 3, 32, 32)
t = model.norm_in(model.patch_embed(x))
side = 16
print(f"patch embedding: {tuple(t.shape)} = a {side}x{side} map of {t.shape[-1]} channels")
for i, stage in enumerate(model.stages):
    t = stage(t)
    side = int(t.shape[1] ** 0.5)
    print(f"after stage {i + 1}:     {tuple(t.shape)} = a {side}x{side} map of {t.shape[-1]} channels")
print(f"logits: {tuple(model(x).shape)}; parameters: {vit.count_parameters(model):,}")

# %% [markdown]
# (The last stage's map is 4×4, no larger than a window: one window covers it, and that
# stage's "shifted" block does not shift, as in the reference implementation.)
#
# ## 5. How information travels between windows
#
# Take a stack of Swin blocks on a 16×16 map with 4×4 windows. How much does the output at
# one token depend on each input token? We measure the gradient of that output with respect
# to every input token, after 1, 2 and 4 blocks, with and without shifting.

# %%
def influence(num_blocks: int, shifted: bool, query=(6, 6), side=16, dim=16, seed=0) -> torch.Tensor:
    """|∂ output[query] / ∂ input[token]|, summed over channels: a (side, side) map."""
    torch.manual_seed(seed)
    blocks = torch.nn.Sequential(*[swin.SwinBlock(dim, (side, side), num_heads=2, window_size=4,
                                                  shift_size=2 if (shifted and i % 2 == 1) else 0)
                                   for i in range(num_blocks)])
    x = torch.randn(1, side * side, dim, requires_grad=True)
    blocks(x)[0, query[0] * side + query[1]].sum().backward()
    return x.grad[0].abs().sum(-1).view(side, side)


fig, axes = plt.subplots(2, 3, figsize=(11, 7))
for row, shifted in enumerate([False, True]):
    for col, n in enumerate([1, 2, 4]):
        g = influence(n, shifted)
        reach = int((g > 1e-6 * g.max()).sum())
        ax = axes[row, col]
        ax.imshow((g / g.max()).numpy() ** 0.3, cmap="magma")  # a power < 1 to show small influences
        ax.scatter([6], [6], marker="*", s=120, color="cyan")
        for k in range(0, 17, 4):
            ax.axhline(k - 0.5, color="white", lw=0.6)
            ax.axvline(k - 0.5, color="white", lw=0.6)
        ax.set(xticks=[], yticks=[], title=f"{n} block(s), {'shifted' if shifted else 'no shift'}: {reach} tokens reach it")
fig.tight_layout()

# %% [markdown]
# Without shifting, the output at the star depends on its own window's 16 tokens, however
# many blocks are stacked: windows never talk. With the shift, every second block's windows
# straddle the old borders and the region of influence grows, block after block. (Patch
# merging speeds it up further: after merging, a window covers twice the image in each direction.)
#
# ## 6. The cost: linear instead of quadratic
#
# The paper counts, for one attention layer on an h×w map with C channels (multiply-adds):
#
# $$\Omega(\text{global}) = 4hwC^2 + 2(hw)^2C, \qquad \Omega(\text{window}) = 4hwC^2 + 2M^2hwC$$
#
# The first term (the q, k, v and output projections) is the same; the second grows with
# (hw)² globally but only with hw in windows. Measured (forward pass, C = 48, 3 heads,
# M = 4, written-out attention in both cases, in a fresh process; `benchmarks/swin_cost.py`
# measures the same):

# %%
# NBVAL_IGNORE_OUTPUT: timings vary from machine to machine and run to run
sides = [8, 16, 32, 64] if not config.smoke_mode() else [8, 16]
rows = profiling.window_cost(sides, dim=48, num_heads=3, window_size=4, fresh_process=True)
print(f"{'map':>7} {'tokens':>7} {'global ms':>10} {'window ms':>10} {'global MB':>10} {'window MB':>10} "
      f"{'paper: global / window':>23}")
for r in rows:
    ratio = swin.attention_flops(r["side"], r["side"], 48) / swin.attention_flops(r["side"], r["side"], 48, 4)
    print(f"{r['side']:>3}x{r['side']:<3} {r['tokens']:7d} {1e3 * r['global_s']:10.2f} {1e3 * r['window_s']:10.2f} "
          f"{r['global_bytes'] / 1e6:10.1f} {r['window_bytes'] / 1e6:10.1f} {ratio:23.1f}")

# %%
tokens_n = [r["tokens"] for r in rows]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
ax1.loglog(tokens_n, [r["global_s"] for r in rows], "o-", label="global (measured)")
ax1.loglog(tokens_n, [r["window_s"] for r in rows], "s-", label="windows (measured)")
ax1.set(xlabel="tokens hw", ylabel="seconds (forward)", title="time")
ax2.loglog(tokens_n, [swin.attention_flops(r["side"], r["side"], 48) for r in rows], "o--", label="global (paper's count)")
ax2.loglog(tokens_n, [swin.attention_flops(r["side"], r["side"], 48, 4) for r in rows], "s--", label="windows (paper's count)")
ax2.set(xlabel="tokens hw", ylabel="multiply-adds", title="the paper's counts: slopes 2 and 1")
for ax in (ax1, ax2):
    ax.grid(alpha=0.3, which="both")
    ax.legend()
fig.tight_layout()

# %% [markdown]
# The notes' claim holds, with a qualification: the cost is linear in N **for a fixed window
# size M**; the constant grows with M². And for small maps the projections dominate, so the
# saving only shows from a few hundred tokens on.
#
# ## 7. Training the tiny Swin on CIFAR-10 (bounded)
#
# Two epochs of the tiny Swin on the full training set, about 4 minutes on two CPU cores
# (training stops after 5 minutes whatever happens), scored on the 10,000 test images. A longer comparison with the ViTs of notebook 04, at the
# same 10-minute budget, is `benchmarks/swin_cifar10.py`.

# %%
config.seed_everything(0)
cifar_train = data.load_cifar10("train", per_class=config.pick(None, 50))
cifar_test = data.load_cifar10("test", per_class=config.pick(None, 20))
epochs = config.pick(2, 1)
loader = data.make_loader(cifar_train, 128, train=True)  # random crop + flip
model = swin.SwinTransformer()
opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
sched = train.warmup_cosine(opt, warmup_steps=len(loader) // 4, total_steps=epochs * len(loader))
start = time.perf_counter()
hist = train.fit(model, loader, opt, epochs=epochs, scheduler=sched, max_minutes=config.pick(5, 1),
                 loss_fn=torch.nn.CrossEntropyLoss(label_smoothing=0.1))
test_loss, test_acc = train.evaluate(model, data.make_loader(cifar_test, 500))
print(f"tiny Swin ({vit.count_parameters(model):,} parameters): {100 * test_acc:.1f} % test accuracy "
      f"after {len(hist)} epoch(s), {time.perf_counter() - start:.0f} s")

# %% [markdown]
# ## 8. Explore
#
# Window size and shift over the photograph's 16×16 patch grid.

# %%
# NBVAL_IGNORE_OUTPUT: an interactive widget; its view is not text
widgets.window_explorer(photo, patch_size=16)

# %% [markdown]
# ## 9. Exercises
#
# **Implement**: write the function; the checker names the mistake it spots. **Predict, then
# run**: write your prediction first, then run the checker, which measures and shows how far off
# you were (a prediction counts once written, right or wrong; a count passes only when exact).
#
# **Exercise 1 (implement).** Section 1 cut a map into windows. Write the way back,
# `my_window_reverse(windows, M, H, W)`: windows (B·num_windows, M, M, C), in row-major order
# within each map → the maps (B, H, W, C).

# %% tags=["solution"]
def my_window_reverse(windows, m, h, w):
    b = windows.shape[0] // ((h // m) * (w // m))
    x = windows.view(b, h // m, w // m, m, m, -1)  # (B, nH, nW, M, M, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, -1)  # (B, nH, M, nW, M, C) → (B, H, W, C)

# %%
# NBVAL_CHECK_OUTPUT
checks.check_window_reverse(my_window_reverse)

# %% [markdown]
# **Exercise 2 (implement).** Write `my_relative_index(M)`: (M², M²) long, entry [i, j] the index of the
# offset (row_i − row_j, col_i − col_j) in a (2M−1)×(2M−1) table stored row-major.

# %% tags=["solution"]
def my_relative_index(m):
    r, c = torch.arange(m * m) // m, torch.arange(m * m) % m
    dr = r[:, None] - r[None, :] + (m - 1)
    dc = c[:, None] - c[None, :] + (m - 1)
    return dr * (2 * m - 1) + dc

# %%
# NBVAL_CHECK_OUTPUT
checks.check_relative_index(my_relative_index)

# %% [markdown]
# **Exercise 3 (predict, exact).** Swin-T's first stage: a 56×56 token map, 7×7 windows, and
# in the next block windows shifted by 3. How many windows has the regular partition, and how
# many (some of them partial) has the shifted partition before the cyclic shift packs them?

# %% tags=["solution", "prediction"]
windows_regular = (56 // 7) ** 2
windows_shifted = (56 // 7 + 1) ** 2

# %%
# NBVAL_CHECK_OUTPUT
checks.check_window_count(windows_regular, windows_shifted)

# %% [markdown]
# **Exercise 4 (predict).** On that 56×56 map with C = 96 channels, how many times more work is
# one global attention layer than one layer of 7×7 window attention (projections included)?
# Section 6's table had the ratio for other sizes; predict this one before you compute it.

# %% tags=["solution", "prediction"]
window_cost_ratio = 14.0

# %%
# NBVAL_CHECK_OUTPUT
checks.check_window_cost_prediction(window_cost_ratio)

# %% [markdown]
# ## Summary
#
# - Windows: two reshapes and a permutation; attention inside M×M windows costs 2M²hwC
#   instead of 2(hw)²C: linear in the number of tokens for a fixed M.
# - The cyclic shift turns 25 irregular windows into 16 regular ones; the mask (one region
#   id per token, equal ids may attend) makes it exact: proven above against a direct loop.
# - The relative position bias has one entry per offset, (2M−1)², shared by all windows.
# - Without shifts windows never exchange information; with them, the reach grows block by block.
# - Patch merging builds the pyramid: 16×16×48 → 8×8×96 → 4×4×192.
#
# **About the lecture notes.** Their claims hold; "from O(N²) to O(N)" needs "for a fixed
# window size", and the saving appears only once maps have hundreds of tokens.
#
# **References.** Liu et al. (2021), *Swin Transformer: Hierarchical Vision Transformer using
# Shifted Windows*. Liu et al. (2022), *Swin Transformer V2*. Dosovitskiy et al. (2021),
# *An Image is Worth 16x16 Words*. The `timm` library's `swin_transformer.py`, against which
# `course_utils.swin` is tested.
