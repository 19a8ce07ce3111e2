# %% [markdown]
# # 03 · Where is this patch? Positional encodings in 1D and 2D
#
# {{COLAB_BADGE}}
#
# **Learning goals.** After this notebook you can
# 1. compute the sinusoidal encoding by hand and reproduce a published table of it;
# 2. read a cosine-similarity heatmap and say what a good positional encoding should show;
# 3. explain why a 1D order is the wrong geometry for a grid of patches, and fix it in 2D;
# 4. check numerically that a sinusoidal encoding turns "shift by k" into a rotation.
#
# **The lecture notes' claims we test here** (the numbers below are quoted from the notes; every
# one of them is recomputed and checked by a `claim` line further down).
# - PE(pos, 2i) = sin(pos/10000^(2i/d)), PE(pos, 2i+1) = cos(pos/10000^(2i/d)), with a printed
#   table for d = 50 (position 1: 0.841, 0.540, 0.638, 0.770).
# - A second way of writing it: φ(i, k) = sin(i/10000^(k/D)) for even k, cos(i/10000^(k/D))
#   for odd k, with k ∈ [0, D] = [0, 63].
# - For 16 patches and D = 64: cosine similarities 5–6 0.9662, 5–7 0.8845, 5–8 0.7996,
#   6–7 0.9662, 7–8 0.9662.
# - On a 4×4 grid, patches 3 and 4 should not be close, 0 and 4 should; the 2D encoding
#   ψ = θ + φ_x + φ_y (θ the patch's content embedding, φ_x and φ_y the encodings of its column
#   and its row) makes patch 0 similar to patches 1 and 4.
# - A learned table for a 32×32 image cut into 16×16 patches, `pos_embed` of shape (1, 4, 768),
#   "every pixel of the original image has its own positional embedding value".
#
# A line that starts with **holds:** is a checked claim: the cell computed the numbers in it and
# would stop with an error if the sentence were false.

# %%
{{COLAB_SETUP}}

import math

import matplotlib.pyplot as plt
import torch

from course_utils import checks, config, positional, viz, widgets
from course_utils.claims import claim

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
# index is visible, for the notes' d = 50. (The notes label the rows of their table i = 0..3;
# they are *channels* 0..3, that is the sin and cos of pair i = 0, then of pair i = 1.)

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


NOTES_TABLE = torch.tensor([  # quoted from the notes: rows are channels 0..3, columns positions 0..3
    [0.000, 0.841, 0.909, 0.141],
    [1.000, 0.540, -0.416, -0.990],
    [0.000, 0.638, 0.983, 0.875],
    [1.000, 0.770, 0.186, -0.484],
])

table = pe_by_hand(4, 50)  # (4 positions, 50 channels)
print("by hand, d = 50 (rows: channels, columns: positions 0..3)")
for channel, role in enumerate(["sin of pair 0", "cos of pair 0", "sin of pair 1", "cos of pair 1"]):
    print(f"  channel {channel} ({role}): " + "  ".join(f"{v:6.3f}" for v in table[:, channel]))
rounded = [f"{v:.3f}" for v in table[:, :4].T.flatten()]  # channels 0..3, positions 0..3
claim(rounded == [f"{v:.3f}" for v in NOTES_TABLE.flatten()],
      "all 16 entries of the notes' d = 50 table are reproduced: each rounds to the printed value", exact=True)
claim(torch.allclose(table, positional.sinusoidal_1d(4, 50), atol=1e-6),
      "course_utils.positional.sinusoidal_1d gives the same 4 × 50 table to 1e-6", exact=True)

# %% [markdown]
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


variant = pe_notes_variant(4, 50)  # (4, 50)
print("variant, position 1, channels 0..3:", " ".join(f"{v:.3f}" for v in variant[1, :4]))
print("notes' table, position 1:          ", " ".join(f"{v:.3f}" for v in NOTES_TABLE[:, 1]))

NOTES_PAIRS = [(5, 6), (5, 7), (5, 8), (6, 7), (7, 8)]
NOTES_SIMILARITIES = ["0.9662", "0.8845", "0.7996", "0.9662", "0.9662"]  # quoted from the notes


def five_similarities(enc):
    """The notes' five pairs, each similarity as a 4-decimal string."""
    s = positional.cosine_similarity_matrix(enc)  # (16, 16)
    return [f"{s[a, b]:.4f}" for a, b in NOTES_PAIRS]


