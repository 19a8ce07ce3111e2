# %% [markdown]
# # 01 · Attention from scratch
#
# {{COLAB_BADGE}}
#
# **Learning goals.** After this notebook you can
# 1. compute scaled dot-product attention by hand and say what every shape is;
# 2. explain why the scores are divided by √d_k, with a measurement;
# 3. tell soft from hard attention, and why only one of them trains by gradient descent;
# 4. build causal and padding masks, and avoid PyTorch's mask-polarity trap;
# 5. split and merge heads, and check a hand-written multi-head layer against PyTorch's;
# 6. say how the cost of attention grows with the sequence length, measured.
#
# **The lecture notes' claims we test here.**
# - Attention(Q, K, V) = softmax(QKᵀ/√d_k) V (Vaswani et al., 2017): we build it and check it
#   against `torch.nn.functional.scaled_dot_product_attention` and `torch.nn.MultiheadAttention`.
# - Hard attention is "non-differentiable": we show where the gradient goes missing.
# - A multi-head layer with a *fused* q/k/v projection (one of the lab notes' code): we find
#   that its fused layout is not PyTorch's, and what that means when you copy weights.
# - Self-attention costs O(n²): we measure time and memory up to 4,096 tokens.

# %%
{{COLAB_SETUP}}

import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import attention, checks, config, profiling, viz, widgets

config.seed_everything(0)
device = config.get_device()
print(config.summary(device))

# %% [markdown]
# ## 1. Attention as a soft dictionary look-up
#
# One set of notes compares attention to a video search: your **query** (the text you type)
# is matched against every video's **key** (title, description); the best matches' **values**
# (the videos) come back. Attention does the same with vectors, but *softly*: every value
# comes back, weighted by how well its key matches the query.
#
# $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right) V$$
#
# Five tokens, each an 8-number embedding `x`. Three learned matrices turn every token into a
# query, a key and a value (here random, fixed by the seed). Read the shapes in the comments.

# %%
# NBVAL_CHECK_OUTPUT
tokens = ["the", "cat", "sat", "on", "mats"]
g = torch.Generator().manual_seed(1)
x = torch.randn(5, 8, generator=g)  # (L, d_model): 5 tokens, 8 features each
W_q, W_k, W_v = (torch.randn(8, 4, generator=g) / 8**0.5 for _ in range(3))  # (d_model, d_k)

q = x @ W_q  # (L, d_k) what each token is looking for
k = x @ W_k  # (L, d_k) what each token offers to be found by
v = x @ W_v  # (L, d_v) what each token hands over when found
print("q, k, v:", tuple(q.shape), tuple(k.shape), tuple(v.shape))

scores = q @ k.T  # (L_q, L_k): scores[i, j] = q_i · k_j
scaled = scores / math.sqrt(k.shape[-1])  # divide by √d_k = 2
weights = scaled.softmax(dim=-1)  # (L_q, L_k): each row sums to 1 over the keys
out = weights @ v  # (L_q, d_v): each output is a weighted average of the values
print("weights:", tuple(weights.shape), " out:", tuple(out.shape))
print("row sums:", weights.sum(-1).round(decimals=4).tolist())
print("weights of query 'cat':", " ".join(f"{w:.2f}" for w in weights[1]))

# %% [markdown]
# Each row is one query's distribution over the keys. Token 'cat' spreads its attention over
# every token, its own included; nothing forces a token to look at itself most.

# %%
fig = viz.attention_heatmap(weights, tokens, tokens, title="softmax(q kᵀ / √d_k): one row per query")

# %% [markdown]
# ## 2. Why divide by √d_k?
#
# If the entries of q and k are independent with mean 0 and variance 1, then q·k is a sum
# of d_k products, each of variance 1: **Var(q·k) = d_k**. Wide heads give large scores, and
# softmax of large scores is almost one-hot. Measured on 20,000 random pairs:

# %%
# NBVAL_CHECK_OUTPUT
g = torch.Generator().manual_seed(0)
print(f"{'d_k':>5} {'Var(q·k)':>9} {'Var/d_k':>8} {'Var(q·k/√d_k)':>14}")
for d_k in [4, 16, 64, 256, 1024]:
    qs, ks = torch.randn(20_000, d_k, generator=g), torch.randn(20_000, d_k, generator=g)
    dots = (qs * ks).sum(-1)  # (20000,) one dot product per pair
    print(f"{d_k:5d} {dots.var():9.1f} {dots.var() / d_k:8.2f} {(dots / d_k**0.5).var():14.2f}")

