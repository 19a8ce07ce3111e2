"""Named training recipes and their command line: ``python -m course_utils.recipes NAME ...``.

``vit-cifar10`` trains the course's ViT on CIFAR-10, ``cnn-teacher`` the CNN that teaches a distilled
ViT (:mod:`course_utils.distill`). Each keeps two files:
- ``OUT.run.pt``: the full training state (model, optimizer, scheduler, random states, the
  position inside an unfinished epoch, history), saved after every epoch and when ``--minutes``
  stops the run; running the same command again resumes exactly where it stopped;
- ``OUT``: the slim pretrained file (weights, config, measured accuracies, history, recipe),
  written atomically when training stops, what :func:`course_utils.vit.load_pretrained` reads.

``OUT`` defaults to ``data/runs/vit_cifar10.pt``, never to the shipped checkpoint:
``--publish`` copies a finished full-data run over ``data/checkpoints/vit_cifar10.pt`` only when
its test accuracy beats the shipped model's.

On several processes or GPUs, launch the same command with torchrun, e.g.
``torchrun --nproc-per-node 2 -m course_utils.recipes vit-cifar10``: ``--batch-size`` stays the
global batch, each process trains on its share of it, process 0 writes the files.
"""

from __future__ import annotations

import argparse
import platform
from dataclasses import asdict
from pathlib import Path

import torch

from . import checkpoints, cnn, config, data, distributed, train, vit

DEFAULT_RECIPE = {
    "model": {"image_size": 32, "patch_size": 4, "embed_dim": 192, "depth": 6, "num_heads": 3, "mlp_dim": 384,
              "dropout": 0.0, "pos_embedding": "learned", "pool": "cls"},
    "batch_size": 128, "lr": 1e-3, "weight_decay": 0.05, "warmup_epochs": 2, "label_smoothing": 0.1,
    "augment": "crop_flip", "val_per_class": 500, "seed": 0, "precision": "auto",
}
"""The recipe of the shipped checkpoint: a pure ViT of 1.8 M parameters, AdamW with warm-up and
cosine, crop + flip, label smoothing; "auto" precision is bfloat16 where it is native."""

DEFAULT_EPOCHS = 16
"""The shipped checkpoint's schedule: 16 epochs (0.81 h on 2 CPU cores in bfloat16)."""

TINY_MODEL = {"embed_dim": 32, "depth": 2, "num_heads": 2, "mlp_dim": 64, "patch_size": 8}
"""``--tiny``: a 2-block ViT that checks the whole pipeline in seconds (not for accuracy)."""

DEFAULT_OUT = vit.DEFAULT_CHECKPOINT.parent.parent / "runs" / "vit_cifar10.pt"
"""Where a run writes unless told otherwise: beside the shipped checkpoint, never over it."""