standard, second = five_similarities(positional.sinusoidal_1d(16, 64)), five_similarities(pe_notes_variant(16, 64))
print("\n16 patches, D = 64, cosine similarities of", ", ".join(f"{a}-{b}" for a, b in NOTES_PAIRS))
print("  the notes print  ", " ".join(NOTES_SIMILARITIES))
print("  standard formula ", " ".join(standard))
print("  second formula   ", " ".join(second))

odd = (variant[1:, 1:4:2].T - NOTES_TABLE[1::2, 1:]).abs() > 0.0005  # (2 odd channels, positions 1..3)
even = (variant[:, 0:4:2].T - NOTES_TABLE[0::2]).abs() < 0.0005  # (2 even channels, positions 0..3)
claim(standard == NOTES_SIMILARITIES, "the standard formula reproduces all five of the notes' similarities to "
      "4 decimals", exact=True)
claim(int(odd.sum()) == 6 and bool(even.all()),
      "the second formula agrees on the sines (even channels) but misses all 6 cosine entries at positions 1-3, "
      "e.g. {got:.3f} instead of {want:.3f}", exact=True, got=variant[1, 1].item(), want=NOTES_TABLE[1, 1].item())
matches = sum(g == w for g, w in zip(second, NOTES_SIMILARITIES))
one_step = [float(second[i]) for i in (0, 3, 4)]  # 5-6, 6-7, 7-8
spread = max(one_step) - min(one_step)
claim(matches == 0 and spread > 0.01,
      "the second formula reproduces {matches} of the five similarities, and its 5-6, 6-7 and 7-8 (all one step "
      "apart) are no longer equal: they spread over {spread:.4f}", exact=True, matches=matches, spread=spread)
channels = positional.sinusoidal_1d(16, 64).shape[1]
claim(channels == 64, "a D = 64 table has {channels} channels, k = 0..63: that is k ∈ [0, D - 1]; the notes' "
      "[0, D] would count 65", exact=True, channels=channels)

# %% [markdown]
# With the standard formula 5–6, 6–7 and 7–8 are *exactly* equal, because similarity depends
# only on the offset (section 5 shows why); the second formula loses that property. Use 2i/d
# for both members of a pair.
#
# ## 3. What the encoding looks like
#
# Left, the table itself; right, the cosine similarity of every pair of positions. The two panels
# show different quantities, so each has its own colour bar. The similarity panel uses the range
# 0.6 to 1 that every similarity figure in this notebook shares.

# %%
SIMILARITY_SCALE = {"vmin": 0.6, "vmax": 1.0}  # one colour scale for every similarity figure below
pe16 = positional.sinusoidal_1d(16, 64)  # (16 patches, 64 channels)
fig, axes = plt.subplots(1, 2, figsize=(14, 4.8), gridspec_kw={"width_ratios": [1.6, 1]})
viz.matrix_heatmap(pe16, title="sinusoidal encoding: 16 positions × 64 channels", xlabel="channel",
                   ylabel="position", cmap="RdBu_r", vmin=-1, vmax=1, ax=axes[0], cbar_label="encoding value")
viz.matrix_heatmap(positional.cosine_similarity_matrix(pe16), title="cosine similarity, 1D order", xlabel="position",
                   ylabel="position", ax=axes[1], cbar_label="cosine similarity", **SIMILARITY_SCALE)
for ax in axes:
    ax.title.set_fontsize(13)
    ax.xaxis.label.set_fontsize(12)
    ax.yaxis.label.set_fontsize(12)
fig.tight_layout()

# %% [markdown]
# Two things to read off these pictures, measured below: the right half of the table looks
# flat, and the similarity fades away from the diagonal, quickly at first.

# %%
# NBVAL_CHECK_OUTPUT
swing = pe16.max(0).values - pe16.min(0).values  # (64,): how far each channel moves over 16 positions
claim(swing[32:].max() < 0.15 and swing[:16].min() > 0.99,
      "the right half of the table is nearly flat: each of channels 32-63 moves by at most {slow:.4f} over the 16 "
      "positions, while each of channels 0-15 swings by at least {fast:.4f}", exact=True,
      slow=swing[32:].max().item(), fast=swing[:16].min().item())

s1 = positional.cosine_similarity_matrix(pe16)  # (16, 16)
profile = [s1.diagonal(k).mean().item() for k in range(16)]  # similarity at offset k
print("similarity at offset k = 0..15:", " ".join(f"{v:.4f}" for v in profile))
constant = max((s1.diagonal(k) - profile[k]).abs().max().item() for k in range(16))
claim(constant < 1e-5 and max(profile[1:]) == profile[1],
      "the similarity of two positions depends only on their offset (every diagonal of the matrix is constant to "
      "1e-5), and neighbours, one step apart, are the most similar ({p1:.4f})", exact=True, p1=profile[1])
