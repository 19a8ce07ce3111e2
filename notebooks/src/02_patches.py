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
# - The Keras notes' "ViT": one `TransformerBlock(embed_dim=64, num_heads=4, ff_dim=128)` on the
#   raw 32×32×3 images, then `Flatten` and a softmax (section 5b: does it run, what is it, what
#   does it learn?), and their table of CNNs vs ViTs (local vs global, data needs).

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
# ## 5b. Why patches: the other notes' ViT attends over pixels
#
# The Keras set of lecture notes trains "a Vision Transformer on CIFAR-10" by applying one
# transformer block to the images as they are, with no patches and no positional encoding:
# `TransformerBlock(embed_dim=64, num_heads=4, ff_dim=128)`, then `Flatten`, then a 10-way
# softmax `Dense`, trained with Keras' default Adam for 10 epochs on images scaled to [0, 1].
# Their block is post-norm, two residual lines:
#
# $$\text{out}_1 = \mathrm{LN}_1\big(x + \mathrm{MHA}(x, x)\big), \qquad
#   y = \mathrm{LN}_2\big(\text{out}_1 + \mathrm{FFN}(\text{out}_1)\big),$$
#
# with `MultiHeadAttention(num_heads=4, key_dim=64)`, an FFN `Dense(128, relu) → Dense(64)`,
# and both LayerNorms at ε = 10⁻⁶. `course_utils.keras_notes` rebuilds it layer for layer,
# with Keras' defaults wherever the notes set nothing (its docstring lists them), and like
# Keras it takes channels-last images (B, 32, 32, 3).
#
# **As written.** Follow the widths. Keras' attention projects its output back to the query's
# last dimension, 3, so `out1` has 3 numbers per pixel; the FFN takes them to 128 and then to
# `embed_dim` = 64. The second residual adds a 3-wide tensor to a 64-wide one:

# %%
# NBVAL_CHECK_OUTPUT
import copy
import json
import urllib.request
from pathlib import Path

import course_utils
from course_utils import keras_notes, profiling, vit
from course_utils.claims import claim

batch = cifar.images[:2].permute(0, 2, 3, 1).float() / 255  # (B=2, 32, 32, 3): channels-last, x / 255
torch.manual_seed(0)
as_written = keras_notes.NotesModel(fixed=False)
try:
    as_written(batch)
except ValueError as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# TensorFlow's Keras stops at the same addition, while it traces the first training step, with
# a ValueError of the form "Dimensions must be equal, but are 3 and 64 … with input shapes:
# [?,32,32,3], [?,32,32,64]" (TensorFlow's wording; we did not run TensorFlow here). The model
# in the notes cannot have trained as printed.
#
# **The smallest fix.** Two one-line repairs make it run: (a) the FFN's last layer returns to
# the input's width, `Dense(3)` instead of `Dense(embed_dim)`; (b) a `Dense(64)` in front of the
# block, so that each pixel enters as 64 numbers. We take (a): it changes one argument of one
# layer and keeps everything else as the notes have it (the attention with `key_dim=64`, the
# `Flatten`, the classifier). (b) adds a layer and makes the flattened output 21 times wider
# (32·32·64 = 65,536 numbers instead of 3,072), and the final Dense with it. (b) is, incidentally,
# a patch embedding with 1×1 patches: the first step toward patches.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
model = keras_notes.NotesModel(fixed=True).eval()  # the FFN ends in Dense(3)
with torch.no_grad():
    logits = model(batch)
print("fixed model:", tuple(batch.shape), "→ logits", tuple(logits.shape))
# by hand: C numbers per pixel, h heads of key_dim k, FFN width F, K classes, 32·32 pixels
C, h, k, F, K = 3, 4, 64, 128, 10
by_hand = (3 * (C * h * k + h * k)  # W_q, W_k, W_v with biases: 3 → 4·64 each
           + (h * k * C + C)  # W_o: 4·64 → 3
           + 2 * C + (C * F + F) + (F * C + C) + 2 * C  # LayerNorm, Dense(128), Dense(3), LayerNorm
           + (32 * 32 * C * K + K))  # Dense(10) on the 3,072 flattened numbers