def vit_cifar10(out: Path, epochs: int, minutes: float | None, recipe: dict = DEFAULT_RECIPE,
                progress: bool = True, per_class: int | None = None) -> dict:
    """Train (or resume) the course ViT on CIFAR-10; returns the pretrained file's metadata.

    Inside a torchrun process group every process runs this; each trains on its share of every
    batch and process 0 writes ``out`` and the run file.
    """
    config.seed_everything(recipe["seed"])
    full, train_set, val_set, test_set = _cifar10(per_class, recipe)
    device = distributed.local_device(config.get_device())
    model = vit.ViT(**recipe["model"]).to(device)
    precision = _precision(recipe, device)
    loader = data.make_loader(train_set, recipe["batch_size"], train=True, augment=recipe["augment"],
                              seed=recipe["seed"], device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"])
    sched = train.warmup_cosine(opt, min(recipe["warmup_epochs"], epochs) * len(loader), epochs * len(loader))
    run = {"recipe": recipe, "epochs": epochs, "per_class": per_class}  # a resume must match all of it
    hist = train.fit(model, loader, opt, epochs=epochs, scheduler=sched, device=device, max_minutes=minutes,
                     val_loader=data.make_loader(val_set, 500, device=device), checkpoint=_run_file(out),
                     loss_fn=torch.nn.CrossEntropyLoss(label_smoothing=recipe["label_smoothing"]),
                     extra=run, precision=precision, progress=progress)
    _, test_acc = train.evaluate(model, data.make_loader(test_set, 500, device=device))
    meta = _meta(model, hist, epochs, recipe, full, per_class, device, precision, config=asdict(model.config),
                 test_acc=test_acc)
    if distributed.is_main():
        vit.save_pretrained(model, out, meta)
        _report(meta, epochs, out, progress)
    distributed.barrier()
    return meta


def publish(meta: dict, run_out: Path, shipped: Path = vit.DEFAULT_CHECKPOINT) -> bool:
    """Copy a finished full-data run's file over a shipped one only when its test accuracy is higher."""
    if not meta.get("complete") or meta.get("per_class") is not None:
        print(f"not published: only a finished run on the full training set may replace {shipped}")
        return False
    if shipped.is_file():
        old = checkpoints.load_pretrained_state(shipped)["meta"]
        if meta["test_acc"] <= old["test_acc"]:
            print(f"not published: test accuracy {100 * meta['test_acc']:.2f} % does not beat the shipped "
                  f"model's {100 * old['test_acc']:.2f} %; {shipped} is unchanged")
            return False
    state = checkpoints.load_pretrained_state(run_out)
    checkpoints.save_pretrained_state(shipped, state["model"], state["config"], state["meta"])
    print(f"published: {shipped} now holds the {100 * state['meta']['test_acc']:.2f} % model")
    return True


# ----------------------------------------------------------------------------- the CNN teacher

TEACHER_RECIPE = {
    "widths": [64, 256, 256], "batch_size": 512, "lr": 0.4, "momentum": 0.9, "weight_decay": 5e-4,
    "label_smoothing": 0.2, "augment": "crop_flip", "warmup_epochs": 0.5, "whiten_images": 5000,
    "val_per_class": 500, "seed": 0, "precision": "auto",
}
"""A FastCNN (2.0 M parameters): SGD with Nesterov momentum, warm-up then cosine, label smoothing,
crop + flip, bfloat16 where native; the test accuracy is measured with flip test-time augmentation."""

TEACHER_EPOCHS = 16
TINY_WIDTHS = [8, 16, 16]
"""``--tiny`` for the teacher: a FastCNN narrow enough to check the pipeline in seconds."""
DEFAULT_TEACHER_OUT = cnn.DEFAULT_TEACHER.parent.parent / "runs" / "cnn_teacher.pt"


def cnn_teacher(out: Path, epochs: int, minutes: float | None, recipe: dict = TEACHER_RECIPE,
                progress: bool = True, per_class: int | None = None) -> dict:
    """Train (or resume) the course's CIFAR-10 CNN teacher; returns its pretrained file's metadata."""
    config.seed_everything(recipe["seed"])
    full, train_set, val_set, test_set = _cifar10(per_class, recipe)
    device = distributed.local_device(config.get_device())
    model = cnn.FastCNN(widths=tuple(recipe["widths"]))
    generator = torch.Generator().manual_seed(recipe["seed"])
    sample = torch.randperm(len(train_set), generator=generator)[:recipe["whiten_images"]]
    model.whiten(data.normalize(train_set.images[sample], train_set.mean, train_set.std))
    model = model.to(device, memory_format=torch.channels_last)
    precision = _precision(recipe, device)
    loader = data.make_loader(train_set, recipe["batch_size"], train=True, augment=recipe["augment"],
                              seed=recipe["seed"], device=device)
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]  # no weight decay on biases, norms
    rest = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": recipe["weight_decay"]}, {"params": rest, "weight_decay": 0}],
                          lr=recipe["lr"], momentum=recipe["momentum"], nesterov=True)
    sched = train.warmup_cosine(opt, int(recipe["warmup_epochs"] * len(loader)), epochs * len(loader))
    run = {"recipe": recipe, "epochs": epochs, "per_class": per_class}
    hist = train.fit(model, loader, opt, epochs=epochs, scheduler=sched, device=device, max_minutes=minutes,
                     val_loader=data.make_loader(val_set, 500, device=device), checkpoint=_run_file(out),
                     loss_fn=torch.nn.CrossEntropyLoss(label_smoothing=recipe["label_smoothing"]),
                     extra=run, precision=precision, progress=progress)
    model.load_state_dict(cnn.stored_state(model))  # the weights as the file stores them (bfloat16)
    test_loader = data.make_loader(test_set, 500, device=device)
    _, plain_acc = train.evaluate(model, test_loader)
    tta_acc = _tta_accuracy(model, test_loader, precision, device)
    meta = _meta(model, hist, epochs, recipe, full, per_class, device, precision,
                 test_acc=tta_acc, test_acc_no_tta=plain_acc, params=vit.count_parameters(model))
    if distributed.is_main():
        cnn.save_teacher(model, out, meta)
        _report(meta, epochs, out, progress)
    distributed.barrier()
    return meta


@torch.no_grad()
def _tta_accuracy(model: cnn.FastCNN, loader, precision: str, device: torch.device | str = "cpu") -> float:
    """Test accuracy with each image's logits averaged with its mirror image's."""
    model.eval()
    correct = count = 0
    autocast = torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=precision == "bf16")
    for images, targets in loader:
        with autocast:
            correct += (model.predict_tta(images).argmax(-1) == targets).sum().item()
        count += len(targets)
    correct, count = distributed.all_reduce_sum([correct, count], device)
    return correct / count


# ----------------------------------------------------------------------------- shared plumbing