# %% [markdown]
# What that does to the softmax: 16 keys, random queries. Without the scale the largest
# weight approaches 1 as d_k grows (the softmax *saturates*), and the gradient that flows
# back through the softmax shrinks towards zero, so learning stalls. With the scale, both
# stay the same whatever the width.

# %%
def softmax_stats(d_k: int, scale: bool, n: int = 2000, n_keys: int = 16, seed: int = 0):
    """Mean largest weight and mean gradient norm of softmax(q kᵀ [/√d_k]) w.r.t. the scores."""
    g = torch.Generator().manual_seed(seed)
    qs, ks = torch.randn(n, 1, d_k, generator=g), torch.randn(n, n_keys, d_k, generator=g)
    s = (qs @ ks.transpose(1, 2)).squeeze(1)  # (n, n_keys)
    if scale:
        s = s / d_k**0.5
    s.requires_grad_(True)
    w = s.softmax(-1)
    # gradient of a random linear read-out of the weights, as a loss would send back
    (w * torch.randn(w.shape, generator=g)).sum().backward()
    return w.max(-1).values.mean().item(), s.grad.norm(dim=-1).mean().item()


dims = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
stats = {scale: [softmax_stats(d, scale) for d in dims] for scale in (False, True)}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
for scale, style in [(False, "o-"), (True, "s-")]:
    label = "q·k / √d_k" if scale else "q·k (unscaled)"
    ax1.plot(dims, [m for m, _ in stats[scale]], style, label=label)
    ax2.plot(dims, [g for _, g in stats[scale]], style, label=label)
ax1.set(xscale="log", xlabel="d_k", ylabel="mean largest weight", title="softmax saturates without the scale")
ax2.set(xscale="log", yscale="log", xlabel="d_k", ylabel="mean |∂loss/∂scores|", title="...and its gradient vanishes")
for ax in (ax1, ax2):
    ax.grid(alpha=0.3)
    ax.legend()
fig.tight_layout()

# %% [markdown]
# ## 3. Soft versus hard attention
#
# The notes' table lists *soft* attention (weights over all inputs) and *hard* attention
# (pick one input), calling hard attention non-differentiable. Here is exactly why: picking
# the best key is an `argmax`, an integer; no gradient flows back through it to the queries
# and keys, so the model cannot learn *where* to look. (Xu et al., 2015, who used both for
# image captioning, trained hard attention with a sampling estimator, REINFORCE, instead.)

# %%
# NBVAL_CHECK_OUTPUT
q_ = q.clone().requires_grad_(True)
soft = (q_ @ k.T / 2).softmax(-1) @ v  # (L, d_v)
soft.sum().backward()
print(f"soft attention: |∂out/∂q| = {q_.grad.norm():.4f}")

q_ = q.clone().requires_grad_(True)
choice = (q_ @ k.T).argmax(-1)  # (L,) an index per query: an integer, no gradient
hard = F.one_hot(choice, num_classes=5).float() @ v  # (L, d_v): exactly one value per query
print(f"hard attention: picks keys {choice.tolist()}, output requires grad w.r.t. q: {hard.requires_grad}")

# %% [markdown]
# ## 4. Masks: who may attend to whom
#
# A mask says which keys each query may see. This course uses the convention of
# `F.scaled_dot_product_attention`: a boolean mask, **True where attending is allowed**.
# Masked scores are set to −∞ before the softmax, so their weights are exactly 0.
#
# - **Causal**: token *i* sees tokens 0..*i* only (a language model must not read the future).
# - **Padding**: sequences of different lengths are padded to one length; nobody may attend
#   to the padding.

# %%
causal = attention.causal_mask(5)  # (L, L): True on and below the diagonal
pad = attention.padding_mask(torch.tensor([3]), 5)[0, 0]  # (1, L) → broadcasts over queries
_, w_causal = attention.scaled_dot_product_attention(q, k, v, causal)
_, w_pad = attention.scaled_dot_product_attention(q, k, v, pad)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
viz.attention_heatmap(causal.float(), tokens, tokens, title="causal mask (1 = allowed)", ax=axes[0], cmap="Greys")
viz.attention_heatmap(w_causal, tokens, tokens, title="weights with the causal mask", ax=axes[1])
viz.attention_heatmap(w_pad, tokens, tokens[:3] + ["<pad>", "<pad>"], title="weights, last 2 keys are padding", ax=axes[2])
fig.tight_layout()