for layer, n in keras_notes.parameter_formula(model.config).items():
    print(f"  {layer:40s} {n:7,d}")
counted = sum(p.numel() for p in model.parameters())
claim(counted == by_hand, "the fixed model has {counted:,} parameters, as counted by hand ({by_hand:,}); "
      "{share:.0%} of them are the final Dense", exact=True, counted=counted, by_hand=by_hand,
      share=model.dense.weight.numel() / counted)

# %% [markdown]
# ### What it really is: pixels as tokens
#
# Keras' `MultiHeadAttention` attends over every axis between the batch and the features. On a
# (B, 32, 32, 3) image those are both spatial axes: 1,024 tokens, one per pixel, of 3 numbers
# each. Written out, the block's attention is:

# %%
# NBVAL_CHECK_OUTPUT
att = model.block.att
with torch.no_grad():
    pixels = batch.reshape(2, 32 * 32, 3)  # (B, L = 1,024 pixels, 3 numbers each)

    def heads(proj):  # (B, L, 3) → (B, heads, L, key_dim): 64 numbers per head, computed from 3
        return proj(pixels).view(2, 1024, 4, 64).transpose(1, 2)

    q, keys, values = heads(att.query), heads(att.key), heads(att.value)
    weights = (q @ keys.transpose(-2, -1) / 64**0.5).softmax(dim=-1)  # (B, 4, 1024, 1024)
    mixed = (weights @ values).transpose(1, 2).reshape(2, 1024, 4 * 64)  # (B, L, heads·key_dim)
    inline = att.output_dense(mixed).view(2, 32, 32, 3)  # back to 3 numbers per pixel
    tested, tested_weights = att(batch, return_attention=True)
print("pixel tokens:", tuple(pixels.shape), "| attention weights:", tuple(weights.shape))
print("inline == course_utils.keras_notes, to 1e-5:", torch.allclose(inline, tested, atol=1e-5))
print("and == its fused path (F.scaled_dot_product_attention):", torch.allclose(inline, att(batch), atol=1e-5))

# %% [markdown]
# Every head compares every pixel with every pixel. Per image and per block, that is:

# %%
# NBVAL_CHECK_OUTPUT
entries = {"the notes' block: 1,024 pixels, 4 heads": 4 * 1024**2,
           "course ViT block: 64 patches + CLS, 3 heads": 3 * 65**2,
           "course ViT block: 16 patches + CLS (conv stem), 3 heads": 3 * 17**2}
for name, n in entries.items():
    print(f"{name:55s} {n:11,d} attention weights")
claim(tested_weights[0].numel() == 4 * 1024**2,
      "the notes' block holds {ratio_64:,.0f}× the attention weights of a patch-4 block "
      "and {ratio_16:,.0f}× those of a conv-stem block", exact=True,
      ratio_64=4 * 1024**2 / (3 * 65**2), ratio_16=4 * 1024**2 / (3 * 17**2))

# %% [markdown]
# What that costs in time and memory, per image on the CPU (`python benchmarks/keras_notes_cifar10.py
# cost`; measured here on a few random images when the results file has no cost rows yet).
# "fused" is PyTorch's `F.scaled_dot_product_attention`, which never stores the L×L matrix;
# "written" stores it, as Keras' `MultiHeadAttention` does. Times under a few milliseconds and
# memories under 1 MB are at the limit of what the benchmark resolves: compare rows only where
# they differ several-fold.


# %%
def bench_results(name):
    """benchmarks/results/<name>: from this checkout, or on Colab from the course repository."""
    local = Path(course_utils.__file__).resolve().parents[1] / "benchmarks" / "results" / name
    if local.exists():
        return json.loads(local.read_text())
    if config.in_colab():
        try:
            with urllib.request.urlopen(f"{{REPO_URL}}/raw/main/benchmarks/results/{name}") as response:
                return json.loads(response.read())
        except OSError:  # offline, or not published yet
            pass
    return {"rows": []}


