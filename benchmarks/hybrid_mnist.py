"""MNIST, one table: MLP, small CNN, the notes' model, conv-attention (notes' and fixed), hybrid ViT, tiny ViT.

    python benchmarks/hybrid_mnist.py                 # all models, writes results/hybrid_mnist.json
    python benchmarks/hybrid_mnist.py --only hybrid   # one model (results merged into the file)

Same data (the 60,000 training and 10,000 test images), same budget: 5 epochs. Every model but
the notes' own uses AdamW (weight decay 0.05), batch 256, warm-up + cosine, shifts of ±2 pixels.
The notes' model is trained with the notes' recipe (Adam 1e-3, batch 32, no augmentation),
and again with its attention layers replaced by plain Linear layers (the control).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from course_utils import config, data, hybrid, train, vit
from provenance import provenance  # benchmarks/provenance.py: commit, data, command line

OUT = Path(__file__).parent / "results" / "hybrid_mnist.json"
EPOCHS = 5

MODELS = {
    "MLP (784-256-256-10)": lambda: hybrid.mlp(),
    "small CNN (the hybrid's stem + pooling)": lambda: hybrid.SmallCNN(),
    "notes' model (attention over 1 token)": lambda: hybrid.LectureMNISTModel(attention=True),
    # the control starts from the notes' model's own initial weights (value projections as the Linear layers)
    "notes' model, attention → Linear (control)": lambda: hybrid.LectureMNISTModel.control_of(hybrid.LectureMNISTModel()),
    "conv-attention, notes' layer": lambda: hybrid.ConvAttentionNet("lecture"),
    "conv-attention, fixed layer": lambda: hybrid.ConvAttentionNet("fixed"),
    "hybrid ViT (conv stem + 2 blocks)": lambda: hybrid.HybridViT(),
    "tiny ViT (patch 7, 4 blocks)": lambda: vit.ViT(28, 7, 1, 10, embed_dim=64, depth=4, num_heads=4, mlp_dim=128, pool="mean"),
}


def recipe(name: str, model: torch.nn.Module, train_set):
    """(loader, optimizer, scheduler) for a model: the notes' recipe for the notes' model, ours otherwise."""
    if name.startswith("notes' model"):
        loader = data.make_loader(train_set, 32, train=True, augment="none")
        return loader, torch.optim.Adam(model.parameters(), lr=1e-3), None
    loader = data.make_loader(train_set, 256, train=True, augment="crop_flip")
    opt = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=0.05)
    return loader, opt, train.warmup_cosine(opt, len(loader) // 2, EPOCHS * len(loader))


def run(name: str, train_set, test_set) -> dict:
    config.seed_everything(0)
    model = MODELS[name]()
    loader, opt, sched = recipe(name, model, train_set)
    start = time.perf_counter()
    hist = train.fit(model, loader, opt, epochs=EPOCHS, scheduler=sched, progress=False)
    seconds = time.perf_counter() - start
    _, acc = train.evaluate(model, data.make_loader(test_set, 1000))
    return {"model": name, "params": vit.count_parameters(model), "epochs": EPOCHS, "train_seconds": round(seconds, 1),
            "test_acc": round(100 * acc, 2), "final_train_loss": round(hist.train_loss[-1], 4),
            **provenance(train_set.source)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", help="substring of a model's name (repeatable)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    names = [n for n in MODELS if not args.only or any(o.lower() in n.lower() for o in args.only)]
    train_set, test_set = data.load_mnist("train"), data.load_mnist("test")
    old = json.loads(args.out.read_text())["rows"] if args.out.exists() else []
    rows = {r["model"]: r for r in old}
    for name in names:
        row = run(name, train_set, test_set)
        rows[name] = row
        print(f"{row['model']:45s} {row['params']:>9,d} params  {row['test_acc']:6.2f} %  {row['train_seconds']:6.1f} s", flush=True)
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
            "epochs": EPOCHS, "data": train_set.source}
    ordered = [rows[n] for n in MODELS if n in rows]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": ordered}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
