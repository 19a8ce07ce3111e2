# %% [markdown]
# # 03 · Where is this patch? Positional encodings in 1D and 2D
#
# {{COLAB_BADGE}}
#
# **Learning goals.** After this notebook you can
# 1. compute the sinusoidal encoding by hand and reproduce a published table of it;
# 2. read a cosine-similarity heatmap and say what a good positional encoding should show;
# 3. explain why a 1D order is the wrong geometry for a grid of patches, and fix it in 2D;
# 4. prove numerically that a sinusoidal encoding turns "shift by k" into a rotation.
#
# **The lecture notes' claims we test here.**
# - PE(pos, 2i) = sin(pos/10000^(2i/d)), PE(pos, 2i+1) = cos(pos/10000^(2i/d)), with a printed
#   table for d = 50 (position 1: 0.841, 0.540, 0.638, 0.770).
# - A second way of writing it: φ(i, k) = sin(i/10000^(k/D)) for even k, cos(i/10000^(k/D))
#   for odd k.
# - For 16 patches and D = 64: cosine similarities 5–6 0.9662, 5–7 0.8845, 5–8 0.7996,
#   6–7 0.9662, 7–8 0.9662.
# - On a 4×4 grid, patches 3 and 4 should not be close, 0 and 4 should; the 2D encoding
#   ψ = θ + φ_x + φ_y makes patch 0 similar to patches 1 and 4.

# %%
{{COLAB_SETUP}}

import math

import matplotlib.pyplot as plt
import torch

from course_utils import checks, config, positional, viz, widgets

config.seed_everything(0)
device = config.get_device()
print(config.summary(device))

# %% [markdown]
# ## 1. The formula, by hand
#
# $$PE_{(pos,\,2i)} = \sin\!\left(\frac{pos}{10000^{2i/d}}\right), \qquad
#   PE_{(pos,\,2i+1)} = \cos\!\left(\frac{pos}{10000^{2i/d}}\right)$$
#
# Channels come in (sin, cos) pairs that share one frequency ω_i = 10000^(−2i/d): fast
# waves in the first channels, slow ones in the last. Inline, with two loops so that every
# index is visible, for the notes' d = 50:

# %%
# NBVAL_CHECK_OUTPUT
def pe_by_hand(num_positions, d):
    table = torch.zeros(num_positions, d)  # (positions, channels)
    for pos in range(num_positions):
        for i in range(d // 2):  # one frequency per (sin, cos) pair
            angle = pos / 10000 ** (2 * i / d)
            table[pos, 2 * i] = math.sin(angle)
            table[pos, 2 * i + 1] = math.cos(angle)
    return table


table = pe_by_hand(4, 50)
print("the notes' table (rows: channel 0..3, columns: position p0..p3):")
for channel in range(4):
    print(f"  i={channel}: " + "  ".join(f"{v:6.3f}" for v in table[:, channel]))
print("equals course_utils.positional.sinusoidal_1d:", torch.allclose(table, positional.sinusoidal_1d(4, 50), atol=1e-6))

# %% [markdown]
# Every printed value matches the notes (e.g. position 1: 0.841, 0.540, 0.638, 0.770).
#
# ## 2. The notes' second formula does not produce their numbers
#
# The second way of writing it uses the exponent **k/D for every channel k**. For an even
# channel k = 2i that is the same as 2i/D. For an odd channel k = 2i + 1 it is (2i+1)/D: each
# cosine gets a *slightly lower frequency* than the sine it is paired with. Computed:

# %%
# NBVAL_CHECK_OUTPUT
def pe_notes_variant(num_positions, d):
    """φ(i, k) = sin(i / 10000^(k/D)) for even k, cos(i / 10000^(k/D)) for odd k."""
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]  # (N, 1)
    k = torch.arange(d, dtype=torch.float64)[None, :]  # (1, D)
    angle = pos / 10000 ** (k / d)  # (N, D): every channel its own frequency
    return torch.where(k % 2 == 0, angle.sin(), angle.cos()).float()


variant = pe_notes_variant(4, 50)
print("variant, position 1, channels 0..3:", " ".join(f"{v:.3f}" for v in variant[1, :4]))
print("notes' table, position 1:          ", " ".join(f"{v:.3f}" for v in table[1, :4]))


def five_similarities(enc):
    s = positional.cosine_similarity_matrix(enc)
    return " ".join(f"{a}-{b}: {s[a, b]:.4f}" for a, b in [(5, 6), (5, 7), (5, 8), (6, 7), (7, 8)])


