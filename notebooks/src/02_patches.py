# %% [markdown]
# # 02 · Images as sequences: patches and patch embeddings
#
# {{COLAB_BADGE}}
#
# **Learning goals.** After this notebook you can
# 1. cut an image into P×P patches and put it back together, knowing the order of everything;
# 2. show that "flatten + Linear" and "Conv2d with kernel = stride = P" are the same layer;
# 3. count tokens and attention pairs for a given patch size, and say why pixels are not tokens;
# 4. explain why a transformer needs positional information (the scrambled-puzzle test).
#
# **The lecture notes' claims we test here.**
# - A 32×32 CIFAR-10 image cut into 8×8 patches gives 16 tokens of 64 numbers each.
# - One set of notes cuts patches with `unfold(2, p, p).unfold(3, p, p)`, then
#   `permute(0, 2, 4, 1, 3, 5)` and `reshape`: we apply that recipe to a real photo and look.
# - "256×256 image → 62,500 pixels → 3,906,250,000 calculations" if every pixel is a token.
# - "Without positional encoding, transformers would not know the difference between a cat
#   and a scrambled cat puzzle."

# %%
{{COLAB_SETUP}}

import matplotlib.pyplot as plt
import torch
from torch import nn

from course_utils import checks, config, data, patches, positional, viz, widgets

config.seed_everything(0)
device = config.get_device()
print(config.summary(device))

# %% [markdown]
# ## 1. Two real images
#
# A CIFAR-10 test image (32×32, what we train on in notebook 04) and a real photograph that
# ships with matplotlib (Grace Hopper, resized to 256×256), big enough to see patches.

# %%
cifar = data.load_cifar10("test", per_class=config.pick(None, 20))
cat_index = int(torch.nonzero(cifar.targets == cifar.classes.index("cat"))[0])
cat = cifar.images[cat_index]  # (3, 32, 32) uint8
photo = data.sample_photo(256)  # (3, 256, 256) uint8
print("CIFAR-10 image:", tuple(cat.shape), cat.dtype, "| photo:", tuple(photo.shape), photo.dtype)
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
viz.patch_grid(cat, 8, title="CIFAR-10 cat: 16 patches of 8×8", ax=axes[0])
viz.patch_grid(photo, 64, title="photo: 16 patches of 64×64", ax=axes[1])
fig.tight_layout()

# %% [markdown]
# ## 2. Cutting patches, step by step
#
# `Tensor.unfold(dim, size, step)` slides a window along one dimension and **appends** the
# window as a new last dimension. Unfolding the height, then the width, gives a grid of
# patches. Read the shapes:

# %%
# NBVAL_CHECK_OUTPUT
P = 64
x = photo.unsqueeze(0).float() / 255  # (B=1, C=3, H=256, W=256)
grid = x.unfold(2, P, P)  # (B, C, n_h, W, P): windows over the height
print("after unfold(2):", tuple(grid.shape))
grid = grid.unfold(3, P, P)  # (B, C, n_h, n_w, P, P): windows over the width too
print("after unfold(3):", tuple(grid.shape), " = (B, C, n_h, n_w, P_rows, P_cols)")
tokens = grid.permute(0, 2, 3, 1, 4, 5)  # (B, n_h, n_w, C, P, P): grid first, then one patch
tokens = tokens.reshape(1, 16, 3 * P * P)  # (B, N, C·P·P): patch i = grid cell (i // 4, i % 4)
print("tokens:", tuple(tokens.shape))
print("same as course_utils.patches.patchify:", torch.equal(tokens, patches.patchify(x, P)))

# %%
fig = viz.patch_tiles(tokens[0], P, 3, ncols=4, title="the 16 tokens, each reshaped back to (3, 64, 64)")

# %% [markdown]
# ## 3. The notes' recipe, checked
#
# One set of notes writes, after the same two `unfold`s:
#
# ```python
# patches = data.unfold(2, patch_size, patch_size).unfold(3, patch_size, patch_size)
# # comment in the notes: (batch, channels, h_patches, patch_size, w_patches, patch_size)
# patches = patches.permute(0, 2, 4, 1, 3, 5).reshape(data.size(0), num_patches, -1)
# ```
#
# The comment is the trouble: after two `unfold`s the layout is
# `(B, C, n_h, n_w, P, P)`, not `(B, C, n_h, P, n_w, P)`. The permutation was written for
# the layout in the comment, so it puts a *pixel row* dimension between the grid
# dimensions. The shapes still come out right ((B, 16, 3·64·64) here), so nothing crashes.
# Here is what it calls patch 0:

# %%
# NBVAL_CHECK_OUTPUT
notes_tokens = x.unfold(2, P, P).unfold(3, P, P).permute(0, 2, 4, 1, 3, 5).reshape(1, 16, -1)  # the notes' recipe
print("notes' tokens:", tuple(notes_tokens.shape), "(the shape is fine)")
top_left = x[0, :, :P, :P]  # the real patch 0: rows 0-63, columns 0-63
print("notes' patch 0 == the top-left 64x64 square:", torch.equal(notes_tokens[0, 0].view(3, P, P), top_left))
print("fixed patch 0  == the top-left 64x64 square:", torch.equal(tokens[0, 0].view(3, P, P), top_left))
# which pixels does the notes' "patch 0" hold? mark every pixel with its own row number
rows = torch.arange(256.0).view(1, 1, 256, 1).expand(1, 3, 256, 256)
held = rows.unfold(2, P, P).unfold(3, P, P).permute(0, 2, 4, 1, 3, 5).reshape(1, 16, -1)[0, 0]
print(f"notes' patch 0 holds image rows {int(held.min())}..{int(held.max())} across the full width, "
      f"not a {P}x{P} square")

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
axes[0].imshow(top_left.permute(1, 2, 0))
axes[0].set_title("the real patch 0")
axes[1].imshow(notes_tokens[0, 0].view(3, P, P).permute(1, 2, 0))
axes[1].set_title("the notes' 'patch 0', as (3, 64, 64)")
axes[2].imshow(x[0, :, :16, :].permute(1, 2, 0), aspect="auto")
axes[2].set_title("what it holds: rows 0-15, full width")
for ax in axes:
    ax.set(xticks=[], yticks=[])
fig.tight_layout()

# %% [markdown]
# The fix is one permutation: `permute(0, 2, 3, 1, 4, 5)` (grid rows, grid columns, then the
# patch as channel, row, column). Does it matter for training? A model can still learn from
# consistently scrambled tokens, but every picture of "patch *i*" would be wrong, weights would
# not transfer to a Conv2d embedding or a pretrained ViT, and the positional encodings would
# describe positions the tokens do not come from. The Conv2d embedding is the reference:
#
# ## 4. Flatten + Linear is a Conv2d
#
# The ViT paper flattens each patch and applies one Linear map. A Conv2d with kernel size =
# stride = P computes, at each grid cell, a dot product of its kernel with that patch: the
# same thing, with the weight stored as (D, C, P, P) instead of (D, C·P·P). Copy the weights and
# the two agree; through the notes' recipe they do not.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
images = data.normalize(cifar.images[:8], data.CIFAR10_MEAN, data.CIFAR10_STD)  # (8, 3, 32, 32)
conv = patches.PatchEmbedding(image_size=32, patch_size=8, in_channels=3, embed_dim=64)  # the notes' sizes
linear = patches.LinearPatchEmbedding.from_conv(conv)  # weight (64, 3, 8, 8) → (64, 192)
with torch.no_grad():
    by_conv = conv(images)  # (8, 16, 64)
    by_linear = linear(images)  # (8, 16, 64)
    notes_way = linear.proj(images.unfold(2, 8, 8).unfold(3, 8, 8).permute(0, 2, 4, 1, 3, 5).reshape(8, 16, -1))
print("tokens:", tuple(by_conv.shape), "= (batch, 16 patches, 64 numbers each)")
print("Conv2d vs patchify + Linear agree to 1e-5:     ", torch.allclose(by_conv, by_linear, atol=1e-5))
print("Conv2d vs notes' recipe + Linear agree to 1e-5:", torch.allclose(by_conv, notes_way, atol=1e-5))

# %% [markdown]
# ## 5. How many tokens? Why pixels are not tokens
#
# Self-attention compares every token with every token: N tokens give an N×N attention
# matrix, per head and per layer. For a 256×256 image, one set of notes says that treating
# each pixel as a token gives "62,500 pixels → 3,906,250,000 calculations". Let's count.

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'patch':>6} {'tokens N':>10} {'N² entries':>16} {'one fp32 N×N matrix':>20}")
for p in [32, 16, 8, 4, 2, 1]:
    n = patches.num_patches(256, p)
    print(f"{p:6d} {n:10,d} {n * n:16,d} {n * n * 4 / 2**30:17.3f} GiB")
print(f"\nthe notes: 62,500 = 250² (not 256² = {256 * 256:,}); 3,906,250,000 = 62,500²")

# %% [markdown]
# The notes' numbers are those of a **250×250** image: 256×256 has 65,536 pixels and an
# attention matrix of 65,536² = 4,294,967,296 entries (10% more): 16 GiB in float32, for one
# head of one layer. With 16×16 patches (the ViT paper's "16x16 words") the same image is 256
# tokens and a 256×256 matrix. That is why ViTs use patches.
#
# ## 6. The class token, and the scrambled puzzle
#
# A ViT prepends one learned vector, the **class token** (CLS), to the patch tokens; after
# the encoder, the CLS output alone feeds the classifier. Self-attention treats its input as
# a *set*: permute the patch tokens and each output is permuted the same way, and the CLS
# output, which attends to all of them, does not change at all. We test it with a real
# encoder (random weights suffice: the property holds for every weight).

