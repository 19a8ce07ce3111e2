"""One training loop for every notebook: fit, evaluate, history, checkpoints, resume.

It knows nothing about a particular model: it needs a model that maps a batch of inputs
to logits, an iterable of ``(inputs, targets)`` batches, and an optimizer.

Checkpoints hold only tensors and plain Python values, so they load with
``torch.load(..., weights_only=True)``; they are written to a temporary file and then
renamed, so an interrupted save never destroys the previous checkpoint.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch
from torch import nn

from . import config, distributed
from .checkpoints import load_checkpoint, save_checkpoint  # noqa: F401 - part of this module's interface

try:  # tqdm.auto draws a widget in notebooks and a text bar in a terminal
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover - tqdm is a dependency; this only keeps imports cheap
    tqdm = None


@dataclass
class History:
    """Per-epoch records of a run: train/val loss and accuracy, seconds, learning rate, fraction of the epoch run."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    fraction: list[float] = field(default_factory=list)
    stopped_early: bool = False

    def to_dict(self) -> dict:
        """Plain lists and numbers (what a checkpoint stores)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        """Inverse of :meth:`to_dict`."""
        return cls(**data)

    @property
    def epochs_run(self) -> float:
        """Epochs trained, counting a budget-cut last epoch by the fraction of its steps that ran."""
        return float(sum(self.fraction)) if len(self.fraction) == len(self.epoch) else float(len(self.epoch))

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
    """Mean loss and accuracy of ``model`` over ``loader``: returns (loss, accuracy in [0, 1]).

    A loader sharded across processes (``loader.world_size > 1``) is scored by all of them together.
    """
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        output = model(inputs)
        logits = _logits(output)
        total_loss += loss_fn(output, targets).item() * targets.numel()
        correct += (logits.argmax(-1) == targets).sum().item()
        count += targets.numel()
    model.train(was_training)
    if getattr(loader, "world_size", 1) > 1:
        total_loss, correct, count = distributed.all_reduce_sum([total_loss, correct, count], device)
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
        logits.append(_logits(model(inputs.to(device))).cpu())
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


# ----------------------------------------------------------------------------- what a resume restores

def _logits(output) -> torch.Tensor:
    """A model's logits: its output, or the first item of a tuple (e.g. a distilled ViT's training output)."""
    return output[0] if isinstance(output, (tuple, list)) else output


def _as_float(output):
    """The output in float32 for the loss (autocast may have produced bfloat16)."""
    return type(output)(t.float() for t in output) if isinstance(output, (tuple, list)) else output.float()


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _differences(old, new, prefix: str = "") -> list[str]:
    """Where two nested dicts of settings differ, as "key: old → new" lines."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in sorted(set(old) | set(new), key=str):
            lines += _differences(old.get(key, "<missing>"), new.get(key, "<missing>"), f"{prefix}{key}.")
        return lines
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} → {new!r}"]


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


# ----------------------------------------------------------------------------- fit