def ms_per_image(module, inputs, repeat=5):
    """Fastest of ``repeat`` forward passes, in milliseconds per image."""
    with torch.inference_mode():
        return 1e3 * min(profiling.time_fn(lambda: module(inputs), repeat=1) for _ in range(repeat)) / len(inputs)


cost = [r for r in bench_results("keras_notes_cifar10.json")["rows"] if r["section"] == "cost"]
if cost:
    print(f"{'forward pass, per image (benchmark file)':44s} {'fused ms':>9s} {'written ms':>10s} "
          f"{'fused MB':>9s} {'written MB':>10s}")
    for r in cost:
        print(f"{r['name']:44s} {r['fused_ms_per_image']:9.2f} {r['written_ms_per_image']:10.2f} "
              f"{r['fused_mb_per_image']:9.2f} {r['written_mb_per_image']:10.2f}")
    by_name = {r["name"]: r for r in cost}
    notes_ms = by_name["notes block, 1,024 pixel tokens"]["fused_ms_per_image"]
    patch_ms = by_name["course block, 64 patches + CLS (patch 4)"]["fused_ms_per_image"]
else:
    print("no cost rows in benchmarks/results/keras_notes_cifar10.json yet: measured here (time only)")
    torch.manual_seed(0)
    course_block = vit.Block(192, 3, 384).eval()
    notes_ms = ms_per_image(model.block, torch.rand(4, 32, 32, 3))
    patch_ms = ms_per_image(course_block, torch.randn(4, 65, 192))
    print(f"the notes' block, 1,024 pixel tokens: {notes_ms:8.2f} ms per image")
    print(f"a course ViT block, 65 patch tokens:  {patch_ms:8.2f} ms per image")
claim(notes_ms > 5 * patch_ms, "one block over 1,024 pixels is more than 5× slower than a course block over 65 "
      "patches of 192 numbers: {notes_ms:.2f} vs {patch_ms:.2f} ms per image", notes_ms=notes_ms, patch_ms=patch_ms)

# %% [markdown]
# ### Without positions, a set of pixels
#
# Nothing in the block knows where a pixel sits: no patch grid, no positional encoding.
# Attention is then permutation-equivariant (section 6 proves it for patches): shuffle the
# 1,024 pixels, and the block returns the same outputs, shuffled the same way. Only the
# `Flatten` + `Dense` at the end, whose weights are laid out pixel by pixel, can tell where a
# pixel was. We check it in float64, which takes rounding out of the picture (in float32 the
# sums over 1,024 keys run in another order, and the LayerNorm over 3 numbers magnifies that
# rounding).

# %%
# NBVAL_CHECK_OUTPUT
model64 = copy.deepcopy(model).double()
pixel_perm = torch.randperm(1024, generator=torch.Generator().manual_seed(1))


def shuffle_pixels(x):
    """(B, 32, 32, C) → the same pixels in the order pixel_perm."""
    return x.reshape(x.shape[0], 1024, x.shape[-1])[:, pixel_perm].reshape(x.shape)


with torch.no_grad():
    x64 = batch.double()
    block_gap = (model64.block(shuffle_pixels(x64)) - shuffle_pixels(model64.block(x64))).abs().max().item()
    logit_gap = (model64(shuffle_pixels(x64)) - model64(x64)).abs().max().item()
print("block(shuffled pixels) == shuffled block(pixels), to 1e-5:", block_gap < 1e-5)
print("model(shuffled pixels) == model(pixels), to 1e-5:         ", logit_gap < 1e-5)

# %%
claim(block_gap < 1e-5, "the block is permutation-equivariant: shuffled pixels in, the same outputs shuffled "
      "the same way out (largest difference {block_gap:.1e})", exact=True, block_gap=block_gap)
