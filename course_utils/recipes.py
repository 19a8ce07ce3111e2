"""Named training recipes and their command line: ``python -m course_utils.recipes NAME ...``.

``vit-cifar10`` trains the course's ViT on CIFAR-10 and keeps two files:
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

from . import config, data, distributed, train, vit

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
    full = data.load_cifar10("train", per_class=per_class)
    val_per_class = min(recipe["val_per_class"], max(1, len(full) // 20))
    train_set, val_set = data.train_val_split(full, val_per_class=val_per_class, seed=recipe["seed"])
    test_set = data.load_cifar10("test", per_class=None if per_class is None else max(1, per_class // 5))
    device = distributed.local_device(config.get_device())
    model = vit.ViT(**recipe["model"]).to(device)
    precision = recipe.get("precision", "fp32")
    precision = config.fast_precision(device) if precision == "auto" else precision
    loader = data.make_loader(train_set, recipe["batch_size"], train=True, augment=recipe["augment"],
                              seed=recipe["seed"], device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"])
    sched = train.warmup_cosine(opt, min(recipe["warmup_epochs"], epochs) * len(loader), epochs * len(loader))
    run_file = out.with_name(out.name + ".run.pt")  # the full training state, next to the slim file
    run = {"recipe": recipe, "epochs": epochs, "per_class": per_class}  # a resume must match all of it
    hist = train.fit(model, loader, opt, epochs=epochs, scheduler=sched, device=device, max_minutes=minutes,
                     val_loader=data.make_loader(val_set, 500, device=device), checkpoint=run_file,
                     loss_fn=torch.nn.CrossEntropyLoss(label_smoothing=recipe["label_smoothing"]),
                     extra=run, precision=precision, progress=progress)
    _, test_acc = train.evaluate(model, data.make_loader(test_set, 500, device=device))
    _, world_size = distributed.world()
    complete = len(hist) == epochs and not hist.stopped_early
    meta = {"config": asdict(model.config), "test_acc": test_acc, "val_acc": hist.val_acc[-1] if len(hist) else None,
            "epochs_done": round(hist.epochs_run, 3),
            "epochs_planned": epochs, "complete": complete, "train_hours": hist.total_seconds / 3600,
            "hardware": f"{device.type} ({platform.machine()}, {world_size} process(es) × "
                        f"{torch.get_num_threads()} threads, {precision})",
            "recipe": recipe, "history": hist.to_dict(), "data": full.source, "per_class": per_class}
    if distributed.is_main():
        vit.save_pretrained(model, out, meta)
        if progress:
            state = "done" if complete else "stopped early (run the same command again to resume)"
            print(f"{meta['epochs_done']:.2f}/{epochs} epochs, {state}; test accuracy {100 * test_acc:.2f} %; "
                  f"wrote {out}")
    distributed.barrier()
    return meta


def publish(meta: dict, run_out: Path, shipped: Path = vit.DEFAULT_CHECKPOINT) -> bool:
    """Copy a finished full-data run over the shipped checkpoint only when it is more accurate."""
    if not meta.get("complete") or meta.get("per_class") is not None:
        print(f"not published: only a finished run on the full training set may replace {shipped}")
        return False
    if shipped.is_file():
        _, old = vit.load_pretrained(shipped)
        if meta["test_acc"] <= old["test_acc"]:
            print(f"not published: test accuracy {100 * meta['test_acc']:.2f} % does not beat the shipped "
                  f"model's {100 * old['test_acc']:.2f} %; {shipped} is unchanged")
            return False
    model, meta = vit.load_pretrained(run_out)
    vit.save_pretrained(model, shipped, meta)
    print(f"published: {shipped} now holds the {100 * meta['test_acc']:.2f} % model")
    return True


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m course_utils.recipes vit-cifar10 [--epochs E] [--minutes M] [--out PATH] ...``."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.recipes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="recipe", required=True)
    p = sub.add_parser("vit-cifar10", help="train (or resume) the course ViT on CIFAR-10")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS,
                   help=f"epochs the schedule is planned for (default {DEFAULT_EPOCHS}, the shipped model's)")
    p.add_argument("--minutes", type=float, default=None,
                   help="stop cleanly after this many minutes; the same command again resumes")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"the pretrained file to write (default {DEFAULT_OUT})")
    p.add_argument("--augment", choices=data.AUGMENTS, default=DEFAULT_RECIPE["augment"],
                   help=f"training augmentation (default {DEFAULT_RECIPE['augment']})")
    p.add_argument("--batch-size", type=int, default=DEFAULT_RECIPE["batch_size"],
                   help=f"global batch size, shared by all processes (default {DEFAULT_RECIPE['batch_size']})")
    p.add_argument("--precision", choices=("auto",) + config.PRECISIONS, default=DEFAULT_RECIPE["precision"],
                   help="autocast precision (default auto: bfloat16 where the hardware has it)")
    p.add_argument("--per-class", type=int, default=None, help="train on a stratified subset (quick checks)")
    p.add_argument("--tiny", action="store_true", help="a 2-block model that checks the pipeline in seconds")
    p.add_argument("--publish", action="store_true",
                   help=f"when done, replace {vit.DEFAULT_CHECKPOINT} if (and only if) the new model is better")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs {args.epochs} must be at least 1")
    if args.minutes is not None and args.minutes <= 0:
        parser.error(f"--minutes {args.minutes} must be positive")
    if args.batch_size < 1:
        parser.error(f"--batch-size {args.batch_size} must be at least 1")
    if args.per_class is not None and args.per_class < 1:
        parser.error(f"--per-class {args.per_class} must be at least 1")
    if args.out.resolve() == vit.DEFAULT_CHECKPOINT.resolve():
        parser.error(f"--out {args.out} is the shipped checkpoint: train elsewhere and add --publish, which "
                     f"replaces it only with a better model")
    model = dict(DEFAULT_RECIPE["model"], **(TINY_MODEL if args.tiny else {}))
    recipe = dict(DEFAULT_RECIPE, model=model, augment=args.augment, batch_size=args.batch_size,
                  precision=args.precision)
    distributed.init_from_env()
    try:
        meta = vit_cifar10(args.out, args.epochs, args.minutes, recipe=recipe, per_class=args.per_class,
                           progress=distributed.is_main())
        if args.publish and distributed.is_main():
            publish(meta, args.out)
    finally:
        distributed.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