print("\n16 patches, D = 64, cosine similarities")
print("  the notes print    5-6: 0.9662 5-7: 0.8845 5-8: 0.7996 6-7: 0.9662 7-8: 0.9662")
print("  standard formula  ", five_similarities(positional.sinusoidal_1d(16, 64)))
print("  second formula    ", five_similarities(pe_notes_variant(16, 64)))

# %% [markdown]
# The standard formula reproduces all five printed similarities to four decimals; the
# second formula reproduces none of the odd channels of the table (0.674 ≠ 0.540) and none
# of the similarities. It also loses a property: with the standard formula 5–6, 6–7 and 7–8
# are *exactly* equal, because similarity depends only on the offset (section 5 shows why);
# with the second formula they differ (0.9671, 0.9674, 0.9784). Use 2i/d for both members of
# a pair.
#
# ## 3. What the encoding looks like

# %%
pe16 = positional.sinusoidal_1d(16, 64)  # (16 patches, 64 channels)
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1.6, 1]})
viz.matrix_heatmap(pe16, title="sinusoidal encoding: 16 positions × 64 channels", xlabel="channel",
                   ylabel="position", cmap="RdBu_r", vmin=-1, vmax=1, ax=axes[0])
viz.matrix_heatmap(positional.cosine_similarity_matrix(pe16), title="cosine similarity, 1D order", xlabel="patch",
                   ylabel="patch", ax=axes[1], vmin=0.3, vmax=1)
fig.tight_layout()

# %% [markdown]
# Neighbours in the sequence are similar, and similarity falls off smoothly with distance:
# just what we want *for a sequence*. But our 16 patches form a 4×4 grid. In 1D order, patch 3
# (top right) and patch 4 (start of the second row) are neighbours; on the image they are at
# opposite ends of the grid. Patch 0 and patch 4, one above the other, look far apart.

# %%
# NBVAL_CHECK_OUTPUT
s1 = positional.cosine_similarity_matrix(pe16)
print(f"1D: patch 3 vs 4 (far apart on the grid):  {s1[3, 4]:.4f}")
print(f"1D: patch 0 vs 4 (touching on the grid):    {s1[0, 4]:.4f}")

# %% [markdown]
# ## 4. Two dimensions: the notes' sum, tested
#
# Give each patch a row index r and a column index c, encode each with a sinusoid and
# combine. The notes **add** a row encoding and a column encoding of full width:
# ψ = θ + φ_x + φ_y. Does patch 0 become similar to 1 and 4?

# %%
# NBVAL_CHECK_OUTPUT
pe_sum = positional.sinusoidal_2d(4, 4, 64, mode="sum")  # (16, 64): PE(r) + PE(c)
s_sum = positional.cosine_similarity_matrix(pe_sum)
print(f"2D sum: patch 0 vs 1: {s_sum[0, 1]:.4f}, patch 0 vs 4: {s_sum[0, 4]:.4f}, patch 3 vs 4: {s_sum[3, 4]:.4f}")

# %% [markdown]
# Yes: 0 is equally close to its right and lower neighbours, and 3–4 dropped. But look at the
# formula again: PE(r) + PE(c) does not change when r and c swap. Cell (0, 1) and cell (1, 0)
# get **the same vector**. Counting every pair of different grid cells with identical encodings:

# %%
# NBVAL_CHECK_OUTPUT
def identical_pairs(table):
    """Pairs of different positions whose encodings are equal (to float precision)."""
    same = (table[:, None, :] - table[None, :, :]).abs().amax(-1) < 1e-6  # (N, N): all channels equal
    return [(i, j) for i in range(len(table)) for j in range(i + 1, len(table)) if same[i, j]]


pe_cat = positional.sinusoidal_2d(4, 4, 64, mode="concat")  # (16, 64): [PE(r) | PE(c)], 32 channels each
for name, t in [("1D order", pe16), ("2D sum (the notes)", pe_sum), ("2D concat", pe_cat)]:
    pairs = identical_pairs(t)
    print(f"{name:20s} {len(pairs)} pairs of grid cells share an encoding {pairs}")

# %% [markdown]
# With the sum, patch 1 (row 0, column 1) and patch 4 (row 1, column 0) are indistinguishable,
# and so are 2 & 8, 3 & 12, 6 & 9, 7 & 13, 11 & 14: every cell and its mirror image across
# the diagonal. A transformer fed these encodings cannot tell a picture from its transpose
# (up to the content itself). On a 14×14 grid (a 224-pixel ViT) it is 91 pairs.
#
# **The fix: concatenate.** Give the first half of the channels to the row's encoding and the
# second half to the column's (as MAE and "simple ViT" do). The two coordinates then live in
# separate channels and can never cancel or swap. Every cell is unique, and it keeps what
# was good about the sum:

# %%
# NBVAL_CHECK_OUTPUT
s_cat = positional.cosine_similarity_matrix(pe_cat)
print(f"2D concat: patch 0 vs 1: {s_cat[0, 1]:.4f}, patch 0 vs 4: {s_cat[0, 4]:.4f}, patch 3 vs 4: {s_cat[3, 4]:.4f}")
print("14x14 grid, identical pairs: sum", len(identical_pairs(positional.sinusoidal_2d(14, 14, 64, "sum"))),
      "| concat", len(identical_pairs(positional.sinusoidal_2d(14, 14, 64, "concat"))))

# %% [markdown]
# ### Similarity maps, one per patch
#
# Each small map shows one patch's similarity to all 16 patches, drawn at that patch's place
# in the grid (the way the ViT paper's figure 7 shows learned position embeddings). A good
# 2D encoding gives each patch a bright spot at its own place, fading with distance.

# %%
fig = plt.figure(figsize=(13, 4.6))
subfigs = fig.subfigures(1, 3)
for sub, (name, t) in zip(subfigs, [("1D order", pe16), ("2D sum (the notes)", pe_sum), ("2D concat (fixed)", pe_cat)]):
    axes = sub.subplots(4, 4)
    viz.similarity_maps(t, 4, 4, axes_grid=axes)
    sub.suptitle(name)

# %% [markdown]
# In 1D, patch 3's map lights up patch 4; the sum's maps are symmetric about the diagonal
# (compare patch 1 with patch 4: identical); the concatenation's maps are local in both
# directions and all different.
#
# ## 5. Relative positions are rotations
#
# Why this particular formula? Take one (sin, cos) pair at frequency ω. Shifting the position
# by k adds ωk to the angle, and the angle-addition formulas say
#
# $$\begin{pmatrix}\sin(\omega(p+k))\\ \cos(\omega(p+k))\end{pmatrix} =
# \begin{pmatrix}\cos\omega k & \sin\omega k\\ -\sin\omega k & \cos\omega k\end{pmatrix}
# \begin{pmatrix}\sin\omega p\\ \cos\omega p\end{pmatrix}$$
#
# So PE(p + k) = M_k · PE(p) with M_k a rotation per pair, **the same matrix for every p**.
# A linear layer can therefore learn "look k positions ahead" once, for all positions; and
# since rotations preserve dot products, PE(p)·PE(p+k) depends only on k (which is why
# 5–6, 6–7 and 7–8 were equal).

# %%
# NBVAL_CHECK_OUTPUT
table = positional.sinusoidal_1d(64, 64).double()  # (64 positions, 64 channels)
for k in [1, 3, 10]:
    M = positional.shift_matrix(k, 64)  # (64, 64): block-diagonal 2x2 rotations
    predicted = table[:-k] @ M.T  # (64 - k, 64): M_k applied to every PE(p)
    error = (predicted - table[k:]).abs().max().item()
    dots = (table[:-k] * table[k:]).sum(-1)  # PE(p) · PE(p + k) for every p
    print(f"k={k:2d}: max |M_k PE(p) - PE(p+k)| < 1e-6: {error < 1e-6}; "
          f"PE(p)·PE(p+k) = {dots.mean():.4f} for every p: {bool(dots.max() - dots.min() < 1e-6)}")
M = positional.shift_matrix(3, 64)
print("M_3 is orthogonal (M Mᵀ = I):", torch.allclose(M @ M.T, torch.eye(64, dtype=torch.float64)))

# %% [markdown]
# ## 6. Explore
#
# Pick an encoding and a patch; the map shows its similarity to every patch (the red star is
# the patch itself).

# %%
# NBVAL_IGNORE_OUTPUT: an interactive widget; its view is not text
widgets.similarity_explorer({"2D concat": pe_cat, "2D sum (notes)": pe_sum, "1D order": pe16}, 4, 4)

# %% [markdown]
# ## 7. Exercises
#
# **Implement**: write the function; the checker names the mistake it spots. **Predict, then
# run**: write your prediction first, then run the checker, which measures and shows how far off
# you were (a prediction counts once written, right or wrong). **Experiment**: change one thing,
# measure, and say in one sentence what you found; the checker re-measures your change.
#
# **Exercise 1 (implement).** Write `my_sinusoidal(num_positions, dim)` without loops: (num_positions, dim),
# sin on even channels, cos on odd channels, the pair sharing the exponent 2i/dim.