# %% [markdown]
# **A trap.** PyTorch has two conventions. `F.scaled_dot_product_attention` reads a boolean
# mask as *True = may attend*; `nn.MultiheadAttention` reads its boolean `attn_mask` as
# *True = may **not** attend*. Passing the same causal mask to both gives the opposite masks:

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
mha = nn.MultiheadAttention(embed_dim=8, num_heads=2, batch_first=True).eval()
ours = attention.MultiHeadAttention.from_torch(mha).eval()
xb = x.unsqueeze(0)  # (B=1, L, d_model)
with torch.no_grad():
    ref = ours(xb, mask=causal)  # our convention: True = may attend
    same_mask = mha(xb, xb, xb, attn_mask=causal)[0]
    inverted = mha(xb, xb, xb, attn_mask=~causal)[0]
print("nn.MultiheadAttention, same boolean mask: equal?", torch.allclose(ref, same_mask, atol=1e-6))
print("nn.MultiheadAttention, inverted mask:     equal?", torch.allclose(ref, inverted, atol=1e-6))

# %% [markdown]
# ## 5. Multi-head attention
#
# $$\mathrm{MultiHead}(X) = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_h)\,W_o,
# \qquad \mathrm{head}_i = \mathrm{Attention}(X W_{q,i},\ X W_{k,i},\ X W_{v,i})$$
#
# Each head attends in its own d_model/h-dimensional subspace, so different heads can look at
# different things at the same cost as one wide head. In code the h heads are one reshape:

# %%
# NBVAL_CHECK_OUTPUT
B, L, D, H = 2, 5, 8, 2
hd = D // H  # head dimension
xs = torch.randn(B, L, D, generator=torch.Generator().manual_seed(2))
qkv_proj = nn.Linear(D, 3 * D)  # W_q, W_k, W_v fused into one matrix: one matmul instead of three
out_proj = nn.Linear(D, D)  # W_o

qkv = qkv_proj(xs)  # (B, L, 3·D)
q_, k_, v_ = qkv.chunk(3, dim=-1)  # each (B, L, D): blocks [Q | K | V]
q_ = q_.view(B, L, H, hd).transpose(1, 2)  # (B, H, L, hd): split heads
k_ = k_.view(B, L, H, hd).transpose(1, 2)  # (B, H, L, hd)
v_ = v_.view(B, L, H, hd).transpose(1, 2)  # (B, H, L, hd)
w_ = (q_ @ k_.transpose(-2, -1) / hd**0.5).softmax(-1)  # (B, H, L, L): one attention map per head
y_ = (w_ @ v_).transpose(1, 2).reshape(B, L, D)  # (B, L, H·hd): merge heads (concatenate)
y_ = out_proj(y_)  # (B, L, D)
print("per-head weights:", tuple(w_.shape), " output:", tuple(y_.shape))

# %% [markdown]
# **The fused layout is a convention.** One lab's code (after the UvA deep-learning tutorials)
# reshapes the fused output as `(B, L, H, 3·hd)` and then chunks it: per head, its q, k and v
# sit next to each other, `[q₁ k₁ v₁ | q₂ k₂ v₂]`. PyTorch's `in_proj_weight` (and ours) stacks
# all queries first, `[Q | K | V]`. Both train equally well, but weights are **not**
# interchangeable: load PyTorch's weights into the lab's layout and you get another layer.