# %%
torch.manual_seed(0)
embed = patches.PatchEmbedding(32, 8, 3, 64)
cls_token = nn.Parameter(torch.randn(1, 1, 64) * 0.02)  # (1, 1, D), learned in a real ViT
layer = nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, batch_first=True, dropout=0.0)
encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False).eval()
pos = positional.sinusoidal_2d(4, 4, 64)  # (16, 64): one vector per grid cell


def cls_output(tokens, with_positions):
    """Patch tokens (B, 16, 64) → the CLS token's output (B, 64)."""
    if with_positions:
        tokens = tokens + pos
    sequence = torch.cat([cls_token.expand(len(tokens), -1, -1), tokens], dim=1)  # (B, 1 + 16, 64)
    return encoder(sequence)[:, 0]


image = data.normalize(cat.unsqueeze(0), data.CIFAR10_MEAN, data.CIFAR10_STD)  # (1, 3, 32, 32)
with torch.no_grad():
    tokens = embed(image)  # (1, 16, 64)
    shuffled, perm = patches.scramble(tokens, torch.Generator().manual_seed(1))
    # a position belongs to a grid cell, not to a patch's content: it stays where it is
    results = {w: (cls_output(tokens, w), cls_output(shuffled, w)) for w in (False, True)}

# %%
# NBVAL_CHECK_OUTPUT
for with_positions, (original, scrambled) in results.items():
    same = torch.allclose(original, scrambled, atol=1e-5)
    print(f"{'with' if with_positions else 'without':7s} positional encoding: CLS output unchanged by scrambling: {same}")

# %%
scrambled_image = patches.unpatchify(patches.patchify(cifar.images[[cat_index]].float(), 8)[:, perm], 8, 32, 3)
fig, axes = plt.subplots(1, 2, figsize=(6, 3))
viz.patch_grid(cat, 8, title="a cat", ax=axes[0])
viz.patch_grid(scrambled_image[0].byte(), 8, numbers=False, title="a scrambled cat puzzle", ax=axes[1])
fig.tight_layout()

# %% [markdown]
# Without positions the encoder cannot tell the two apart: the notes' claim, proven exactly
# rather than suggested. Adding a position vector per grid cell breaks the symmetry; which
# vectors work best is notebook 03's subject.
#
# ## 7. Explore: the patch size
#
# Move the slider: smaller patches mean more tokens, finer detail, and an attention matrix
# that grows with the *fourth* power of 1/P.

# %%
# NBVAL_IGNORE_OUTPUT: an interactive widget; its view is not text
widgets.patch_size_explorer(photo)

# %% [markdown]
# ## 8. Exercises
#
# **Exercise 1.** Write `my_patchify(images, P)`: images (B, C, H, W) → (B, N, C·P·P), patches
# in row-major order, each flattened as (C, P, P). (No `course_utils` inside!)

# %% tags=["solution"]
def my_patchify(images, p):
    b, c, h, w = images.shape
    x = images.reshape(b, c, h // p, p, w // p, p)  # (B, C, n_h, P, n_w, P)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, n_h, n_w, C, P, P)
    return x.reshape(b, (h // p) * (w // p), c * p * p)

# %%
# NBVAL_CHECK_OUTPUT
checks.check_patchify(my_patchify)

# %% [markdown]
# The solution above reaches the notes' permutation `(0, 2, 4, 1, 3, 5)` legitimately: after
# a `reshape` to (B, C, n_h, P, n_w, P) the comment in the notes *is* the layout. With `unfold`
# it is not. Same numbers, different layouts: always check which one you have.
#
# **Exercise 2.** A 224×224 image with 16×16 patches, plus a class token: how many tokens
# does the encoder see, and how many entries has one attention matrix?

# %% tags=["solution"]
tokens_224 = (224 // 16) ** 2 + 1
entries_224 = tokens_224**2

# %%
# NBVAL_CHECK_OUTPUT
checks.check_token_count(tokens_224, entries_224)

# %% [markdown]
# ## Summary
#
# - `patchify`: unfold height and width, put the grid dimensions first, flatten each patch
#   as (C, P, P). `unpatchify` inverts it exactly; both are tested.
# - Flatten + Linear ≡ Conv2d(kernel = stride = P) once the weight is reshaped.
# - Tokens: (H/P)·(W/P); attention entries: their square. Pixels as tokens are hopeless
#   beyond tiny images.
# - Self-attention is permutation-equivariant; the CLS output is permutation-invariant.
#   Positional encodings are what make order visible.
#
# **Pitfalls found in the lecture notes.**
# 1. The `unfold` + `permute(0, 2, 4, 1, 3, 5)` recipe mixes pixel rows of neighbouring
#    patches; its comment describes a layout that `unfold` does not produce. Fix:
#    `permute(0, 2, 3, 1, 4, 5)`.
# 2. 256×256 is 65,536 pixels and 4,294,967,296 attention entries, not 62,500 and
#    3,906,250,000 (those are 250×250's).
#
# **References.** Dosovitskiy et al. (2021), *An Image is Worth 16x16 Words*. Vaswani et al.
# (2017), *Attention Is All You Need*. Lee et al. (2019), *Set Transformer* (permutation
# invariance).