claim(logit_gap > 1e-3, "the model's logits change (by up to {logit_gap:.3f}): only the Dense after Flatten "
      "knows where a pixel was", logit_gap=logit_gap)

cat_pixels = cat.permute(1, 2, 0).unsqueeze(0).float() / 255  # (1, 32, 32, 3)
with torch.no_grad():
    seen = model.block(cat_pixels)[0]  # (32, 32, 3)
    seen_shuffled = model.block(shuffle_pixels(cat_pixels))[0]
    mixed_in, cat_weights = model.block.att(cat_pixels, return_attention=True)  # (1, 32, 32, 3), (1, 4, L, L)
put_back = seen_shuffled.reshape(1024, 3)[torch.argsort(pixel_perm)].reshape(32, 32, 3)
claim((1024 * cat_weights - 1).abs().max() < 0.05 and mixed_in.reshape(1024, 3).std(0).max() < 1e-3,
      "with its initial weights the attention is almost uniform (every weight within {dev:.1%} of 1/1,024), so it "
      "adds nearly the same vector, a projection of the image's mean, to every pixel (spread over pixels {spread:.1e})",
      dev=(1024 * cat_weights - 1).abs().max().item(), spread=mixed_in.reshape(1024, 3).std(0).max().item())


def as_rgb(x):
    """Any (32, 32, 3) → [0, 1] channel by channel (2nd to 98th percentile), to see 3 numbers as a colour."""
    low, high = x.reshape(-1, 3).quantile(0.02, dim=0), x.reshape(-1, 3).quantile(0.98, dim=0)
    return ((x - low) / (high - low)).clamp(0, 1)


fig, axes = plt.subplots(1, 4, figsize=(11, 3.2))
for ax, (picture, title) in zip(axes, [(cat_pixels[0], "a cat"), (as_rgb(seen), "block output\n(3 numbers as RGB)"),
                                       (shuffle_pixels(cat_pixels)[0], "its pixels shuffled"),
                                       (as_rgb(put_back), "block output of the shuffled cat,\nput back in place")]):
    ax.imshow(picture)
    ax.set(title=title, xticks=[], yticks=[])
fig.tight_layout()

# %% [markdown]
# ### What it learns in the lecture's 10 minutes
#
# `benchmarks/keras_notes_cifar10.py budget` trains the fixed model for 10 minutes of
# wall-clock time on two CPU cores, on notebook 04's split (45,000 training, 5,000 validation,
# 10,000 test images; scoring with 1,024-token attention is slow (the cost table above), so the model is
# scored on a stratified 2,000 of the test images and 1,000 of the validation images, which puts
# about ±1 point of sampling noise on each accuracy: the binomial standard error at 32 % on 2,000 images is √(0.32·0.68/2000) ≈ 1 point), for each seed in the table: the notes' recipe (Keras' Adam defaults, batch 32,
# x / 255, no augmentation) and the course's (notebook 04's 10-minute recipe: AdamW, warm-up and
# cosine, crop + flip, label smoothing, bfloat16). The notes validate on the test set; here the
# 5,000 held-out images validate and the test set is only reported. On a GPU the same 10
# minutes buy many more steps, and the numbers differ.

# %%
budget = [r for r in bench_results("keras_notes_cifar10.json")["rows"]
          if r["section"] == "budget" and r["minutes"] == 10 and r.get("per_class") is None]
reference = {r["name"]: r for r in bench_results("vit_cifar10.json")["rows"]
             if r["section"] == "budget" and r["minutes"] == 10}
pixel_acc = {}  # recipe → test accuracies over seeds
for r in budget:
    pixel_acc.setdefault(r["name"], []).append(r["test_acc"])
