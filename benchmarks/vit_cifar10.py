"""Which ingredient buys what: a ViT ablation ladder on real CIFAR-10, under a wall-clock budget.

    python benchmarks/vit_cifar10.py ladder --minutes 2          # every rung, 2 minutes each
    python benchmarks/vit_cifar10.py budget --minutes 10 --model best-vit
    python benchmarks/vit_cifar10.py budget --minutes 10 --model cnn

Same data for every row: 45,000 training images, a stratified 500 per class held out for
validation (it decides what the ladder keeps), the 10,000 test images (reported, never used to
decide). The ladder starts from the lecture notes' model exactly as written and changes one
thing per rung. The first rungs ("step") are always kept: a bug fix and the standard recipe. The
others ("try") are kept for the rungs after them only when their validation accuracy is at
least the best so far. ``budget`` trains one named recipe for the lecture's 10 minutes: the
notes' model (10 minutes is about the notes' 100 epochs), the course's best ViT, a small CNN.

Results go to results/vit_cifar10.json (rows keyed by name and budget); the README and notebook
04 quote them. A ladder run skips rungs already measured with the same budget (delete the file,
or pass --fresh, to measure again).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from torch import nn

from course_utils import cnn, config, data, train, vit
from provenance import provenance  # benchmarks/provenance.py: commit, data, command line

OUT = Path(__file__).parent / "results" / "vit_cifar10.json"

NOTES = {"model": "notes", "train_embedding": False, "optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0,
         "schedule": "constant", "label_smoothing": 0.0, "augment": "none", "batch_size": 128, "precision": "fp32",
         "vit": {"patch_size": 8, "embed_dim": 64, "depth": 2, "num_heads": 2, "mlp_dim": 128, "dropout": 0.1,
                 "pos_embedding": "sincos2d", "pool": "cls", "stem": "patch"}}
"""The notes' setup: processor outside the model, Adam 1e-3, no schedule, no augmentation.
(The notes do not give a batch size; 128 throughout.)"""

BEST = {**NOTES, "model": "vit", "train_embedding": True, "optimizer": "adamw", "weight_decay": 0.05,
        "schedule": "cosine", "label_smoothing": 0.1, "augment": "crop_flip", "precision": "bf16",
        "vit": {"patch_size": 8, "embed_dim": 192, "depth": 6, "num_heads": 3, "mlp_dim": 384, "dropout": 0.0,
                "pos_embedding": "learned", "pool": "cls", "stem": "conv"}}
"""The 10-minute recipe: a conv-stem ViT (16 tokens, 192 wide, 6 blocks), AdamW with warm-up and a
cosine that ends with the budget, label smoothing, crop + flip, bfloat16 autocast."""

# (name, what changes relative to the recipe kept so far, "step": always kept | "try": kept if val improves)
LADDER = [
    ("notes, as written", {}, "step"),
    ("train the patch embedding too", {"train_embedding": True}, "step"),
    ("course ViT block (pre-norm)", {"model": "vit"}, "step"),
    ("AdamW + warm-up + cosine to the budget", {"optimizer": "adamw", "weight_decay": 0.05, "schedule": "cosine"}, "step"),
    ("bfloat16 autocast", {"precision": "bf16"}, "try"),
    ("label smoothing 0.1", {"label_smoothing": 0.1}, "try"),
    ("random crop + flip", {"augment": "crop_flip"}, "try"),
    ("patch 4 (64 tokens)", {"vit": {"patch_size": 4}}, "try"),
    ("wider and deeper (192 wide, 6 blocks)", {"vit": {"embed_dim": 192, "depth": 6, "num_heads": 3, "mlp_dim": 384,
                                                       "dropout": 0.0}}, "try"),
    ("conv stem, 16 tokens, 192 wide, 6 blocks", {"vit": {"stem": "conv", "patch_size": 8, "embed_dim": 192, "depth": 6,
                                                          "num_heads": 3, "mlp_dim": 384, "dropout": 0.0}}, "try"),
    ("TrivialAugmentWide + crop + flip", {"augment": "strong"}, "try"),
    ("learned positions", {"vit": {"pos_embedding": "learned"}}, "try"),
    ("mean pooling", {"vit": {"pool": "mean"}}, "try"),
    ("batch 256, lr 2e-3", {"batch_size": 256, "lr": 2e-3}, "try"),
]

BUDGET_MODELS = {  # name → (recipe)
    "notes": NOTES,
    "best-vit": BEST,
    "cnn": {**BEST, "model": "cnn"},
}


def merged(recipe: dict, change: dict) -> dict:
    """``recipe`` with ``change`` applied (the nested "vit" entry merged key by key)."""
    out = {**recipe, **{k: v for k, v in change.items() if k != "vit"}}
    out["vit"] = {**recipe["vit"], **change.get("vit", {})}
    return out


def build(recipe: dict) -> tuple[nn.Module, list[nn.Parameter]]:
    """The model for a recipe and the parameters its optimizer is given."""
    if recipe["model"] == "notes":
        v = recipe["vit"]
        processor = vit.LectureProcessor(32, v["patch_size"], 3, v["embed_dim"])
        head = vit.LectureViT(v["embed_dim"], 10, v["num_heads"], v["depth"], v["mlp_dim"], v["dropout"])
        model = nn.Sequential(processor, head)
        return model, list(model.parameters() if recipe["train_embedding"] else head.parameters())
    model = cnn.ConvNet() if recipe["model"] == "cnn" else vit.ViT(32, **recipe["vit"])
    return model, list(model.parameters())


def run(name: str, recipe: dict, minutes: float, splits) -> dict:
    """Train one recipe for ``minutes`` on the fixed splits; return its result row."""
    train_set, val_set, test_set = splits
    config.seed_everything(0)
    model, params = build(recipe)
    loader = data.make_loader(train_set, recipe["batch_size"], train=True, augment=recipe["augment"], seed=0)
    if recipe["optimizer"] == "adam":
        opt = torch.optim.Adam(params, lr=recipe["lr"])
    else:
        opt = torch.optim.AdamW(params, lr=recipe["lr"], weight_decay=recipe["weight_decay"])
    sched = train.TimeBudgetCosine(opt, minutes) if recipe["schedule"] == "cosine" else None
    hist = train.fit(model, loader, opt, epochs=10_000, scheduler=sched, max_minutes=minutes,
                     val_loader=data.make_loader(val_set, 500),
                     loss_fn=nn.CrossEntropyLoss(label_smoothing=recipe["label_smoothing"]),
                     precision=recipe["precision"], progress=False)
    _, test_acc = train.evaluate(model, data.make_loader(test_set, 500))
    return {"name": name, "minutes": minutes, "recipe": recipe, "params": vit.count_parameters(model),
            "epochs": round(len(hist) - 1 + _last_epoch_fraction(hist), 2),
            "train_seconds": round(hist.total_seconds, 1), "val_acc": round(100 * hist.val_acc[-1], 2),
            "test_acc": round(100 * test_acc, 2), "val_curve": [round(100 * a, 2) for a in hist.val_acc],
            "train_loss_curve": [round(x, 4) for x in hist.train_loss],
            "torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
            **provenance(train_set.source)}


def _last_epoch_fraction(hist: train.History) -> float:
    """Fraction of the last (cut) epoch that ran, estimated from its time against a full epoch's."""
    if len(hist) < 2 or not hist.stopped_early:
        return 1.0
    return min(1.0, hist.seconds[-1] / max(hist.seconds[:-1]))


