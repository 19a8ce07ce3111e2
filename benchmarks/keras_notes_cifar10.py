"""The other notes' Keras "ViT" (pixels as tokens): what its attention costs, what it learns in 10 minutes.

    python benchmarks/keras_notes_cifar10.py cost                                        # seconds
    python benchmarks/keras_notes_cifar10.py budget --recipe notes --minutes 10 --seed 0
    python benchmarks/keras_notes_cifar10.py budget --recipe course --minutes 10 --seed 0
    python benchmarks/keras_notes_cifar10.py budget --recipe notes --minutes 0.05 --per-class 20   # smoke: not saved

``cost``: forward time and peak memory per image (batch 8, float32, CPU; the fastest of 10 runs) of the notes' block at
1,024 pixel tokens against one block of the course's ViT at 64 patch tokens (patch 4) and 16
(conv stem, patch 8), each with its class token; then the whole models. "fused" is the default
forward (``F.scaled_dot_product_attention``); "written" materialises the (heads, L, L) attention
matrix, as Keras' MultiHeadAttention does. Memory is measured in a fresh process per number.

``budget``: trains the notes' model with the smallest fix (``course_utils.keras_notes``) for a
wall-clock budget on the same splits as ``vit_cifar10.py budget`` (45,000 train / 5,000
validation / 10,000 test), with the notes' recipe (Keras' Adam defaults: lr 1e-3, epsilon 1e-7;
Keras' default batch 32; x / 255 inputs; no augmentation) or the course's (vit_cifar10.py's BEST:
AdamW + warm-up + cosine to the budget, crop + flip, label smoothing 0.1, bfloat16 autocast).
Time budgets are wall-clock on this machine's CPU cores (the row records how many threads).

Results: results/keras_notes_cifar10.json, rows with section "cost" (replaced by each cost run)
and "budget" (keyed by recipe, minutes and seed). ``--per-class`` runs on a stratified subset and
saves nothing unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

from course_utils import config, data, keras_notes, train, vit
from course_utils.profiling import peak_memory, time_fn
from provenance import provenance  # benchmarks/provenance.py: commit, data, command line
from vit_cifar10 import BEST, load_rows  # the course's 10-minute recipe and the results-file reader

OUT = Path(__file__).parent / "results" / "keras_notes_cifar10.json"
BATCH = 8  # images per forward pass in `cost`

RECIPES = {
    "notes": {"optimizer": "adam", "lr": 1e-3, "adam_eps": 1e-7, "weight_decay": 0.0, "batch_size": 32,
              "schedule": "constant", "label_smoothing": 0.0, "augment": "none", "precision": "fp32",
              "inputs": "x / 255"},
    "course": {"optimizer": "adamw", "lr": BEST["lr"], "adam_eps": 1e-8, "weight_decay": BEST["weight_decay"],
               "batch_size": BEST["batch_size"], "schedule": BEST["schedule"],
               "label_smoothing": BEST["label_smoothing"], "augment": BEST["augment"],
               "precision": BEST["precision"], "inputs": "standardised"},
}
"""notes: ``model.compile(optimizer="adam")`` + ``model.fit(...)`` with Keras' defaults, the notes'
``x / 255``; course: vit_cifar10.py's BEST recipe applied to the same model."""


# ----------------------------------------------------------------------------- cost

def _course_block(tokens: int):
    v = BEST["vit"]  # 192 wide, 3 heads, MLP 384
    return vit.Block(v["embed_dim"], v["num_heads"], v["mlp_dim"]), torch.randn(BATCH, tokens, v["embed_dim"])


def _course_vit(**change):
    return vit.ViT(32, **{**BEST["vit"], **change}), torch.randn(BATCH, 3, 32, 32)


COST_ROWS = {  # name → (tokens attended, width, heads, key_dim per head, blocks, builder)
    "notes block, 1,024 pixel tokens": (1024, 3, 4, 64, 1, lambda: (
        keras_notes.TransformerBlock(64, 4, 128, 3, fixed=True), torch.rand(BATCH, 32, 32, 3))),
    "course block, 64 patches + CLS (patch 4)": (65, 192, 3, 64, 1, lambda: _course_block(65)),
    "course block, 16 patches + CLS (conv stem)": (17, 192, 3, 64, 1, lambda: _course_block(17)),
    "notes model (fixed), 1 block": (1024, 3, 4, 64, 1, lambda: (
        keras_notes.NotesModel(fixed=True), torch.rand(BATCH, 32, 32, 3))),
    "course ViT, patch 4, 6 blocks": (65, 192, 3, 64, 6, lambda: _course_vit(stem="patch", patch_size=4)),
    "course ViT, conv stem (BEST), 6 blocks": (17, 192, 3, 64, 6, lambda: _course_vit()),
}
FORMS = ("fused", "written")


