"""One training loop for every notebook: fit, evaluate, history, checkpoints, resume.

It knows nothing about a particular model: it needs a model that maps a batch of inputs
to logits, an iterable of ``(inputs, targets)`` batches, and an optimizer.

Checkpoints hold only tensors and plain Python values, so they load with
``torch.load(..., weights_only=True)``; they are written to a temporary file and then
renamed, so an interrupted save never destroys the previous checkpoint.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch
from torch import nn

try:  # tqdm.auto draws a widget in notebooks and a text bar in a terminal
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover - tqdm is a dependency; this only keeps imports cheap
    tqdm = None


@dataclass
class History:
    """Per-epoch records of a run: train/val loss and accuracy, seconds, learning rate."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    stopped_early: bool = False

    def to_dict(self) -> dict:
        """Plain lists and numbers (what a checkpoint stores)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        """Inverse of :meth:`to_dict`."""
        return cls(**data)

    @property
    def total_seconds(self) -> float:
        """Training time summed over epochs."""
        return float(sum(self.seconds))

    def __len__(self) -> int:
        return len(self.epoch)


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of rows of logits (B, K) whose argmax equals targets (B,)."""
    return (logits.argmax(dim=-1) == targets).float().mean().item()


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable | None = None,
             device: torch.device | str | None = None) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` over ``loader``: returns (loss, accuracy in [0, 1])."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        logits = model(inputs)
        total_loss += loss_fn(logits, targets).item() * targets.numel()
        correct += (logits.argmax(-1) == targets).sum().item()
        count += targets.numel()
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate() got an empty loader: no batches to score")
    return total_loss / count, correct / count


@torch.no_grad()
def predict(model: nn.Module, loader: Iterable, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (N, K) and targets (N,) over a whole loader, in loader order, on the CPU."""
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()
    logits, targets = [], []
    for inputs, y in loader:
        logits.append(model(inputs.to(device)).cpu())
        targets.append(y.cpu())
    model.train(was_training)
    return torch.cat(logits), torch.cat(targets)


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int,
                  min_factor: float = 0.0) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up for ``warmup_steps`` then cosine decay to ``min_factor``·lr at ``total_steps``.

    Step it once per optimizer step (``fit`` does).
    """
    if total_steps < 1 or not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"need 0 <= warmup_steps ({warmup_steps}) <= total_steps ({total_steps}) and total_steps >= 1")

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class TimeBudgetCosine(torch.optim.lr_scheduler.LRScheduler):
    """Warm-up then cosine decay over wall-clock time: the rate reaches 0 when ``minutes`` are spent.

    A step-based schedule must guess how many steps fit in a time budget; guess low and training
    ends early, guess high and the budget cuts it off before the rate has come down (the decay's
    last stretch is where most of the accuracy is gained). This one reads the clock instead.
    ``warmup`` is the fraction of the budget spent warming up. Step it once per optimizer step.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, minutes: float, warmup: float = 0.05):
        if minutes <= 0 or not 0 <= warmup < 1:
            raise ValueError(f"need minutes > 0 (got {minutes}) and 0 <= warmup < 1 (got {warmup})")
        self.seconds, self.warmup, self.start = 60.0 * minutes, warmup, time.perf_counter()
        super().__init__(optimizer)

    def progress(self) -> float:
        """Fraction of the budget spent, in [0, 1]."""
        return min(1.0, (time.perf_counter() - self.start) / self.seconds)

    def get_lr(self) -> list[float]:
        p = self.progress()
        if p < self.warmup:
            factor = max(p / self.warmup, 1e-3)
        else:
            factor = 0.5 * (1 + math.cos(math.pi * (p - self.warmup) / (1 - self.warmup)))
        return [base * factor for base in self.base_lrs]


# ----------------------------------------------------------------------------- checkpoints

def save_checkpoint(path: str | os.PathLike, **state) -> Path:
    """Atomically save ``state`` (tensors, state dicts, plain values) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint safely (``weights_only=True``); a clear error if missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise ValueError(f"checkpoint {path} could not be read ({type(exc).__name__}: {exc}); "
                         f"it may be truncated, or not a checkpoint written by course_utils") from exc


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


# ----------------------------------------------------------------------------- fit

def fit(model: nn.Module, train_loader: Iterable, optimizer: torch.optim.Optimizer, *, epochs: int,
        val_loader: Iterable | None = None, loss_fn: Callable | None = None,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None, device: torch.device | str | None = None,
        max_minutes: float | None = None, checkpoint: str | os.PathLike | None = None, resume: bool = True,
        extra: dict | None = None, grad_clip: float | None = None, precision: str = "fp32",
        progress: bool = True) -> History:
    """Train ``model`` for ``epochs`` epochs (counted from 0 even when resuming) and return its History.

    - ``scheduler`` is stepped after every optimizer step.
    - ``max_minutes`` stops cleanly between steps once the budget is spent (``stopped_early``);
      the partial epoch is evaluated and recorded.
    - ``checkpoint``: saved atomically after every epoch (model, optimizer, scheduler, epoch,
      history, ``extra``); with ``resume=True`` an existing one is loaded first and training
      continues with the next epoch.
    - ``precision``: "fp32", or "bf16" for bfloat16 autocast in the forward pass (weights and
      optimizer stay float32); ``config.fast_precision()`` says which is faster on this machine.
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs {epochs!r} must be a non-negative integer")
    if max_minutes is not None and max_minutes <= 0:
        raise ValueError(f"max_minutes {max_minutes!r} must be positive (or None for no budget)")
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision {precision!r} is not one of ('fp32', 'bf16')")
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    device = torch.device(device) if device is not None else _model_device(model)
    model.to(device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    history, start_epoch = History(), 0
    if checkpoint is not None and resume and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        history = History.from_dict(state["history"])
        start_epoch = int(state["epoch"]) + 1
        if progress:
            print(f"resumed from {checkpoint}: {start_epoch} epoch(s) done")
    deadline = time.perf_counter() + 60 * max_minutes if max_minutes is not None else math.inf

    for epoch in range(start_epoch, epochs):
        model.train()
        started = time.perf_counter()
        total_loss, correct, count = 0.0, 0, 0
        bar = _bar(train_loader, f"epoch {epoch + 1}/{epochs}", progress)
        for inputs, targets in bar:
            inputs, targets = inputs.to(device), targets.to(device)
            with autocast:
                logits = model(inputs)
                loss = loss_fn(logits.float(), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at epoch {epoch + 1}: lower the learning rate")
            total_loss += loss.item() * targets.numel()
            correct += (logits.argmax(-1) == targets).sum().item()
            count += targets.numel()
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{total_loss / count:.3f}", acc=f"{correct / count:.3f}", refresh=False)
            if time.perf_counter() > deadline:
                history.stopped_early = True
                break
        if hasattr(bar, "close"):
            bar.close()
        if count == 0:
            raise ValueError("fit() got an empty train_loader: no batches to train on")
        seconds = time.perf_counter() - started
        val_loss, val_acc = evaluate(model, val_loader, loss_fn, device) if val_loader is not None else (math.nan, math.nan)
        history.epoch.append(epoch + 1)
        history.train_loss.append(total_loss / count)
        history.train_acc.append(correct / count)
        history.val_loss.append(val_loss)
        history.val_acc.append(val_acc)
        history.seconds.append(seconds)
        history.lr.append(optimizer.param_groups[0]["lr"])
        if progress:
            scores = f"val loss {val_loss:.4f} acc {val_acc:.4f} | " if val_loader is not None else ""
            print(f"epoch {epoch + 1:3d}: train loss {total_loss / count:.4f} acc {correct / count:.4f} | "
                  f"{scores}{seconds:.1f} s")
        if checkpoint is not None:
            save_checkpoint(checkpoint, model=model.state_dict(), optimizer=optimizer.state_dict(),
                            scheduler=scheduler.state_dict() if scheduler is not None else None,
                            epoch=epoch, history=history.to_dict(), extra=extra or {})
        if history.stopped_early:
            if progress:
                print(f"stopped after {max_minutes} minute(s) of training, during epoch {epoch + 1}")
            break
    return history


def _bar(iterable: Iterable, desc: str, enabled: bool):
    if not enabled or tqdm is None:
        return iterable
    return tqdm(iterable, desc=desc, leave=False, mininterval=0.5)


if __name__ == "__main__":  # python -m course_utils.train vit-cifar10 ...
    from .recipes import main

    raise SystemExit(main())