# %% tags=["solution"]
def my_sinusoidal(num_positions, dim):
    pos = torch.arange(num_positions, dtype=torch.float32)[:, None]  # (N, 1)
    omega = 10000 ** (-torch.arange(0, dim, 2, dtype=torch.float32) / dim)  # (D/2,)
    table = torch.zeros(num_positions, dim)
    table[:, 0::2] = torch.sin(pos * omega)
    table[:, 1::2] = torch.cos(pos * omega)
    return table

# %%
# NBVAL_CHECK_OUTPUT
checks.check_sinusoidal_1d(my_sinusoidal)

# %% [markdown]
# **Exercise 2 (implement).** Write `my_cosine_similarity(x)`: x (N, D) → (N, N), the cosine similarity
# of every pair of rows, without loops.

# %% tags=["solution"]
def my_cosine_similarity(x):
    unit = x / x.norm(dim=1, keepdim=True)
    return unit @ unit.T

# %%
# NBVAL_CHECK_OUTPUT
checks.check_cosine_similarity(my_cosine_similarity)

# %% [markdown]
# **Exercise 3 (predict).** Section 3 showed 16 positions, where neighbours are 0.966 similar
# (D = 64). Predict the cosine similarity of positions 0 and 20, and of positions 0 and 200, in
# the same 1D encoding with D = 64.

# %% tags=["solution", "prediction"]
similarity_20_apart = 0.6
similarity_200_apart = 0.35

# %%
# NBVAL_CHECK_OUTPUT
checks.check_similarity_prediction(similarity_20_apart, similarity_200_apart)

# %% [markdown]
# **Exercise 4 (experiment).** Change one thing, the number of channels D, and measure the
# similarity of positions 0 and 1 (with `positional.sinusoidal_1d` and
# `positional.cosine_similarity_matrix`, or your own functions). Find the smallest even D for
# which neighbours are at least 0.95 similar, and explain in one sentence why D changes it.

# %%
# NBVAL_CHECK_OUTPUT
D_ = 64  # section 3's width: change it, run again, compare
neighbours = positional.cosine_similarity_matrix(positional.sinusoidal_1d(2, D_))[0, 1]
print(f"D = {D_}: positions 0 and 1 are {neighbours:.4f} similar")

# %% tags=["solution"]
smallest_dim = next(d for d in range(2, 200, 2)
                    if positional.cosine_similarity_matrix(positional.sinusoidal_1d(2, d))[0, 1] >= 0.95)
why_dim = "every extra pair of channels adds a slower wave that hardly turns between neighbours, so their mean cosine grows"

# %%
# NBVAL_CHECK_OUTPUT
checks.check_dimension_experiment(smallest_dim, why_dim)

# %% [markdown]
# ## Summary
#
# - The standard sinusoidal encoding pairs sin and cos at one frequency per pair; it
#   reproduces the notes' table and all five similarities exactly.
# - Shifting by k is a fixed rotation of each pair, so similarity depends only on distance; it
#   falls fast at first, then slowly: the slow channels keep distant positions similar, and the
#   wider the table, the more alike neighbours look (exercises 3 and 4).
# - 1D order is the wrong geometry for a grid. Adding a row and a column encoding (the notes'
#   ψ = θ + φ_x + φ_y) fixes the neighbours but makes (r, c) and (c, r) identical;
#   concatenating them fixes both.
# - Learned position embeddings (notebook 04) discover a 2D structure by themselves, given data.
#
# **Pitfalls found in the lecture notes.**
# 1. The exponent k/D for every channel (the second formula) gives each cosine a different
#    frequency from its sine; it does not reproduce the notes' own printed numbers.
# 2. The 2D sum is symmetric in row and column: 6 of the 120 pairs of cells on a 4×4 grid
#    share an encoding (91 pairs on 14×14). Concatenate instead.
#
# **References.** Vaswani et al. (2017), *Attention Is All You Need*. Dosovitskiy et al. (2021),
# *An Image is Worth 16x16 Words* (figure 7). He et al. (2022), *Masked Autoencoders Are
# Scalable Vision Learners*. Beyer, Zhai & Kolesnikov (2022), *Better plain ViT baselines for
# ImageNet-1k*. Kazemnejad (2019), *Transformer Architecture: The Positional Encoding* (blog).