early, late = profile[0] - profile[4], profile[4] - profile[15]
rises = [k for k in range(1, 16) if profile[k] > profile[k - 1]]
claim(early > late and rises == [6, 11, 12],
      "it falls fast, then slowly and not even steadily: by {early:.4f} over the first 4 steps, by only {late:.4f} "
      "over the next 11, and it rises again at offsets {rises}", exact=True, early=early, late=late, rises=rises)

# %% [markdown]
# Neighbours in the sequence are the most similar positions: just what we want *for a
# sequence*. But our 16 patches form a 4×4 grid. In 1D order, patch 3 (top right) and patch 4
# (start of the second row) are neighbours; on the image they sit at opposite ends of two
# adjacent rows. Patch 0 and patch 4, one above the other, are four steps apart in the sequence.

# %%
# NBVAL_CHECK_OUTPUT
claim(abs(s1[3, 4] - s1[0, 1]) < 1e-5 and s1[0, 4] < s1[0, 3] < s1[0, 2],
      "in 1D, patches 3 and 4 ({s34:.4f}) are exactly as similar as side-by-side patches 0 and 1, while 0 and 4, "
      "which touch on the grid, get only {s04:.4f}: less than 0 and 3 ({s03:.4f}), three columns apart",
      exact=True, s34=s1[3, 4].item(), s04=s1[0, 4].item(), s03=s1[0, 3].item())

# %% [markdown]
# ## 4. Two dimensions: the notes' sum, tested
#
# Give each patch a row index r and a column index c, encode each with a sinusoid and
# combine. The notes **add** a row encoding and a column encoding of full width:
# ψ = θ + φ_x + φ_y, where θ is the patch's content embedding (what the patch shows), φ_x the
# encoding of its column c and φ_y that of its row r. The content is not about position, so here
# we compare the positional part φ_x + φ_y = PE(c) + PE(r) alone. Does patch 0 become similar to
# 1 and 4?

# %%
# NBVAL_CHECK_OUTPUT
pe_sum = positional.sinusoidal_2d(4, 4, 64, mode="sum")  # (16, 64): PE(r) + PE(c)
s_sum = positional.cosine_similarity_matrix(pe_sum)  # (16, 16)
print(f"2D sum: patch 0 vs 1: {s_sum[0, 1]:.4f}, patch 0 vs 4: {s_sum[0, 4]:.4f}, patch 3 vs 4: {s_sum[3, 4]:.4f}")


def ranked(sim, patch):
    """The other patches, most similar to ``patch`` first."""
    return [j for j in sim[patch].argsort(descending=True).tolist() if j != patch]


def closest_two_are_1_and_4(sim):
    """Patch 0's two most similar patches are 1 and 4, equally similar, and the third is clearly behind."""
    first, second, third = ranked(sim, 0)[:3]
    return {first, second} == {1, 4} and abs(sim[0, 1] - sim[0, 4]) < 1e-6 and sim[0, third] < sim[0, 1] - 1e-3


claim(closest_two_are_1_and_4(s_sum),
      "as the notes say, with the sum patches 1 and 4 are patch 0's most similar patches ({s01:.4f} each; next "
      "{next:.4f})", exact=True, s01=s_sum[0, 1].item(), next=s_sum[0, ranked(s_sum, 0)[2]].item())

# %% [markdown]
# And patches 3 and 4? Their similarity went **up**, from 0.9662 in 1D to 0.9703 with the
# sum. That is no failure of the sum, and no success either: the raw number cannot be compared
# across encodings. What matters is how 3–4 compares with the true neighbours *in the same
# encoding*. Three kinds of pairs, in 1D and with the sum:

# %%
# NBVAL_CHECK_OUTPUT
PAIR_GROUPS = {  # kinds of pairs on the 4×4 grid (patch index = 4·row + column)
    "side by side (0-1, 1-2, ...)": [(i, i + 1) for i in range(16) if i % 4 != 3],
    "one above the other (0-4, 1-5, ...)": [(i, i + 4) for i in range(12)],
    "end of a row, start of the next (3-4, 7-8, 11-12)": [(3, 4), (7, 8), (11, 12)],
}
off_diagonal = ~torch.eye(16, dtype=torch.bool)  # every pair of different patches


def group_values(sim):
    """{kind of pair: its similarities (n,)} for a (16, 16) similarity matrix."""
    return {group: torch.stack([sim[a, b] for a, b in pairs]) for group, pairs in PAIR_GROUPS.items()}


