"""One process against two: the course ViT's recipe on real CIFAR-10, same global batch.

    python benchmarks/distributed_cifar10.py              # writes results/distributed_cifar10.json
    python benchmarks/distributed_cifar10.py --per-class 500 --epochs 2

Runs ``python -m course_utils.recipes vit-cifar10`` twice on a stratified subset, once as one
process (all CPU threads) and once under ``torchrun --nproc-per-node 2`` (one thread each, the
launcher's default), in float32 so that the two differ only in the order of floating-point sums.
Records the loss curves, their largest relative gap, the relative distance between the final
weights, the test accuracies and the seconds per epoch. On 2 CPU cores two processes cannot be
faster than one; the point is that the same code, unchanged, gives the same training.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).parent / "results" / "distributed_cifar10.json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(processes: int, args, folder: Path) -> tuple[dict, float, str]:
    out = folder / f"p{processes}.pt"
    recipe = ["-m", "course_utils.recipes", "vit-cifar10", "--per-class", str(args.per_class), "--epochs",
              str(args.epochs), "--precision", "fp32", "--out", str(out)]
    if processes == 1:
        command = [sys.executable, *recipe]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(processes),
                   "--master-addr", "127.0.0.1", "--master-port", str(_free_port()), *recipe]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    seconds = time.perf_counter() - start
    state = torch.load(out, weights_only=True)
    return state, seconds, " ".join(["python" if c == sys.executable else c for c in command])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=500, help="training images per class (default 500)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one, s1, c1 = run(1, args, Path(tmp))
        two, s2, c2 = run(2, args, Path(tmp))
    h1, h2 = one["meta"]["history"], two["meta"]["history"]
    gap = max(abs(a - b) / abs(a) for a, b in zip(h1["train_loss"] + h1["val_loss"], h2["train_loss"] + h2["val_loss"]))
    p = torch.cat([t.flatten() for t in one["model"].values()])
    q = torch.cat([t.flatten() for t in two["model"].values()])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    rows = []
    for processes, state, seconds, command in ((1, one, s1, c1), (2, two, s2, c2)):
        hist = state["meta"]["history"]
        rows.append({"processes": processes, "train_loss_curve": [round(x, 5) for x in hist["train_loss"]],
                     "val_loss_curve": [round(x, 5) for x in hist["val_loss"]],
                     "seconds_per_epoch": round(sum(hist["seconds"]) / len(hist["seconds"]), 1),
                     "wall_seconds": round(seconds, 1), "test_acc": round(100 * state["meta"]["test_acc"], 2),
                     "command": command})
    result = {"meta": {"per_class": args.per_class, "epochs": args.epochs, "precision": "fp32",
                       "largest_relative_loss_gap": float(f"{gap:.2e}"),
                       "relative_weight_distance": float(f"{((p - q).norm() / p.norm()).item():.2e}"),
                       "data": one["meta"]["data"], "commit": commit, "torch": torch.__version__,
                       "machine": platform.machine(), "cpu_count": os.cpu_count()},
              "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for row in rows:
        print(f"{row['processes']} process(es): {row['seconds_per_epoch']} s/epoch, test {row['test_acc']} %, "
              f"losses {row['train_loss_curve']}")
    print(f"largest relative loss gap {result['meta']['largest_relative_loss_gap']}, relative weight distance "
          f"{result['meta']['relative_weight_distance']}; wrote {args.out}")


if __name__ == "__main__":
    main()
