"""Named training recipes run from the command line: ``python -m course_utils.train NAME ...``.

``vit-cifar10`` trains the course's ViT on CIFAR-10 and keeps two files:
- ``OUT.run.pt``: the full training state (model, optimizer, scheduler, epoch, history), saved
  after every epoch; running the same command again resumes from it;
- ``OUT``: the slim pretrained file (weights, config, measured accuracies, history, recipe),
  written atomically when training stops (schedule done or ``--minutes`` spent), what
  :func:`course_utils.vit.load_pretrained` reads.
"""

from __future__ import annotations

import argparse
import platform
from dataclasses import asdict
from pathlib import Path

import torch

from . import config, data, train, vit

DEFAULT_RECIPE = {
    "model": {"image_size": 32, "patch_size": 4, "embed_dim": 192, "depth": 6, "num_heads": 3, "mlp_dim": 384,
              "dropout": 0.0, "pos_embedding": "learned", "pool": "cls"},
    "batch_size": 128, "lr": 1e-3, "weight_decay": 0.05, "warmup_epochs": 2, "label_smoothing": 0.1,
    "augment": "strong", "val_per_class": 500, "seed": 0, "precision": "auto",
}
"""A pure ViT of 1.8 M parameters; "strong" augmentation pays off on long schedules (100+ epochs),
crop + flip on short ones (``--augment crop_flip``). "auto" precision: bfloat16 where it is native."""


def vit_cifar10(out: Path, epochs: int, minutes: float | None, recipe: dict = DEFAULT_RECIPE,
                progress: bool = True, per_class: int | None = None) -> dict:
    """Train (or resume) the course ViT on CIFAR-10; returns the pretrained file's metadata."""
    config.seed_everything(recipe["seed"])
    full = data.load_cifar10("train", per_class=per_class)
    val_per_class = min(recipe["val_per_class"], max(1, len(full) // 20))
    train_set, val_set = data.train_val_split(full, val_per_class=val_per_class, seed=recipe["seed"])
    test_set = data.load_cifar10("test", per_class=None if per_class is None else max(1, per_class // 5))
    device = config.get_device()
    model = vit.ViT(**recipe["model"]).to(device)
    precision = recipe.get("precision", "fp32")
    precision = config.fast_precision(device) if precision == "auto" else precision
    loader = data.make_loader(train_set, recipe["batch_size"], train=True, augment=recipe["augment"],
                              seed=recipe["seed"], device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"])
    sched = train.warmup_cosine(opt, min(recipe["warmup_epochs"], epochs) * len(loader), epochs * len(loader))
    run_file = out.with_name(out.name + ".run.pt")  # the full training state, next to the slim file
    hist = train.fit(model, loader, opt, epochs=epochs, scheduler=sched, device=device, max_minutes=minutes,
                     val_loader=data.make_loader(val_set, 500, device=device), checkpoint=run_file,
                     loss_fn=torch.nn.CrossEntropyLoss(label_smoothing=recipe["label_smoothing"]),
                     extra={"recipe": recipe}, precision=precision, progress=progress)
    _, test_acc = train.evaluate(model, data.make_loader(test_set, 500, device=device))
    meta = {"config": asdict(model.config), "test_acc": test_acc, "val_acc": hist.val_acc[-1] if len(hist) else None,
            "epochs_done": len(hist), "epochs_planned": epochs, "train_hours": hist.total_seconds / 3600,
            "hardware": f"{device.type} ({platform.machine()}, {torch.get_num_threads()} threads, {precision})",
            "recipe": recipe, "history": hist.to_dict(), "data": full.source}
    vit.save_pretrained(model, out, meta)
    if progress:
        print(f"{len(hist)}/{epochs} epochs; test accuracy {100 * test_acc:.2f} %; wrote {out}")
    return meta


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m course_utils.train vit-cifar10 [--minutes M] [--epochs E] [--out PATH]``."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="recipe", required=True)
    p = sub.add_parser("vit-cifar10", help="train (or resume) the course ViT on CIFAR-10")
    p.add_argument("--epochs", type=int, default=200, help="epochs the schedule is planned for (default 200)")
    p.add_argument("--minutes", type=float, default=None, help="stop cleanly after this many minutes (resume later)")
    p.add_argument("--out", type=Path, default=vit.DEFAULT_CHECKPOINT, help="the pretrained file to write")
    p.add_argument("--augment", choices=data.AUGMENTS, default=DEFAULT_RECIPE["augment"],
                   help=f"training augmentation (default {DEFAULT_RECIPE['augment']})")
    p.add_argument("--per-class", type=int, default=None, help="train on a stratified subset (quick checks)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs {args.epochs} must be at least 1")
    if args.minutes is not None and args.minutes <= 0:
        parser.error(f"--minutes {args.minutes} must be positive")
    recipe = dict(DEFAULT_RECIPE, augment=args.augment)
    vit_cifar10(args.out, args.epochs, args.minutes, recipe=recipe, per_class=args.per_class)
    return 0