def print_groups(name, sim):
    for group, values in group_values(sim).items():
        print(f"  {name:9s} {group:50s} {values.min():.4f} to {values.max():.4f}")
    print(f"  {name:9s} {'lowest similarity of any pair':50s} {sim[off_diagonal].min():.4f}")


print_groups("1D", s1)
print_groups("2D sum", s_sum)
side, above, wrap = group_values(s1).values()
side_sum, above_sum, wrap_sum = group_values(s_sum).values()
claim(bool((s_sum > s1)[off_diagonal].all()),
      "every one of the 120 pairs is more similar with the sum than in 1D: the lowest similarity rises from "
      "{low_1d:.4f} to {low_sum:.4f}, so a higher number alone says nothing", exact=True,
      low_1d=s1[off_diagonal].min().item(), low_sum=s_sum[off_diagonal].min().item())
claim(torch.allclose(above_sum.sort().values, side_sum.sort().values, atol=1e-6) and above_sum.min() > above.max(),
      "patches one above the other rise from {above_1d:.4f} to {lo:.4f}-{hi:.4f}: with the sum they are exactly "
      "as similar as patches side by side", exact=True, above_1d=above.max().item(), lo=above_sum.min().item(),
      hi=above_sum.max().item())
claim((wrap.max() - side.min()).abs() < 1e-5 and wrap.min() >= side.max() - 1e-5 and wrap_sum.max() < side_sum.min(),
      "the row-wrap pairs 3-4, 7-8, 11-12 tie with the closest pairs in 1D ({wrap_1d:.4f}); with the sum "
      "({lo:.4f}-{hi:.4f}) they fall below every grid neighbour (lowest {nb:.4f})", exact=True,
      wrap_1d=wrap.max().item(), lo=wrap_sum.min().item(), hi=wrap_sum.max().item(), nb=side_sum.min().item())

# %% [markdown]
# So, judged by these kinds of pairs, the sum does what the notes wanted: patches one above the
# other now count as neighbours, and the end of one row is no longer as close to the start of
# the next as a real neighbour is. Patch by patch it does much less: the per-patch maps later in
# this section measure that a patch's own grid neighbours are its most similar patches for only
# 2 of the 16 patches. The reason is in the formula: PE(r) + PE(c) does not change when r and c
# swap. Cell (0, 1) and cell (1, 0) get **the same vector**, so each of the 12 cells off the
# diagonal has a twin, its mirror cell, more similar to it than any of its neighbours. Counting
# every pair of different grid cells with identical encodings:

# %%
# NBVAL_CHECK_OUTPUT
def identical_pairs(table):
    """Pairs of different positions whose encodings are equal (to float precision)."""
    same = (table[:, None, :] - table[None, :, :]).abs().amax(-1) < 1e-6  # (N, N): all channels equal
    return [(i, j) for i in range(len(table)) for j in range(i + 1, len(table)) if same[i, j]]


def mirror_pairs(side):
    """Cell (r, c) and cell (c, r) for r < c, as row-major patch indices."""
    return [(r * side + c, c * side + r) for r in range(side) for c in range(r + 1, side)]


pe_cat = positional.sinusoidal_2d(4, 4, 64, mode="concat")  # (16, 64): [PE(r) | PE(c)], 32 channels each
for name, t in [("1D order", pe16), ("2D sum (the notes)", pe_sum), ("2D concat", pe_cat)]:
    pairs = identical_pairs(t)
    print(f"{name:20s} {len(pairs)} pairs of grid cells share an encoding {pairs}")

counts = {mode: len(identical_pairs(positional.sinusoidal_2d(14, 14, 64, mode))) for mode in ("sum", "concat")}
print("14x14 grid, identical pairs: sum", counts["sum"], "| concat", counts["concat"])
claim(sorted(identical_pairs(pe_sum)) == sorted(tuple(sorted(p)) for p in mirror_pairs(4)) and counts["sum"] == 91,
      "with the sum, exactly the mirror pairs (r, c) / (c, r) share an encoding: {n4} = 4·3/2 pairs on 4×4, "
      "{n14} = 14·13/2 on 14×14", exact=True, n4=len(identical_pairs(pe_sum)), n14=counts["sum"])
claim(identical_pairs(pe16) == [] and identical_pairs(pe_cat) == [] and counts["concat"] == 0,
      "1D order and the concatenation give every cell its own encoding (0 identical pairs on 4×4 and on 14×14)",
      exact=True)

