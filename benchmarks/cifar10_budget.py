"""CIFAR-10 under a fixed training-time budget: one row per model, for notebook 04's table.

    python benchmarks/cifar10_budget.py --model swin-tiny --minutes 10 --epochs 5

Same data for every row: 45,000 training images (a stratified 500 per class held out for
validation), the 10,000 test images; random crop + flip; AdamW, warm-up + cosine planned over
``--epochs``, label smoothing 0.1; training stops cleanly when ``--minutes`` are spent.
Rows are merged into results/cifar10_budget.json, keyed by model name.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from course_utils import config, data, swin, train, vit
from provenance import provenance  # benchmarks/provenance.py: commit, data, command line

OUT = Path(__file__).parent / "results" / "cifar10_budget.json"

MODELS = {
    "swin-tiny": lambda: swin.SwinTransformer(),  # patch 2, 48-96-192 channels, windows of 4
    # ViTs: pre-norm, learned positions, CLS pooling unless named otherwise
    "vit-p4-d96-l4": lambda: vit.ViT(32, 4, embed_dim=96, depth=4, num_heads=3, mlp_dim=192),
    "vit-convstem-p8-d192-l6": lambda: vit.ViT(32, 8, embed_dim=192, depth=6, num_heads=3, mlp_dim=384, stem="conv"),
    "vit-convstem-p4-d128-l4": lambda: vit.ViT(32, 4, embed_dim=128, depth=4, num_heads=4, mlp_dim=256, stem="conv"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), required=True)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--epochs", type=int, default=5, help="epochs the schedule is planned for")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--tag", default="", help="appended to the row's name (e.g. lr5e-4), to keep variants apart")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    name = args.model + (f" ({args.tag})" if args.tag else "")

    config.seed_everything(0)
    full = data.load_cifar10("train")
    train_set, val_set = data.train_val_split(full, val_per_class=500)
    test_set = data.load_cifar10("test")
    model = MODELS[args.model]()
    loader = data.make_loader(train_set, args.batch_size, train=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    sched = train.warmup_cosine(opt, len(loader) // 4, args.epochs * len(loader))
    start = time.perf_counter()
    hist = train.fit(model, loader, opt, epochs=args.epochs, scheduler=sched, max_minutes=args.minutes,
                     val_loader=data.make_loader(val_set, 500), loss_fn=torch.nn.CrossEntropyLoss(label_smoothing=0.1),
                     progress=False)
    seconds = time.perf_counter() - start
    _, test_acc = train.evaluate(model, data.make_loader(test_set, 500))
    row = {"model": name, "params": vit.count_parameters(model), "minutes_budget": args.minutes,
           "epochs_planned": args.epochs, "epochs_run": len(hist), "stopped_early": hist.stopped_early,
           "train_seconds": round(hist.total_seconds, 1), "wall_seconds": round(seconds, 1),
           "val_acc": round(100 * hist.val_acc[-1], 2), "test_acc": round(100 * test_acc, 2), "lr": args.lr,
           "val_curve": [round(100 * a, 2) for a in hist.val_acc],
           "train_loss_curve": [round(x, 4) for x in hist.train_loss],
           "torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
           **provenance(train_set.source)}
    rows = json.loads(args.out.read_text())["rows"] if args.out.exists() else []
    rows = [r for r in rows if r["model"] != name] + [row]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows}, indent=1))
    print(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