def _forward(name: str, form: str):
    """A zero-argument forward pass of row ``name`` in ``form`` (under inference mode)."""
    torch.manual_seed(0)
    model, x = COST_ROWS[name][-1]()
    model.eval()
    if form == "fused":
        return lambda: model(x)
    if isinstance(model, vit.ViT):
        return lambda: model.attention_maps(x)  # every block, with its (B, heads, L, L) weights
    return lambda: model(x, return_attention=True)


def _measure_memory(name: str, form: str) -> float:
    """Peak resident-memory growth per image of one forward pass (run in a fresh process)."""
    with torch.inference_mode():
        fn = _forward(name, form)
        fn()  # warm up: kernels, thread pools
        return peak_memory(fn) / BATCH


def cost_rows(repeat: int = 10) -> list[dict]:
    """One row per entry of COST_ROWS: exact attention sizes, best-of-``repeat`` time and peak memory per image."""
    rows = []
    for name, (tokens, width, heads, key_dim, blocks, _) in COST_ROWS.items():
        row = {"section": "cost", "name": name, "tokens": tokens, "width": width, "heads": heads, "blocks": blocks,
               "attention_entries_per_image": blocks * heads * tokens**2,
               "attention_macs_per_image": blocks * 2 * heads * tokens**2 * key_dim}  # q·kᵀ and weights·v
        for form in FORMS:
            with torch.inference_mode():
                fn = _forward(name, form)
                fn()  # warm up
                best = min(time_fn(fn, repeat=1, warmup=0) for _ in range(repeat))  # the least disturbed run
                row[f"{form}_ms_per_image"] = round(1e3 * best / BATCH, 3)
            done = subprocess.run([sys.executable, __file__, "_memory", name, form], capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"memory measurement of {name!r} ({form}) failed:\n{done.stderr[-2000:]}")
            row[f"{form}_mb_per_image"] = round(float(done.stdout.strip().splitlines()[-1]) / 1e6, 2)
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- budget

def unit_scaled(ds: data.ImageDataset) -> data.ImageDataset:
    """The same images fed as the notes feed them, x / 255 in [0, 1] (mean 0, std 1 in the loader)."""
    zeros, ones = (0.0,) * len(ds.mean), (1.0,) * len(ds.std)
    return data.ImageDataset(ds.images, ds.targets, classes=ds.classes, mean=zeros, std=ones, name=ds.name,
                             source=ds.source)


def splits(per_class: int | None = None):
    """vit_cifar10.py's splits: 45,000 train, 500 per class validation, the 10,000 test images.

    ``per_class`` keeps that many training (and at most that many validation and test) images
    per class, for smoke checks."""
    full = data.load_cifar10("train")
    train_set, val_set = data.train_val_split(full, val_per_class=500)
    test_set = data.load_cifar10("test")
    if per_class is not None:
        train_set, val_set, test_set = (ds.subset(data.stratified_indices(ds.targets, min(per_class, 500)))
                                        for ds in (train_set, val_set, test_set))
    return train_set, val_set, test_set


SCORED_PER_CLASS = 200
"""Test images per class scored after a budget run (2,000 of the 10,000; validation: half as many)."""