# %% [markdown]
# With the sum, patch 1 (row 0, column 1) and patch 4 (row 1, column 0) are indistinguishable,
# and so is every cell and its mirror image across the diagonal. A transformer fed these
# encodings cannot tell apart two images that differ only by swapping the patches at (r, c) and
# (c, r): it receives the same tokens, content plus position, only listed in another order, and
# attention does not depend on the order of its tokens. (That is not a transposed image, which
# would also transpose the pixels inside each patch.) Checked with one transformer layer at random
# initialisation, its outputs averaged over the patches as a classifier would pool them, for 16
# random content vectors θ:

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
layer = torch.nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, batch_first=True).eval()
content = torch.randn(1, 16, 64, generator=torch.Generator().manual_seed(0))  # (1, 16 patches, 64): θ
swapped = list(range(16))
swapped[1], swapped[4] = 4, 1  # the contents of cells (0, 1) and (1, 0) trade places


def pooled_output(pe, order):
    """The layer's output for content θ[order] + pe, averaged over the 16 patches: (64,)."""
    with torch.no_grad():
        return layer(content[:, order] + pe).mean(1)[0]


gaps = {name: (pooled_output(pe, swapped) - pooled_output(pe, list(range(16)))).abs().max().item()
        for name, pe in [("sum", pe_sum), ("concat", pe_cat)]}
claim(gaps["sum"] < 1e-5 and gaps["concat"] > 1e-3,
      "swap the contents of patches 1 and 4: with the sum the layer's pooled output stays the same (largest change "
      "{sum:.0e}); with the concatenation it changes (by up to {concat:.3f})", exact=True, sum=gaps["sum"],
      concat=gaps["concat"])

# %% [markdown]
# A 224-pixel ViT with 16-pixel patches has a 14×14 grid: 91 such pairs of cells.
#
# **The fix: concatenate.** Give the first half of the channels to the row's encoding and the
# second half to the column's (as MAE and "simple ViT" do). The two coordinates then live in
# separate channels and can never cancel or swap. Every cell is unique (above), and it keeps
# what was good about the sum:

# %%
# NBVAL_CHECK_OUTPUT
s_cat = positional.cosine_similarity_matrix(pe_cat)  # (16, 16)
print(f"2D concat: patch 0 vs 1: {s_cat[0, 1]:.4f}, patch 0 vs 4: {s_cat[0, 4]:.4f}, patch 3 vs 4: {s_cat[3, 4]:.4f}")
print_groups("2D concat", s_cat)
side_cat, above_cat, wrap_cat = group_values(s_cat).values()
claim(closest_two_are_1_and_4(s_cat) and torch.allclose(above_cat.sort().values, side_cat.sort().values, atol=1e-6),
      "with the concatenation, too, patches 1 and 4 are patch 0's most similar ({s01:.4f} each), and every patch "
      "is as similar to the one below it as to the one beside it", exact=True, s01=s_cat[0, 1].item())
nb_cat, nb_sum = torch.cat([side_cat, above_cat]).min().item(), torch.cat([side_sum, above_sum]).min().item()
place = {name: ranked(sim, 4).index(3) + 1 for name, sim in [("sum", s_sum), ("concat", s_cat)]}
others_1d = torch.cat([s1[4, :3], s1[4, 5:]])  # patch 4's similarity to its 15 others in 1D (index 3 is patch 3)
tied_first_1d = bool(s1[4, 3] >= others_1d.max() - 1e-6)
print("where patch 3 ranks among patch 4's 15 others (1 = most similar):", place, "| 1D: tied for first:", tied_first_1d)
claim(wrap_cat.max() < nb_cat and place["concat"] > place["sum"] > 1 and tied_first_1d,
      "and the row-wrap pairs fall well behind the neighbours: 3-4 is {s34:.4f} against {nb:.4f} for the least "
      "similar grid neighbours (with the sum: {w_sum:.4f} against {nb_sum:.4f}). Ranked within each encoding, patch 3 "
      "is only the {r_cat}th most similar of patch 4's 15 others (with the sum the {r_sum}th; in 1D it ties for the "
      "first)", exact=True, s34=s_cat[3, 4].item(), nb=nb_cat, w_sum=wrap_sum.max().item(), nb_sum=nb_sum,
      r_cat=place["concat"], r_sum=place["sum"])

# %% [markdown]
# The three similarity matrices on one colour scale (white lines separate the grid's rows). What
# the claims above measured, you can see here: in 1D the bright band beside the diagonal runs
# straight across the row boundaries (3–4, 7–8, 11–12 tie with true neighbours); with the
# concatenation it dims there, and a second band, four places off the diagonal (a patch and the
# one below it), is as bright as the first; the sum is bright nearly everywhere, because it lifts
# every similarity.