def load_rows(path: Path) -> list[dict]:
    return json.loads(path.read_text())["rows"] if path.exists() else []


def save_row(path: Path, row: dict, section: str) -> None:
    """Merge ``row`` into the results file (replacing one with the same section, name and budget)."""
    rows = [r for r in load_rows(path)
            if (r["section"], r["name"], r["minutes"]) != (section, row["name"], row["minutes"])]
    rows.append({"section": section, **row})
    tmp = path.with_suffix(".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps({"rows": rows}, indent=1))
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("ladder", "budget"))
    parser.add_argument("--minutes", type=float, default=2.0, help="training budget per row (default 2)")
    parser.add_argument("--model", choices=sorted(BUDGET_MODELS), default="best-vit", help="for `budget`")
    parser.add_argument("--fresh", action="store_true", help="re-measure rungs already in the results file")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.minutes <= 0:
        parser.error(f"--minutes {args.minutes} must be positive")

    full = data.load_cifar10("train")
    train_set, val_set = data.train_val_split(full, val_per_class=500)
    splits = (train_set, val_set, data.load_cifar10("test"))
    if args.what == "budget":
        recipe = BUDGET_MODELS[args.model]
        row = run(args.model, recipe, args.minutes, splits)
        save_row(args.out, row, "budget")
        print(json.dumps({k: v for k, v in row.items() if k != "recipe"}))
        return

    recipe, best_val = NOTES, -1.0
    for i, (name, change, mode) in enumerate(LADDER):
        candidate = merged(recipe, change)
        done = [r for r in load_rows(args.out) if r["section"] == "ladder" and r["name"] == name
                and r["minutes"] == args.minutes and r["recipe"] == candidate]
        if done and not args.fresh:
            row = done[0]
        else:
            started = time.perf_counter()
            row = run(name, candidate, args.minutes, splits)
            row.update(rung=i, mode=mode, kept=mode == "step" or row["val_acc"] >= best_val, wall_seconds=round(time.perf_counter() - started, 1))
            save_row(args.out, row, "ladder")
        if row["kept"]:
            recipe, best_val = candidate, row["val_acc"]
        print(f"{i:2d} {name:40s} val {row['val_acc']:6.2f}  test {row['test_acc']:6.2f}  "
              f"epochs {row['epochs']:6.2f}  {'kept' if row['kept'] else 'dropped'}", flush=True)


if __name__ == "__main__":
    main()