# %%
# NBVAL_CHECK_OUTPUT
def lab_layout_forward(x, qkv_proj, out_proj, num_heads):
    """The lab notes' layout: (B, L, H, 3·hd), then chunk into q, k, v per head."""
    b, length, d = x.shape
    qkv = qkv_proj(x).reshape(b, length, num_heads, 3 * (d // num_heads)).permute(0, 2, 1, 3)  # (B, H, L, 3·hd)
    q, k, v = qkv.chunk(3, dim=-1)  # each (B, H, L, hd)
    y, _ = attention.scaled_dot_product_attention(q, k, v)
    return out_proj(y.permute(0, 2, 1, 3).reshape(b, length, d))


with torch.no_grad():
    torch_out = mha(xs, xs, xs)[0]
    ours = attention.MultiHeadAttention.from_torch(mha)
    lab = lab_layout_forward(xs, ours.qkv, ours.out, num_heads=2)  # same weights, other layout
print(f"course layout vs nn.MultiheadAttention: max |diff| = {(ours(xs) - torch_out).abs().max():.1e}")
print(f"lab layout    vs nn.MultiheadAttention: max |diff| = {(lab - torch_out).abs().max():.2f}")

# %% [markdown]
# ### Do different heads attend differently?
#
# With random weights, any differences between heads are noise. So we *train* a two-head
# layer on a small task: a sequence of 8 digits, and at every position predict
# `(digit one to the left − digit two to the right) mod 10` (wrapping around). One head can
# fetch one neighbour, the other head the other.

# %%
class TwoHeadToy(nn.Module):
    """Digits (B, 8) → logits (B, 8, 10): embedding + learned positions, one attention layer, an MLP."""

    def __init__(self, vocab=10, length=8, dim=32, heads=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.randn(length, dim) * 0.5)
        self.attn = attention.MultiHeadAttention(dim, heads)
        self.head = nn.Sequential(nn.Linear(2 * dim, 128), nn.ReLU(), nn.Linear(128, vocab))

    def forward(self, digits, return_attention=False):
        h = self.embed(digits) + self.pos  # (B, L, dim)
        a, w = self.attn(h, return_attention=True)  # (B, L, dim), (B, heads, L, L)
        logits = self.head(torch.cat([h, a], dim=-1))  # (B, L, vocab)
        return (logits, w) if return_attention else logits


def toy_batch(n, g):
    digits = torch.randint(0, 10, (n, 8), generator=g)
    return digits, (digits.roll(1, dims=1) - digits.roll(-2, dims=1)) % 10


config.seed_everything(0)
toy, g = TwoHeadToy(), torch.Generator().manual_seed(0)
opt = torch.optim.AdamW(toy.parameters(), lr=3e-3)
for step in range(config.pick(1500, 200)):
    digits, target = toy_batch(256, g)
    loss = F.cross_entropy(toy(digits).flatten(0, 1), target.flatten())
    opt.zero_grad()
    loss.backward()
    opt.step()
digits, target = toy_batch(2000, g)
with torch.no_grad():
    logits, w = toy(digits, return_attention=True)
print(f"after {step + 1} steps: loss {loss.item():.4f}, accuracy {(logits.argmax(-1) == target).float().mean():.3f}")

# %%
positions = [f"p{i}" for i in range(8)]
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for h, ax in enumerate(axes):
    viz.attention_heatmap(w[:, h].mean(0), positions, positions, title=f"head {h + 1}, averaged over 2,000 sequences", ax=ax)
fig.tight_layout()

# %% [markdown]
# Read each row: query position *i*, and where it looks. The two heads split the job: at most
# positions one head fetches the digit one place to the left and the other the digit two
# places to the right (wrapping around at the ends); at a few positions they swap roles.
# Nobody told them to: the split is learned, and a different seed splits differently.
#
# ## 6. Four implementations, one answer
#
# The inline code above, the tested `course_utils.attention`, PyTorch's
# `nn.MultiheadAttention` (weights copied with `from_torch`) and the fused
# `F.scaled_dot_product_attention` must agree, with and without a mask.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(3)
mha = nn.MultiheadAttention(16, 4, batch_first=True).eval()
ours = attention.MultiHeadAttention.from_torch(mha).eval()
xs = torch.randn(3, 10, 16)
causal10, pad10 = attention.causal_mask(10), attention.padding_mask([10, 7, 3], 10)  # (10, 10), (3, 1, 1, 10)
cases = [("no mask", None, {}),  # (name, our mask, the same mask in nn.MultiheadAttention's words)
         ("causal", causal10, {"attn_mask": ~causal10}),
         ("padding", pad10, {"key_padding_mask": ~pad10[:, 0, 0]})]
for name, mask, torch_mask in cases:
    with torch.no_grad():
        # inline: the fused projection, split heads, softmax(q kᵀ/√d_k) v, merge heads, W_o
        q_, k_, v_ = (t.view(3, 10, 4, 4).transpose(1, 2) for t in ours.qkv(xs).chunk(3, -1))  # (B, H, L, hd)
        s = q_ @ k_.transpose(-2, -1) / 2  # (B, H, L, L), √hd = 2
        s = s if mask is None else s.masked_fill(~mask, float("-inf"))
        inline = ours.out((s.softmax(-1) @ v_).transpose(1, 2).reshape(3, 10, 16))
        fused = ours.out(F.scaled_dot_product_attention(q_, k_, v_, attn_mask=mask).transpose(1, 2).reshape(3, 10, 16))
        reference = mha(xs, xs, xs, **torch_mask)[0]
        results = {"inline": inline, "course_utils": ours(xs, mask=mask),
                   "course_utils (weights)": ours(xs, mask=mask, return_attention=True)[0], "F.sdpa": fused}
    worst = max((r - reference).abs().max().item() for r in results.values())
    print(f"{name:8s}: all four agree with nn.MultiheadAttention to 1e-6: {worst < 1e-6}")

# %% [markdown]
# ## 7. The cost: quadratic in the sequence length
#
# Every query meets every key: an L×L score matrix per head. Doubling the tokens quadruples
# the work and the memory of the written-out version. PyTorch's fused
# `F.scaled_dot_product_attention` does the same arithmetic in blocks, never storing the
# whole matrix, so its memory stays flat. Measured here (forward pass, 4 heads of 16
# channels, one sequence; `benchmarks/attention_cost.py` measures the same):

# %%
# NBVAL_IGNORE_OUTPUT: timings vary from machine to machine and run to run
lengths = [2**p for p in range(6, config.pick(13, 10))]  # 64 … 4096 tokens (…512 in smoke mode)
rows = profiling.attention_cost(lengths, repeat=config.pick(5, 1), fresh_process=True)  # a clean process: honest memory
print(f"{'tokens':>6} {'naive ms':>9} {'fused ms':>9} {'naive MB':>9} {'fused MB':>9} {'one L×L per head, MB':>21}")
for r in rows:
    print(f"{r['length']:6d} {1e3 * r['naive_s']:9.2f} {1e3 * r['fused_s']:9.2f} {r['naive_bytes'] / 1e6:9.1f} "
          f"{r['fused_bytes'] / 1e6:9.1f} {r['scores_bytes'] / 1e6:21.1f}")

# %%
L_ = [r["length"] for r in rows]
fig = viz.loglog_cost(L_, {"written out": [r["naive_s"] for r in rows], "F.scaled_dot_product_attention": [r["fused_s"] for r in rows]},
                      "tokens L", "seconds (forward)", title="attention time", slopes=(2,))

# %% [markdown]
# Peak memory of the written-out version is the two L×L matrices it holds at once (scores
# and weights: 2 × 4 heads × L² × 4 bytes); the prediction and the measurement overlap from
# about 512 tokens on. The fused kernel's peak stays around a megabyte at every length.

# %%
big = [r for r in rows if r["length"] >= 256]
if big and not math.isnan(big[0]["naive_bytes"]):
    fig = viz.loglog_cost([r["length"] for r in big], {"written out (measured)": [r["naive_bytes"] / 1e6 for r in big],
                          "2 L×L matrices (predicted)": [2 * r["scores_bytes"] / 1e6 for r in big],
                          "F.sdpa (measured)": [max(r["fused_bytes"], 1e4) / 1e6 for r in big]},
                          "tokens L", "peak memory growth (MB)", title="attention memory", slopes=())
else:
    print("peak memory is measured on Linux only; the prediction is 2 x 4 heads x L² x 4 bytes")

# %% [markdown]
# ## 8. Explore: one query, a temperature
#
# Pick a query token and change the temperature T in softmax(q kᵀ / (√d_k · T)). Low T
# sharpens the distribution towards hard attention; high T flattens it towards a plain
# average. The entropy (in nats, at most ln 5 ≈ 1.61 for 5 keys) measures how spread it is.

# %%
# NBVAL_IGNORE_OUTPUT: an interactive widget; its view is not text
widgets.attention_explorer(q, k, tokens)

# %% [markdown]
# ## 9. Exercises
#
# Two kinds. **Predict, then run**: write your prediction in the cell (a number), *then* run
# the checker below it; it runs the experiment and tells you how far off you were. A prediction
# counts once it is written, right or wrong, so write it before you peek. **Implement**: write
# the function; the checker tests it and names the classic mistake it spots. Use plain tensor
# operations.
#
# **Exercise 1 (predict).** One query against 8 keys, d_k = 64, every entry of q and k drawn
# from a standard normal. The entropy of the weights measures how spread they are: 0 nats for
# one-hot, ln 8 ≈ 2.08 for uniform. Predict the mean entropy *with* the 1/√d_k scale and
# *without* it.

# %% tags=["solution", "prediction"]
entropy_scaled = 1.7
entropy_unscaled = 0.3

# %%
# NBVAL_CHECK_OUTPUT
checks.check_entropy_prediction(entropy_scaled, entropy_unscaled)

# %% [markdown]
# **Exercise 2 (predict).** One multi-head attention layer of width 512 (q, k, v and output
# projections, then attention over all tokens). Going from 1,024 to 2,048 tokens, by what factor
# does the number of operations grow? (The checker counts them with `torch.utils.flop_counter`.)

# %% tags=["solution", "prediction"]
cost_ratio = 3.0

# %%
# NBVAL_CHECK_OUTPUT
checks.check_cost_growth_prediction(cost_ratio)

# %% [markdown]
# **Exercise 3 (implement).** A causal mask for length L: boolean (L, L), True where query *i*
# may attend to key *j*.

# %% tags=["solution"]
def my_causal_mask(length):
    return torch.ones(length, length, dtype=torch.bool).tril()

# %%
# NBVAL_CHECK_OUTPUT
checks.check_causal_mask(my_causal_mask)

# %% [markdown]
# **Exercise 4 (implement).** A padding mask: `lengths` (B,) holds each sequence's number of
# real tokens, the rest of its L positions is padding. Return a boolean mask, True where a query
# may attend, shaped so that it broadcasts against scores (B, num_heads, L_q, L_k).

# %% tags=["solution"]
def my_padding_mask(lengths, length):
    keys = torch.arange(length)  # (L,)
    return (keys[None, :] < lengths[:, None])[:, None, None, :]  # (B, 1, 1, L)

# %%
# NBVAL_CHECK_OUTPUT
checks.check_padding_mask(my_padding_mask)

# %% [markdown]
# ## Summary
#
# - Attention is a differentiable look-up: softmax(QKᵀ/√d_k) gives each query a distribution
#   over keys; the output is the matching average of the values.
# - Without the 1/√d_k scale, scores grow like √d_k, the softmax saturates and its gradient
#   vanishes (measured in section 2).
# - Hard attention (argmax) cuts the gradient to queries and keys; soft attention does not.
# - Masks decide who sees whom. Know your library's polarity: `F.scaled_dot_product_attention`
#   and this course say True = allowed; `nn.MultiheadAttention` says True = blocked.
# - Multi-head attention is one reshape away from single-head attention; a fused q/k/v
#   projection is fast, but its layout is a convention that decides whether weights transfer.
# - Time and memory of the written-out form grow as L²; fused kernels keep memory flat.
# - A whole layer grows as L² only once L is well beyond its width: below that, the q, k, v and
#   output projections, linear in L, cost as much as the attention itself (exercise 2).
#
# **Pitfalls found in the lecture notes.**
# 1. The fused multi-head code's layout (`reshape(B, L, H, 3·hd)`, then `chunk`) differs from
#    PyTorch's `[Q | K | V]`: weights cannot be exchanged with `nn.MultiheadAttention` as they are.
# 2. One set of notes says masked multi-head attention is "similar to skip-joining as in
#    ResNet50". It is not: a mask hides keys from queries; the skip (residual) connection is a
#    separate part of each transformer block, `x + attention(x)`, which we build in notebook 04.
#
# **References.** Bahdanau, Cho & Bengio (2014), *Neural Machine Translation by Jointly
# Learning to Align and Translate*. Xu et al. (2015), *Show, Attend and Tell*. Vaswani et al.
# (2017), *Attention Is All You Need*. Dao et al. (2022), *FlashAttention*.
