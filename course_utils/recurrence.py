"""Why attention: a GRU encoder-decoder with and without attention over the encoder's states.

The task reverses a random token sequence: source ``[3, 7, 1, 4]`` → target ``[4, 1, 7, 3]``.
The encoder reads the source into one GRU state per position, ``memory`` (B, L, H). The decoder
is a second GRU that starts from the encoder's last state (B, H) and writes one token per step.

- ``attention=False``: the last state is all the decoder learns of the source, H numbers
  whatever the length L: the bottleneck of the first encoder-decoders (Cho et al., 2014;
  Sutskever et al., 2014).
- ``attention=True``: at every step the decoder's output queries ``memory`` with scaled
  dot-product attention and reads a weighted average of all L states (Bahdanau et al., 2014
  introduced the idea; this is the simpler "global" form of Luong et al., 2015, where the read
  follows the GRU step).

Both variants have the same encoder, decoder GRU and hidden size, and train on the same data with
the same loop. The attended variant's read-out layer takes 2H numbers (its GRU output and what it
read) where the other takes H.

Inputs, the same for both: the encoder sees token + learned position embeddings; the decoder sees,
at step t, only a learned embedding of t (not its previous outputs). Attention compares contents,
so its keys need to carry positions to find "the token t places from the end"; and with no
previous tokens fed back, training and testing run the same computation (no teacher forcing).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .attention import scaled_dot_product_attention


@dataclass
class Seq2SeqConfig:
    """Sizes of :class:`Seq2Seq`: ``vocab`` tokens, embedding and GRU widths, the longest sequence."""

    vocab: int = 10
    embed: int = 32
    hidden: int = 64
    max_len: int = 64
    attention: bool = False

    def __post_init__(self):
        for name in ("vocab", "embed", "hidden", "max_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} {value!r} must be a positive integer")


class Encoder(nn.Module):
    """Tokens (B, L) → memory (B, L, H), one GRU state per position, and the last state (B, H)."""

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.tokens = nn.Embedding(cfg.vocab, cfg.embed)
        self.positions = nn.Embedding(cfg.max_len, cfg.embed)
        self.gru = nn.GRU(cfg.embed, cfg.hidden, batch_first=True)

    def forward(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.tokens(src) + self.positions(torch.arange(src.shape[1], device=src.device))  # (B, L, E)
        memory, last = self.gru(x)  # (B, L, H), (1, B, H)
        return memory, last[0]


class Decoder(nn.Module):
    """Memory (B, L, H) and a start state (B, H) → logits (B, T, vocab) and attention weights.

    The weights (B, T, L) say where each step read the memory; they are None without attention,
    where the memory is not used at all: only the start state carries the source.
    """

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.attention = cfg.attention
        self.steps = nn.Embedding(cfg.max_len, cfg.embed)
        self.gru = nn.GRU(cfg.embed, cfg.hidden, batch_first=True)
        self.combine = nn.Linear((2 if cfg.attention else 1) * cfg.hidden, cfg.hidden)
        self.out = nn.Linear(cfg.hidden, cfg.vocab)

    def forward(self, memory: torch.Tensor, state: torch.Tensor, length: int):
        steps = self.steps(torch.arange(length, device=memory.device))  # (T, E)
        steps = steps.expand(memory.shape[0], -1, -1).contiguous()  # (B, T, E)
        h, _ = self.gru(steps, state[None].contiguous())  # (B, T, H)
        weights = None
        if self.attention:
            context, weights = scaled_dot_product_attention(h, memory, memory)  # (B, T, H), (B, T, L)
            h = torch.cat([h, context], dim=-1)  # (B, T, 2H)
        return self.out(torch.tanh(self.combine(h))), weights  # (B, T, vocab)


class Seq2Seq(nn.Module):
    """Encoder + decoder: src (B, L) → logits (B, T, vocab) (T = L unless given) and weights (B, T, L) or None."""

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder, self.decoder = Encoder(cfg), Decoder(cfg)

    def forward(self, src: torch.Tensor, length: int | None = None):
        length = src.shape[1] if length is None else length
        for name, n in (("source length", src.shape[1]), ("output length", length)):
            if not 1 <= n <= self.cfg.max_len:
                raise ValueError(f"{name} {n} is outside 1..max_len={self.cfg.max_len}")
        memory, last = self.encoder(src)  # (B, L, H), (B, H)
        return self.decoder(memory, last, length)


def make_model(cfg: Seq2SeqConfig, seed: int = 0) -> Seq2Seq:
    """A :class:`Seq2Seq` initialised from ``seed``; the global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Seq2Seq(cfg)


def reverse_batch(n: int, length: int, vocab: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n random sequences (n, length) of tokens 0..vocab-1 and their reversals (n, length)."""
    if n < 1 or length < 1:
        raise ValueError(f"n {n} and length {length} must be at least 1")
    src = torch.randint(0, vocab, (n, length), generator=generator)
    return src, src.flip(1)


def train_reverse(model: Seq2Seq, length: int, steps: int, batch_size: int = 64, lr: float = 1e-2,
                  seed: int = 0) -> dict:
    """Train ``model`` in place to reverse sequences of ``length`` tokens (Adam, gradients clipped at 1).

    Every step draws fresh sequences from a generator seeded with ``seed``; the global random
    state is not touched. Returns {"loss": the per-step losses, "seconds": wall time}.
    """
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses, start = [], time.perf_counter()
    for _ in range(steps):
        src, tgt = reverse_batch(batch_size, length, model.cfg.vocab, g)
        loss = F.cross_entropy(model(src)[0].flatten(0, 1), tgt.flatten())
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    return {"loss": losses, "seconds": time.perf_counter() - start}


@torch.no_grad()
def reverse_accuracy(model: Seq2Seq, length: int, n: int = 1000, seed: int = 12345) -> torch.Tensor:
    """Share of n fresh sequences whose output token t is right, for each step t: (length,).

    The sequences come from their own ``seed``, never the training stream's.
    """
    model.eval()
    src, tgt = reverse_batch(n, length, model.cfg.vocab, torch.Generator().manual_seed(seed))
    return (model(src)[0].argmax(-1) == tgt).float().mean(0)  # (length,)