def run_budget(recipe_name: str, minutes: float, seed: int, per_class: int | None = None) -> dict:
    """Train the fixed notes model with one recipe for ``minutes``; return its result row."""
    recipe = RECIPES[recipe_name]
    train_set, val_set, test_set = splits(per_class)
    if recipe["inputs"] == "x / 255":
        train_set, val_set, test_set = map(unit_scaled, (train_set, val_set, test_set))
    config.seed_everything(seed)
    model = keras_notes.course_model(fixed=True)
    loader = data.make_loader(train_set, recipe["batch_size"], train=True, augment=recipe["augment"], seed=seed)
    if recipe["optimizer"] == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=recipe["lr"], eps=recipe["adam_eps"])
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], eps=recipe["adam_eps"],
                                weight_decay=recipe["weight_decay"])
    sched = train.TimeBudgetCosine(opt, minutes) if recipe["schedule"] == "cosine" else None
    started = time.perf_counter()
    # scoring 1,024-token attention costs ~40 ms an image: score stratified subsets (stated in the row)
    val_set = val_set.subset(data.stratified_indices(val_set.targets, min(SCORED_PER_CLASS // 2, 500), seed=seed))
    test_set = test_set.subset(data.stratified_indices(test_set.targets, min(SCORED_PER_CLASS, 1000), seed=0))
    hist = train.fit(model, loader, opt, epochs=10_000, scheduler=sched, max_minutes=minutes,
                     val_loader=data.make_loader(val_set, 500),
                     loss_fn=nn.CrossEntropyLoss(label_smoothing=recipe["label_smoothing"]),
                     precision=recipe["precision"], progress=False)
    _, test_acc = train.evaluate(model, data.make_loader(test_set, 500))
    return {"section": "budget", "name": recipe_name, "minutes": minutes, "seed": seed, "per_class": per_class,
            "recipe": recipe, "params": vit.count_parameters(model), "epochs": round(hist.epochs_run, 3),
            "steps": round(hist.epochs_run * len(loader)), "train_seconds": round(hist.total_seconds, 1),
            "wall_seconds": round(time.perf_counter() - started, 1), "val_acc": round(100 * hist.val_acc[-1], 2),
            "test_acc": round(100 * test_acc, 2), "val_images": len(val_set), "test_images": len(test_set),
            "val_curve": [round(100 * a, 2) for a in hist.val_acc],
            "train_loss_curve": [round(x, 4) for x in hist.train_loss], "torch": torch.__version__,
            "threads": torch.get_num_threads(), "machine": platform.machine(), **provenance(train_set.source)}


# ----------------------------------------------------------------------------- results file

def save_rows(path: Path, new: list[dict], key) -> None:
    """Merge ``new`` into the results file, replacing rows with the same ``key(row)``; written atomically."""
    keys = {key(r) for r in new}
    rows = [r for r in load_rows(path) if key(r) not in keys] + new
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"rows": rows}, indent=1))
    tmp.replace(path)


def budget_key(row: dict):
    return (row["section"], row["name"], row["minutes"], row.get("seed"), row.get("per_class"))


def main() -> None:
    if sys.argv[1:2] == ["_memory"]:  # internal: one memory number, in a fresh process
        print(_measure_memory(sys.argv[2], sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("cost", "budget"))
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="notes", help="for `budget`")
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-class", type=int, default=None, help="a stratified subset (smoke checks)")
    parser.add_argument("--repeat", type=int, default=10, help="`cost`: timed runs, the fastest kept")
    parser.add_argument("--out", type=Path, default=None,
                        help="results file (default results/keras_notes_cifar10.json; none for a --per-class run)")
    args = parser.parse_args()
    if args.minutes <= 0:
        parser.error(f"--minutes {args.minutes} must be positive")
    if args.per_class is not None and args.per_class < 1:
        parser.error(f"--per-class {args.per_class} must be a positive integer")
    out = args.out or (OUT if args.per_class is None else None)

    if args.what == "cost":
        rows = cost_rows(args.repeat)
        for r in rows:
            r.update(provenance(f"random tensors (torch.manual_seed(0)), batch {BATCH}"),
                     torch=torch.__version__, threads=torch.get_num_threads(), machine=platform.machine())
        print(f"{'forward pass, per image':44s} {'tokens':>6s} {'attn entries':>13s} {'fused ms':>9s} "
              f"{'written ms':>10s} {'fused MB':>9s} {'written MB':>10s}")
        for r in rows:
            print(f"{r['name']:44s} {r['tokens']:6d} {r['attention_entries_per_image']:13,d} "
                  f"{r['fused_ms_per_image']:9.3f} {r['written_ms_per_image']:10.3f} "
                  f"{r['fused_mb_per_image']:9.2f} {r['written_mb_per_image']:10.2f}")
        if out is not None:
            save_rows(out, rows, key=lambda r: r["section"])  # every earlier cost row replaced, budget rows kept
            print(f"wrote {out}")
        return

    row = run_budget(args.recipe, args.minutes, args.seed, args.per_class)
    print(json.dumps({k: v for k, v in row.items() if k not in ("recipe", "train_loss_curve")}))
    if out is not None:
        save_rows(out, [row], key=budget_key)
        print(f"wrote {out}")
    else:
        print("a --per-class run is a smoke check: not saved (pass --out to keep it)")


if __name__ == "__main__":
    main()