def fit(model: nn.Module, train_loader: Iterable, optimizer: torch.optim.Optimizer, *, epochs: int,
        val_loader: Iterable | None = None, loss_fn: Callable | None = None,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None, device: torch.device | str | None = None,
        max_minutes: float | None = None, checkpoint: str | os.PathLike | None = None, resume: bool = True,
        extra: dict | None = None, grad_clip: float | None = None, precision: str = "fp32",
        progress: bool = True) -> History:
    """Train ``model`` for ``epochs`` epochs (counted from 0 even when resuming) and return its History.

    ``model(inputs)`` returns logits (B, K), or a tuple whose first item is the logits (accuracy is
    measured on them) and all of which ``loss_fn(output, targets)`` receives (e.g. distillation).

    - ``scheduler`` is stepped after every optimizer step.
    - A step whose loss is not finite raises ``FloatingPointError`` before it changes anything.
    - ``max_minutes`` stops cleanly between steps once the budget is spent (``stopped_early``);
      the partial epoch is evaluated and recorded in the returned History.
    - ``checkpoint``: saved atomically after every epoch and when the budget stops a run
      (model, optimizer, scheduler, the loader's and torch's random state, the position inside
      an unfinished epoch, history, ``extra``). With ``resume=True`` an existing one is loaded
      first and training continues exactly where it stopped: an interrupted run and resumed one
      ends with the same weights as an uninterrupted one. ``extra`` describes the run (its
      recipe); resuming with a different ``extra`` is refused, naming what differs.
    - ``precision``: "fp32", "bf16" (bfloat16 autocast in the forward pass; weights and optimizer
      stay float32) or "fp16" (float16 autocast with a gradient scaler, GPUs only);
      ``config.fast_precision()`` says which is fastest on this machine.
    - Under ``torchrun`` (see :mod:`course_utils.distributed`) the same call trains with
      DistributedDataParallel: each process takes its share of every batch from a sharded
      loader (``data.make_loader``), metrics are summed over processes, only process 0 prints
      and writes the checkpoint.
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs {epochs!r} must be a non-negative integer")
    if max_minutes is not None and max_minutes <= 0:
        raise ValueError(f"max_minutes {max_minutes!r} must be positive (or None for no budget)")
    if precision not in config.PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {config.PRECISIONS}")
    rank, world_size = distributed.world()
    for name, loader in (("train_loader", train_loader), ("val_loader", val_loader)):
        if world_size > 1 and loader is not None and getattr(loader, "world_size", 1) != world_size:
            raise ValueError(f"fit() runs in {world_size} processes but {name} is not sharded across them: "
                             f"build it with course_utils.data.make_loader inside the process group")
    progress = progress and rank == 0
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    device = torch.device(device) if device is not None else _model_device(model)
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(f"precision 'fp16' needs a GPU (device is {device}); on a CPU use 'bf16' or 'fp32'")
    model.to(device)
    autocast = torch.autocast(device.type, dtype=torch.float16 if precision == "fp16" else torch.bfloat16,
                              enabled=precision != "fp32")
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    extra = extra or {}
    history, next_epoch, partial = History(), 0, None
    if checkpoint is not None and resume and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint, map_location=device)
        changed = _differences(state.get("extra", {}), extra)
        if changed:
            raise ValueError(f"checkpoint {checkpoint} belongs to a different run; it differs in "
                             + "; ".join(changed) + ". Use the same settings to resume it, or another checkpoint path")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler") is not None:
            scaler.load_state_dict(state["scaler"])
        if state.get("loader") is not None and hasattr(train_loader, "load_state_dict"):
            train_loader.load_state_dict(state["loader"])
        rng = state.get("rng") or []
        if len(rng) == world_size:
            _set_rng_state(rng[rank])
        history = History.from_dict(state["history"])
        history.stopped_early = False
        next_epoch = int(state.get("next_epoch", int(state["epoch"]) + 1))
        partial = state.get("partial")
        if progress:
            where = f", {partial['step']} step(s) into epoch {next_epoch + 1}" if partial else ""
            print(f"resumed from {checkpoint}: {len(history)} epoch(s) done{where}")
    net = distributed.wrap(model, device)  # DistributedDataParallel under torchrun, the model itself otherwise
    deadline = time.perf_counter() + 60 * max_minutes if max_minutes is not None else math.inf

    def save(epoch_next: int, loader_state, part: dict | None, hist: History) -> None:
        rng = distributed.gather_objects(_rng_state())  # a collective: every process takes part
        if checkpoint is not None and rank == 0:
            save_checkpoint(checkpoint, model=model.state_dict(), optimizer=optimizer.state_dict(),
                            scheduler=scheduler.state_dict() if scheduler is not None else None,
                            scaler=scaler.state_dict() if scaler is not None else None,
                            epoch=epoch_next - 1, next_epoch=epoch_next, partial=part, loader=loader_state, rng=rng,
                            history=hist.to_dict(), extra=extra)
        distributed.barrier()

    for epoch in range(next_epoch, epochs):
        net.train()
        loader_state = train_loader.state_dict() if hasattr(train_loader, "state_dict") else None
        step, total_loss, correct, count, before = 0, 0.0, 0, 0, 0.0
        if partial is not None and partial["epoch"] == epoch:  # finish the epoch a budget cut short
            step, before = partial["step"], partial["seconds"]
            if rank == 0:  # the sums are over all processes: count them once
                total_loss, correct, count = partial["loss_sum"], partial["correct"], partial["count"]
        partial = None
        started = time.perf_counter()
        stopped = False
        bar = _bar(_batches_from(train_loader, step), f"epoch {epoch + 1}/{epochs}", progress,
                   total=len(train_loader) if hasattr(train_loader, "__len__") else None, initial=step)
        for inputs, targets in bar:
            inputs, targets = inputs.to(device), targets.to(device)
            with autocast:
                output = net(inputs)  # logits (B, K), or a tuple whose first item is the logits
                logits = _logits(output)
                loss = loss_fn(_as_float(output), targets)
            n = targets.numel()
            n_all, bad = distributed.all_reduce_sum([n, float(not torch.isfinite(loss))], device)
            if bad:  # before backward: the weights, optimizer and schedule stay as they were
                raise FloatingPointError(f"loss became {loss.item()} at epoch {epoch + 1}, step {step + 1}: "
                                         f"lower the learning rate (the step was not applied)")
            optimizer.zero_grad(set_to_none=True)
            # each process's loss is a mean over its rows; DDP averages gradients over processes,
            # so weight by the process's share of the global batch to get the global batch's mean
            weighted = loss * (n * world_size / n_all) if world_size > 1 else loss
            if scaler is not None:
                scaler.scale(weighted).backward()
                scaler.unscale_(optimizer)
            else:
                weighted.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            total_loss += loss.item() * n
            correct += (logits.argmax(-1) == targets).sum().item()
            count += n
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{total_loss / count:.3f}", acc=f"{correct / count:.3f}", refresh=False)
            if max_minutes is not None and distributed.all_reduce_sum([float(time.perf_counter() > deadline)])[0]:
                stopped = True
                break
        if hasattr(bar, "close"):
            bar.close()
        total_loss, correct, count = distributed.all_reduce_sum([total_loss, correct, count], device)
        correct, count = int(correct), int(count)
        if count == 0:
            raise ValueError("fit() got an empty train_loader: no batches to train on")
        seconds = before + time.perf_counter() - started
        finished = History.from_dict(history.to_dict())  # the completed epochs, what a resume builds on
        val_loss, val_acc = evaluate(model, val_loader, loss_fn, device) if val_loader is not None else (math.nan, math.nan)
        history.epoch.append(epoch + 1)
        history.train_loss.append(total_loss / count)
        history.train_acc.append(correct / count)
        history.val_loss.append(val_loss)
        history.val_acc.append(val_acc)
        history.seconds.append(seconds)
        history.lr.append(optimizer.param_groups[0]["lr"])
        history.fraction.append(step / len(train_loader) if stopped and hasattr(train_loader, "__len__") else 1.0)
        if progress:
            scores = f"val loss {val_loss:.4f} acc {val_acc:.4f} | " if val_loader is not None else ""
            print(f"epoch {epoch + 1:3d}: train loss {total_loss / count:.4f} acc {correct / count:.4f} | "
                  f"{scores}{seconds:.1f} s")
        if stopped:
            history.stopped_early = True
            part = {"epoch": epoch, "step": step, "loss_sum": total_loss, "correct": correct, "count": count,
                    "seconds": seconds}
            save(epoch, loader_state, part, finished)
            if progress:
                total = f"/{len(train_loader)}" if hasattr(train_loader, "__len__") else ""
                again = "; run it again to resume" if checkpoint is not None else ""
                print(f"stopped after {max_minutes} minute(s) of training, {step}{total} steps into epoch "
                      f"{epoch + 1}{again}")
            break
        save(epoch + 1, train_loader.state_dict() if hasattr(train_loader, "state_dict") else None, None, history)
    return history


def _batches_from(loader: Iterable, start: int) -> Iterable:
    """The loader's next epoch from batch ``start`` on (replayable loaders skip without work)."""
    if start == 0:
        return loader
    if hasattr(loader, "iter_from"):
        return loader.iter_from(start)
    return itertools.islice(iter(loader), start, None)


def _bar(iterable: Iterable, desc: str, enabled: bool, total: int | None = None, initial: int = 0):
    if not enabled or tqdm is None:
        return iterable
    return tqdm(iterable, desc=desc, leave=False, mininterval=0.5, total=total, initial=initial)