# %%
fig = viz.heatmap_panels({"1D order": s1, "2D sum (the notes)": s_sum, "2D concat (fixed)": s_cat},
                         xlabel="patch", ylabel="patch", cbar_label="cosine similarity", block=4,
                         **SIMILARITY_SCALE)

# %% [markdown]
# ### Similarity maps, one per patch
#
# Each small map shows one patch's similarity to all 16 patches, drawn at that patch's place
# in the grid (the way the ViT paper's figure 7 shows learned position embeddings); the red
# dot marks the patch itself. All 48 maps share one colour scale. A good 2D encoding gives
# each patch a bright spot at its own place, fading with distance on the grid.

# %%
fig = viz.similarity_maps_panels({"1D order": pe16, "2D sum (the notes)": pe_sum, "2D concat (fixed)": pe_cat},
                                 4, 4, **SIMILARITY_SCALE)

# %% [markdown]
# What the maps show, measured: in 1D, patch 3's map is as bright at patch 4 as at its real
# neighbour 2; each of the sum's maps is symmetric about the diagonal, and patches 1 and 4 have
# the same map; the concatenation's maps fade with grid distance in both directions.

# %%
# NBVAL_CHECK_OUTPUT
rows, cols = torch.arange(16) // 4, torch.arange(16) % 4  # (16,): each patch's place on the grid
grid_distance = (rows[:, None] - rows[None]).abs() + (cols[:, None] - cols[None]).abs()  # (16, 16), in steps


def neighbours_first(sim):
    """Patches whose 2 to 4 grid neighbours are more similar to them than any other patch."""
    return [i for i in range(16) if sim[i][grid_distance[i] == 1].min() > sim[i][grid_distance[i] > 1].max()]


def fades_with_distance(sim):
    """Patches whose similarity falls strictly with every extra step of grid distance."""
    fading = []
    for i in range(16):
        levels = [sim[i][grid_distance[i] == d] for d in range(int(grid_distance[i].max()) + 1)]
        if all(near.min() > far.max() for near, far in zip(levels, levels[1:])):
            fading.append(i)
    return fading


def symmetric_maps(sim):
    """Patches whose 4×4 map is its own mirror image across the diagonal."""
    maps = sim.reshape(16, 4, 4)  # (patch, row, column)
    return [i for i in range(16) if (maps[i] - maps[i].T).abs().max() < 1e-6]


for name, sim in [("1D order", s1), ("2D sum", s_sum), ("2D concat", s_cat)]:
    print(f"{name:9s} neighbours most similar: {len(neighbours_first(sim)):2d} of 16 patches | fades with grid "
          f"distance: {len(fades_with_distance(sim)):2d} | symmetric maps: {len(symmetric_maps(sim)):2d}")
best_for_3 = s1[3].clone()
best_for_3[3] = -1
claim(abs(s1[3, 4] - s1[3, 2]) < 1e-5 and s1[3, 4] >= best_for_3.max() - 1e-6 and neighbours_first(s1) == [],
      "in 1D, patch 3's brightest spots besides itself are patch 2 and patch 4 ({s:.4f} each), and for none of "
      "the 16 patches are its grid neighbours the most similar ones", exact=True, s=s1[3, 4].item())
twin_first = [i for i in range(16) if rows[i] != cols[i]
              and s_sum[i, 4 * cols[i] + rows[i]] > s_sum[i][grid_distance[i] == 1].max()]  # mirror cell beats them
claim(len(symmetric_maps(s_sum)) == 16 and (s_sum[1] - s_sum[4]).abs().max() < 1e-6 and len(twin_first) == 12,
      "with the sum, all 16 maps are symmetric about the diagonal and patches 1 and 4 have the same map; grid "
      "neighbours come first for only {n} patches ({which}); for all {twins} cells off the diagonal the mirror cell "
      "comes before them", exact=True, n=len(neighbours_first(s_sum)), which=neighbours_first(s_sum),
      twins=len(twin_first))
claim(fades_with_distance(s_cat) == list(range(16)) and symmetric_maps(s_cat) == [0, 5, 10, 15],
      "with the concatenation, every patch's similarity falls with each step of grid distance, and only the 4 "
      "maps of cells on the diagonal ({which}) are symmetric", exact=True, which=symmetric_maps(s_cat))