def _cifar10(per_class: int | None, recipe: dict):
    """(full training set, train split, validation split, test set); a subset with ``per_class``."""
    full = data.load_cifar10("train", per_class=per_class)
    val_per_class = min(recipe["val_per_class"], max(1, len(full) // 20))
    train_set, val_set = data.train_val_split(full, val_per_class=val_per_class, seed=recipe["seed"])
    test_set = data.load_cifar10("test", per_class=None if per_class is None else max(1, per_class // 5))
    return full, train_set, val_set, test_set


def _precision(recipe: dict, device: torch.device) -> str:
    precision = recipe.get("precision", "fp32")
    return config.fast_precision(device) if precision == "auto" else precision


def _run_file(out: Path) -> Path:
    """The full training state, next to the slim file."""
    return out.with_name(out.name + ".run.pt")


def _meta(model, hist: train.History, epochs: int, recipe: dict, full, per_class, device, precision: str,
          **measured) -> dict:
    """What a pretrained file records about its run."""
    _, world_size = distributed.world()
    complete = len(hist) == epochs and not hist.stopped_early
    return {**measured, "val_acc": hist.val_acc[-1] if len(hist) else None, "epochs_done": round(hist.epochs_run, 3),
            "epochs_planned": epochs, "complete": complete, "train_hours": hist.total_seconds / 3600,
            "hardware": f"{device.type} ({platform.machine()}, {world_size} process(es) × "
                        f"{torch.get_num_threads()} threads, {precision})",
            "recipe": recipe, "history": hist.to_dict(), "data": full.source, "per_class": per_class}


def _report(meta: dict, epochs: int, out: Path, progress: bool) -> None:
    if progress:
        state = "done" if meta["complete"] else "stopped early (run the same command again to resume)"
        print(f"{meta['epochs_done']:.2f}/{epochs} epochs, {state}; test accuracy {100 * meta['test_acc']:.2f} %; "
              f"wrote {out}")


RECIPES = {  # name: (train function, its recipe, default epochs, the shipped file)
    "vit-cifar10": (vit_cifar10, DEFAULT_RECIPE, DEFAULT_EPOCHS, vit.DEFAULT_CHECKPOINT),
    "cnn-teacher": (cnn_teacher, TEACHER_RECIPE, TEACHER_EPOCHS, cnn.DEFAULT_TEACHER),
}


def _default_out(name: str) -> Path:
    """Where a recipe writes unless told otherwise (read when called)."""
    return {"vit-cifar10": DEFAULT_OUT, "cnn-teacher": DEFAULT_TEACHER_OUT}[name]


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m course_utils.recipes NAME [--epochs E] [--minutes M] [--out PATH] ...``."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.recipes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="recipe", required=True)
    helps = {"vit-cifar10": "train (or resume) the course ViT on CIFAR-10",
             "cnn-teacher": "train (or resume) the CNN teacher for distillation on CIFAR-10"}
    for name, (_, recipe, epochs, shipped) in RECIPES.items():
        p = sub.add_parser(name, help=helps[name])
        p.add_argument("--epochs", type=int, default=epochs,
                       help=f"epochs the schedule is planned for (default {epochs}, the shipped model's)")
        p.add_argument("--minutes", type=float, default=None,
                       help="stop cleanly after this many minutes; the same command again resumes")
        p.add_argument("--out", type=Path, default=None,
                       help=f"the pretrained file to write (default {_default_out(name)})")
        p.add_argument("--augment", choices=data.AUGMENTS, default=recipe["augment"],
                       help=f"training augmentation (default {recipe['augment']})")
        p.add_argument("--batch-size", type=int, default=recipe["batch_size"],
                       help=f"global batch size, shared by all processes (default {recipe['batch_size']})")
        p.add_argument("--precision", choices=("auto",) + config.PRECISIONS, default=recipe["precision"],
                       help="autocast precision (default auto: bfloat16 where the hardware has it)")
        p.add_argument("--per-class", type=int, default=None, help="train on a stratified subset (quick checks)")
        p.add_argument("--tiny", action="store_true", help="a small model that checks the pipeline in seconds")
        p.add_argument("--publish", action="store_true",
                       help=f"when done, replace {shipped} if (and only if) the new model is better")
    args = parser.parse_args(argv)
    fn, recipe, _, shipped = RECIPES[args.recipe]
    if args.epochs < 1:
        parser.error(f"--epochs {args.epochs} must be at least 1")
    if args.minutes is not None and args.minutes <= 0:
        parser.error(f"--minutes {args.minutes} must be positive")
    if args.batch_size < 1:
        parser.error(f"--batch-size {args.batch_size} must be at least 1")
    if args.per_class is not None and args.per_class < 1:
        parser.error(f"--per-class {args.per_class} must be at least 1")
    out = args.out or _default_out(args.recipe)
    if out.resolve() == shipped.resolve():
        parser.error(f"--out {out} is the shipped checkpoint: train elsewhere and add --publish, which "
                     f"replaces it only with a better model")
    recipe = dict(recipe, augment=args.augment, batch_size=args.batch_size, precision=args.precision)
    if args.tiny:
        recipe = dict(recipe, model=dict(recipe["model"], **TINY_MODEL)) if "model" in recipe else \
            dict(recipe, widths=TINY_WIDTHS, whiten_images=min(recipe["whiten_images"], 500))
    distributed.init_from_env()
    try:
        meta = fn(out, args.epochs, args.minutes, recipe=recipe, per_class=args.per_class,
                  progress=distributed.is_main())
        if args.publish and distributed.is_main():
            publish(meta, out, shipped)
    finally:
        distributed.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