print(f"{'10 minutes, 2 CPU cores (test accuracy)':48s} {'seeds':>5s} {'epochs':>7s} {'test %':>7s} {'range':>13s}")
for name, accs in pixel_acc.items():
    epochs = sum(r["epochs"] for r in budget if r["name"] == name) / len(accs)
    print(f"{'pixels as tokens, ' + name + ' recipe':48s} {len(accs):5d} {epochs:7.2f} "
          f"{sum(accs) / len(accs):7.2f} {min(accs):6.2f}-{max(accs):6.2f}")
labels = {"notes": "the patch notes' ViT (notebook 04)", "best-vit": "conv-stem ViT (notebook 04)",
          "cnn": "small CNN (notebook 04)"}
for name, label in labels.items():
    if name in reference:
        print(f"{label:48s} {1:5d} {reference[name]['epochs']:7.2f} {reference[name]['test_acc']:7.2f}")
if not pixel_acc:
    print("pixels as tokens: not measured yet (run `python benchmarks/keras_notes_cifar10.py budget "
          "--recipe notes --seed 0`, then with --recipe course and --seed 1)")
elif "best-vit" in reference:
    best_recipe = max(pixel_acc, key=lambda n: sum(pixel_acc[n]) / len(pixel_acc[n]))
    best_pixels = sum(pixel_acc[best_recipe]) / len(pixel_acc[best_recipe])
    claim(max(max(a) for a in pixel_acc.values()) < reference["best-vit"]["test_acc"],
          "pixels as tokens trail the conv-stem ViT under the same 10 minutes: {pixels:.1f} % "
          "({recipe} recipe, mean of seeds) vs {vit:.1f} %", pixels=best_pixels, recipe=best_recipe,
          vit=reference["best-vit"]["test_acc"])
    if len(pixel_acc) == 2 and all(len(a) > 1 for a in pixel_acc.values()):
        means = {n: sum(a) / len(a) for n, a in pixel_acc.items()}
        gap = abs(means["course"] - means["notes"])
        spread = max(max(a) - min(a) for a in pixel_acc.values())
        print(f"recipes: course {means['course']:.2f} % vs notes {means['notes']:.2f} %: a gap of {gap:.2f} "
              f"points, {'beyond' if gap > spread else 'within'} the seeds' spread ({spread:.2f})")

# %% [markdown]
# ### The notes' table, CNN vs ViT, against what the series measured
#
# The Keras notes compare the two families in a table: CNNs extract features with local
# convolution filters, ViTs capture long-range dependencies; CNNs have limited global
# context, ViTs a stronger global representation; CNNs are hard to scale beyond certain depths,
# ViTs scale well with large datasets. What our measurements say:

# %%
cnn_acc = reference.get("cnn", {}).get("test_acc")
vit_acc = reference.get("best-vit", {}).get("test_acc")
claim(tested_weights.shape[-1] == 32 * 32, "row 1, local vs long-range, holds by construction: a 3×3 convolution "
      "sees 9 pixels per layer, one attention layer here sees all {span:,}", exact=True, span=tested_weights.shape[-1])
if cnn_acc is None or vit_acc is None:
    print("rows 2-3: not measured yet (run `python benchmarks/vit_cifar10.py budget --minutes 10 --model cnn`, "
          "then `--model best-vit`)")
else:
    claim(cnn_acc > vit_acc, "rows 2-3, global context and data: on 45,000 images and 10 minutes the small CNN beats "
          "the series' best ViT, {cnn:.1f} % vs {vit:.1f} %, with {cnn_params:,} vs {vit_params:,} parameters",
          cnn=cnn_acc, vit=vit_acc, cnn_params=reference["cnn"]["params"], vit_params=reference["best-vit"]["params"])