# %% [markdown]
# A caution for reading any such figure: the sum's maps look bright everywhere because the sum
# lifts every similarity (section 4). Within one encoding, the order of the similarities tells
# which patches are near; their brightness next to another encoding's does not.
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
# 5–6, 6–7 and 7–8 were equal). Directly, for one pair:
#
# $$\sin\omega p \cdot \sin\omega(p+k) + \cos\omega p \cdot \cos\omega(p+k) = \cos\omega k,$$
#
# so $PE(p)\cdot PE(p+k) = \sum_i \cos(\omega_i k)$, a sum over the d/2 pairs with no p in it.
# At k = 0 every pair gives 1: ‖PE(p)‖² = d/2 = 32 for every position when d = 64, so the cosine
# similarity of section 3 is this dot product divided by 32 (for neighbours, 30.9168 / 32 = 0.9662).

# %%
# NBVAL_CHECK_OUTPUT
table = positional.sinusoidal_1d(64, 64).double()  # (64 positions, 64 channels)
errors, dot_spreads = [], []
for k in [1, 3, 10]:
    M = positional.shift_matrix(k, 64)  # (64, 64): block-diagonal 2x2 rotations
    predicted = table[:-k] @ M.T  # (64 - k, 64): M_k applied to every PE(p)
    errors.append((predicted - table[k:]).abs().max().item())
    dots = (table[:-k] * table[k:]).sum(-1)  # (64 - k,): PE(p) · PE(p + k) for every p
    dot_spreads.append((dots.max() - dots.min()).item())
    print(f"k={k:2d}: PE(p)·PE(p+k) = {dots.mean():.4f} for every p = 0..{63 - k}")
M = positional.shift_matrix(3, 64)
claim(max(errors) < 1e-6 and max(dot_spreads) < 1e-6,
      "for k = 1, 3 and 10, M_k·PE(p) = PE(p + k) at all positions, and PE(p)·PE(p + k) is the same for every p "
      "(both to 1e-6)", exact=True)
claim(torch.allclose(M @ M.T, torch.eye(64, dtype=torch.float64)), "M_3 is orthogonal: M Mᵀ = I", exact=True)
omega = 10000 ** (-torch.arange(0, 64, 2, dtype=torch.float64) / 64)  # (32,): one frequency per pair
norms = (table * table).sum(-1)  # (64,): ‖PE(p)‖² for every p
dot_1 = (table[:-1] * table[1:]).sum(-1).mean().item()
claim((norms - 32).abs().max() < 1e-5 and abs(dot_1 - torch.cos(omega).sum().item()) < 1e-5
      and abs(dot_1 / 32 - profile[1]) < 1e-6,
      "‖PE(p)‖² = 32 at every position, PE(p)·PE(p + 1) = Σ cos(ω_i) = {dot:.4f}, and {dot:.4f} / 32 = {cos:.4f}, "
      "the neighbours' cosine similarity (each to 1e-5; the table is float32)", exact=True, dot=dot_1, cos=dot_1 / 32)

# %% [markdown]
# ## 6. A learned table: one vector per patch, not per pixel
#
# One set of notes builds a *learned* table for a 32×32 image cut into 16×16 patches:
# `pos_embed`, a parameter of shape (1, 4, 768) that starts at zero and is added to the 4 patch
# embeddings after the linear projection. Beside it they write that every pixel of the image has
# its own positional embedding value. The count does match; the meaning does not:

# %%
# NBVAL_CHECK_OUTPUT
image_size, patch_size, channels, embed_dim = 32, 16, 3, 768  # the notes' settings
num_patches = (image_size // patch_size) ** 2  # 4 = 2·2
patch_dim = patch_size * patch_size * channels  # 768 numbers in one flattened patch
pos_embed = torch.zeros(1, num_patches, embed_dim)  # (1, 4, 768), as the notes initialise it
print("pos_embed:", tuple(pos_embed.shape), f"= {pos_embed.numel():,} numbers;",
      f"the image: {channels}×{image_size}×{image_size} = {channels * image_size ** 2:,} pixel values")
claim(pos_embed.numel() == channels * image_size ** 2 and patch_dim == embed_dim,
      "the counts agree only because the embedding width equals the patch size in numbers ({embed_dim} = 16·16·3); "
      "with ViT-Tiny's width 192 the table would hold {tiny:,} numbers for the same {pixels:,} pixel values",
      exact=True, embed_dim=embed_dim, tiny=num_patches * 192, pixels=channels * image_size ** 2)
claim(pos_embed.shape[1] == num_patches and len(identical_pairs(pos_embed[0])) == num_patches * (num_patches - 1) // 2,
      "one row per patch, indexed by (patch, channel of the embedding): no pixel owns a value, and at the start "
      "all {n} pairs of the notes' zero rows are identical, so the table carries no position until training "
      "moves it", exact=True, n=len(identical_pairs(pos_embed[0])))
learned = positional.LearnedPositionalEmbedding(num_patches, embed_dim)  # drawn at random with std 0.02
spread = learned.table.detach().std().item()
claim(identical_pairs(learned.table.detach()) == [] and 0.015 < spread < 0.025,
      "course_utils' LearnedPositionalEmbedding starts from small random rows instead (drawn with std 0.02 as in "
      "timm; measured over its {n:,} numbers: {std:.4f}): 0 identical pairs", exact=True, n=learned.table.numel(),
      std=spread)

# %% [markdown]
# ## 7. Explore
#
# Pick an encoding and a patch; the map shows its similarity to every patch (the red star is
# the patch itself), on the same 0.6 to 1 colour scale as the figures above. As there, read the
# order of the values within one map, not its brightness next to another encoding's.

# %%
# NBVAL_IGNORE_OUTPUT: an interactive widget; its view is not text
widgets.similarity_explorer({"2D concat": pe_cat, "2D sum (notes)": pe_sum, "1D order": pe16}, 4, 4,
                            **SIMILARITY_SCALE)

# %% [markdown]
# ## 8. Exercises
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
# **Exercise 3 (predict).** Section 3 printed the similarity at every offset up to 15 for D = 64
# (neighbours: 0.9662). Predict the cosine similarity of positions 0 and 20, and of positions 0
# and 200, in the same 1D encoding with D = 64.

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
why_dim = ("a wider table samples the same range of frequencies (1 down to about 1/10000) more densely, so the few "
           "fast pairs that decorrelate neighbours make up a smaller share of the mean cosine")

# %%
# NBVAL_CHECK_OUTPUT
checks.check_dimension_experiment(smallest_dim, why_dim)

# %% [markdown]
# ## Summary
#
# Each point below restates a checked claim above (its section in brackets).
#
# - The standard sinusoidal encoding pairs sin and cos at one frequency per pair; it
#   reproduces the notes' table and all five of their similarities [1, 2].
# - Shifting by k is a fixed rotation of each pair, so similarity depends only on the offset
#   [3, 5]. It falls fast over the first few steps, then slowly and not even steadily [3]: the
#   slow channels keep distant positions similar.
# - 1D order is the wrong geometry for a grid: the end of one row is as similar to the start of
#   the next as a true neighbour, and the patch below is less similar than patches three columns
#   away [3]. Adding a column and a row encoding (the notes' ψ = θ + φ_x + φ_y, with θ the content
#   embedding; we compared φ_x + φ_y alone) puts the vertical neighbours level with the horizontal
#   ones and the row-wrap pairs behind both, but makes (r, c) and (c, r) identical [4]: patch by
#   patch, the grid neighbours come first for only 2 of the 16 patches [4]. Concatenating the two
#   encodings keeps the first and fixes the second: neighbours first for all 16 [4].
# - Similarities of different encodings are not on one footing: the sum lifts every one of the
#   120 pairs [4]. Compare a pair with the neighbours in the same encoding, not across encodings.
# - Notebook 04 trains learned position embeddings and draws the same maps for them.
#
# **Pitfalls found in the lecture notes.**
# 1. The exponent k/D for every channel (the second formula) gives each cosine a different
#    frequency from its sine; it does not reproduce the notes' own printed numbers [2]. Its
#    range k ∈ [0, D] has one channel too many: k runs over [0, D − 1].
# 2. The 2D sum is symmetric in row and column: on an H×H grid, H(H−1)/2 pairs of cells share an
#    encoding [4]. Concatenate instead.
# 3. A learned table of shape (1, 4, 768) holds one vector per *patch*; that its 3,072 numbers
#    match the image's 3,072 pixel values is a coincidence of the widths [6].
#
# **A pitfall of this notebook's first edition.** It said that patches 3 and 4 "dropped" in
# similarity with the sum; their similarity rose (like every pair's). What changed is their rank
# against the true neighbours [4].
#
# **References.** Vaswani et al. (2017), *Attention Is All You Need*. Dosovitskiy et al. (2021),
# *An Image is Worth 16x16 Words* (figure 7). He et al. (2022), *Masked Autoencoders Are
# Scalable Vision Learners*. Beyer, Zhai & Kolesnikov (2022), *Better plain ViT baselines for
# ImageNet-1k*. Kazemnejad (2019), *Transformer Architecture: The Positional Encoding* (blog).