# %% [markdown]
# The first row holds by construction. The second and third are about what global attention
# buys, and at this scale it buys less than the CNN's built-in assumptions (nearby pixels belong
# together, a pattern means the same anywhere). Their defence is scale, which a laptop cannot
# test: the ViT paper (Dosovitskiy et al., 2021) found ViTs behind comparable ResNets when
# trained on ImageNet alone (1.3M images), level with them after pre-training on ImageNet-21k
# (14M) and ahead after JFT-300M. And "hard to scale beyond certain depths" has not been true of
# CNNs since residual connections (He et al., 2016: 152 layers). What the notes' own model shows
# is this notebook's point: attention over raw pixels is expensive and blind to position;
# patches, then positions, are what make a transformer a *vision* transformer.

# %% [markdown]
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
# ### What the CLS output carries: before and after training
#
# The ViT lecture says "similar class images end up with similar CLS embeddings only after
# training". The class token starts as the same vector for every image, and attention fills it
# with the image's content. Is that content organised by class before training? Measure it on 1,000 test
# images: the course's pretrained ViT (notebook 04 trains it) against the same architecture
# with fresh random weights. For each model, take the CLS outputs, and ask
# - how much more alike two images of the same class are than two of different classes (mean
#   cosine similarity within classes minus between classes);
# - how often an image's nearest class centre (the mean CLS output of each class over the
#   first 500 images) names its class, on the other 500 (chance: 10 %).

# %%
pretrained, _ = vit.load_pretrained(url=f"{{REPO_URL}}/raw/main/data/checkpoints/vit_cifar10.pt")
torch.manual_seed(0)
untrained = vit.ViT.from_config(pretrained.config).eval()  # the same architecture, fresh weights
probe = cifar.subset(data.stratified_indices(cifar.targets, config.pick(100, 10)))  # 1,000 images, 100 per class
x_probe = data.normalize(probe.images, data.CIFAR10_MEAN, data.CIFAR10_STD)


@torch.no_grad()
def cls_embeddings(model):
    """The encoder's output at the class token, (N, D), what the classifier head reads."""
    return torch.cat([model.encoder(model.tokens(xb))[:, 0] for xb in x_probe.split(250)])


def separation(emb, labels):
    """(within-class minus between-class mean cosine similarity, nearest-centre accuracy on the second half)."""
    unit = torch.nn.functional.normalize(emb, dim=1)
    sim = unit @ unit.T
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~torch.eye(len(labels), dtype=torch.bool)
    gap = sim[same & off_diagonal].mean() - sim[~same].mean()
    half = len(labels) // 2
    first, second = torch.arange(half), torch.arange(half, len(labels))
    centres = torch.stack([unit[first][labels[first] == k].mean(0) for k in range(10)])  # (10, D)
    nearest = (unit[second] @ torch.nn.functional.normalize(centres, dim=1).T).argmax(1)
    return gap.item(), 100 * (nearest == labels[second]).float().mean().item()


order = torch.randperm(len(probe), generator=torch.Generator().manual_seed(0))  # mix the classes into both halves
labels = probe.targets[order]
stats_cls = {name: separation(cls_embeddings(model)[order], labels)
             for name, model in (("untrained", untrained), ("trained", pretrained))}
for name, (gap, acc) in stats_cls.items():
    print(f"{name:9s}: same-class minus other-class similarity {gap:+.3f}; nearest class centre right on {acc:.1f} %")

# %%
(gap_u, acc_u), (gap_t, acc_t) = stats_cls["untrained"], stats_cls["trained"]
claim(gap_t > 3 * gap_u, "training makes the CLS outputs of one class {ratio:.1f}× more alike, relative to other "
      "classes, than before ({gap_t:.3f} against {gap_u:.3f})", ratio=gap_t / gap_u, gap_t=gap_t, gap_u=gap_u)
claim(acc_t > acc_u + 30, "the nearest class centre names the class {acc_t:.1f} % of the time after training, "
      "{acc_u:.1f} % before", acc_t=acc_t, acc_u=acc_u)
claim(acc_u > 15, "but the untrained CLS output is not empty: {acc_u:.1f} % is well above chance (10 %)", acc_u=acc_u)

# %% [markdown]
# The notes' sentence is half right. Training is what gathers each class around its own centre,
# which is what the linear head needs. But "only after training" is too strong: even random
# weights mix the image's colours and textures into the class token, and that alone names the
# class more often than chance. What an untrained CLS output lacks is not information but
# organisation.
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
# **Predict, then run**: write your prediction first, then run the checker: it runs the
# experiment and shows how far off you were (a prediction counts once written, right or wrong;
# counting questions pass only when exact). **Implement**: write the function; the checker
# names the mistake it spots.
#
# **Exercise 1 (implement).** Write `my_unpatchify(tokens, P, image_size, channels)`, the
# inverse of `patchify`: tokens (B, N, C·P·P), patches in row-major order and each flattened
# as (C, P, P) → images (B, C, H, W) with H = W = image_size. (No `course_utils` inside!)

# %% tags=["solution"]
def my_unpatchify(tokens, p, image_size, channels):
    b, side = tokens.shape[0], image_size // p
    x = tokens.reshape(b, side, side, channels, p, p)  # (B, n_h, n_w, C, P, P)
    x = x.permute(0, 3, 1, 4, 2, 5)  # (B, C, n_h, P, n_w, P): each grid index before its pixel index
    return x.reshape(b, channels, image_size, image_size)

# %%
# NBVAL_CHECK_OUTPUT
checks.check_unpatchify(my_unpatchify)

# %% [markdown] tags=["solution-note"]
# The solution's permutation `(0, 3, 1, 4, 2, 5)` puts each grid index right before its pixel
# index, (B, C, n_h, P, n_w, P), the layout the notes' comment describes. Reading an image as
# (B, C, n_h, P, n_w, P) is a plain `reshape`; with `unfold` the layout is different. Same
# numbers, different layouts: always check which one you have.

# %% [markdown]
# **Exercise 2 (predict, exact).** A 224×224 image, 16×16 patches, plus a class token: how many
# tokens does the encoder see, and how many entries has one head's attention matrix?

# %% tags=["solution", "prediction"]
tokens_224 = (224 // 16) ** 2 + 1
entries_224 = tokens_224**2

# %%
# NBVAL_CHECK_OUTPUT
checks.check_token_count(tokens_224, entries_224)

# %% [markdown]
# **Exercise 3 (predict).** Same image and width (768, ViT-B), but 8×8 patches instead of 16×16.
# By what factor does the number of parameters of the patch embedding change, and by what factor
# the number of entries of one attention matrix (class token included)?

# %% tags=["solution", "prediction"]
embedding_param_ratio = 0.25
attention_entries_ratio = 16.0

# %%
# NBVAL_CHECK_OUTPUT
checks.check_patch_size_prediction(embedding_param_ratio, attention_entries_ratio)

# %% [markdown]
# **Exercise 4 (predict).** Section 6 scrambled the patches and looked at the CLS output.
# Some ViTs use no CLS token: they average the outputs of all patch tokens instead (mean
# pooling). Scramble the 16 patch tokens fed to an encoder: does that average stay the same
# (`"same"`) or does it change (`"changes"`)? Predict it without positional encodings, and with them added after scrambling (each grid cell keeps its own position vector, as in section 6).

# %% tags=["solution", "prediction"]
mean_pool_without_positions = "same"
mean_pool_with_positions = "changes"

# %%
# NBVAL_CHECK_OUTPUT
checks.check_mean_pool_prediction(mean_pool_without_positions, mean_pool_with_positions)

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
# 3. The Keras notes' "ViT" cannot run as printed: its FFN returns 64 numbers per pixel and the
#    residual adds them to 3 (fix: the last Dense returns 3). Fixed, it is attention over 1,024
#    pixel tokens with no positions, and under 10 minutes it trails the patch ViTs (section 5b).
#
# **References.** Dosovitskiy et al. (2021), *An Image is Worth 16x16 Words*. Vaswani et al.
# (2017), *Attention Is All You Need*. Lee et al. (2019), *Set Transformer* (permutation
# invariance).
