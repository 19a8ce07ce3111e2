"""Distillation on real CIFAR-10: the CNN teacher, then students under a wall-clock budget.

    python benchmarks/distill_cifar10.py teacher                       # the teacher's recipe, timed
    python benchmarks/distill_cifar10.py student --kind hard --minutes 10 --seed 0
    python benchmarks/distill_cifar10.py student --kind scratch --minutes 10 --seed 1
    python benchmarks/distill_cifar10.py ladder --kind hard --minutes 10 --seeds 0 1

``teacher`` runs ``python -m course_utils.recipes cnn-teacher`` in-process (into data/runs/) and
records its epochs, seconds and test accuracy. ``student`` trains notebook 04's 10-minute ViT
(conv stem, 192 wide, 6 blocks; AdamW 1e-3, a cosine that ends with the budget, crop + flip,
label smoothing, bfloat16) for ``--minutes`` on the same splits as benchmarks/vit_cifar10.py:
- scratch: that ViT as it is (the baseline, rerun under the same budget);
- hard / soft: the same ViT with a distillation token (DeiT), taught by the teacher
  (``--teacher``, default the run's data/runs/cnn_teacher.pt), which sees each augmented batch.
The teacher's forward pass is paid for inside the student's budget. Rows go to
results/distill_cifar10.json, keyed by kind, minutes, seed and variant.

``ladder`` starts from the ``--kind`` student and tries, one rung at a time, the small-dataset
ViT switches of course_utils.small_data (LADDER: sequence pooling, shifted patches, locality
self-attention), each for every seed. A rung is kept for the rungs after it only if its mean
validation accuracy beats the current recipe's by more than the spread
(the larger of the two seed ranges). Rows already in the results file are reused, so a ladder
that was stopped picks up where it was.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn

from course_utils import cnn, config, data, distill, recipes, train, vit
from provenance import provenance  # benchmarks/provenance.py: commit, data, command line
from vit_cifar10 import BEST  # notebook 04's 10-minute ViT recipe

OUT = Path(__file__).parent / "results" / "distill_cifar10.json"


def splits():
    full = data.load_cifar10("train")
    train_set, val_set = data.train_val_split(full, val_per_class=500)
    return train_set, val_set, data.load_cifar10("test")


# (rung name, the switch it turns on), tried in this order on top of what was kept
LADDER = [("sequence pooling (CCT)", {"pool": "seq"}), ("shifted patches (SPT)", {"spt": True}),
          ("locality self-attention (LSA)", {"lsa": True})]


def variant_name(switches: dict) -> str:
    """A short key for a set of switches: "" for none, e.g. "pool=seq+spt"."""
    return "+".join(k if v is True else f"{k}={v}" for k, v in sorted(switches.items()))


def student(kind: str, minutes: float, seed: int, teacher_path: Path, tau: float, alpha: float,
            save: Path | None = None, switches: dict | None = None) -> dict:
    """Train one student for ``minutes``; its result row. ``save``: write its weights there (bfloat16).

    ``switches``: ViT arguments on top of the recipe (``pool``, ``spt``, ``lsa``).
    """
    switches = dict(switches or {})
    train_set, val_set, test_set = splits()
    config.seed_everything(seed)
    vit_args = {**BEST["vit"], **switches}
    if kind == "scratch":
        model = vit.ViT(32, **vit_args)
        loss_fn = nn.CrossEntropyLoss(label_smoothing=BEST["label_smoothing"])
        net, teacher_meta = model, None
    else:
        model = distill.DistilledViT(image_size=32, **vit_args)
        teacher, teacher_meta = cnn.load_teacher(teacher_path)
        teacher = teacher.to(memory_format=torch.channels_last)
        net = distill.Distiller(model, teacher)
        loss_fn = distill.DistillationLoss(kind, tau=tau, alpha=alpha, label_smoothing=BEST["label_smoothing"])
    loader = data.make_loader(train_set, BEST["batch_size"], train=True, augment=BEST["augment"], seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=BEST["lr"], weight_decay=BEST["weight_decay"])
    sched = train.TimeBudgetCosine(opt, minutes)
    hist = train.fit(net, loader, opt, epochs=10_000, scheduler=sched, max_minutes=minutes,
                     val_loader=data.make_loader(val_set, 500), loss_fn=loss_fn, precision=BEST["precision"],
                     progress=False)
    test_loader = data.make_loader(test_set, 500)
    _, test_acc = train.evaluate(model, test_loader)
    if save is not None:  # score the weights the file holds, as the teacher's file does
        model.load_state_dict(cnn.stored_state(model))
        _, stored_acc = train.evaluate(model, test_loader)
    row = {"kind": kind, "minutes": minutes, "seed": seed, "variant": variant_name(switches),
           "params": vit.count_parameters(model),
           "epochs": round(hist.epochs_run, 2), "train_seconds": round(hist.total_seconds, 1),
           "val_acc": round(100 * hist.val_acc[-1], 2), "test_acc": round(100 * test_acc, 2),
           "val_curve": [round(100 * a, 2) for a in hist.val_acc], **provenance(train_set.source)}
    if kind != "scratch":
        stats = distill.head_agreement(model, teacher, test_loader)
        row.update(tau=tau, alpha=alpha, teacher_test_acc=round(100 * teacher_meta["test_acc"], 2),
                   **{f"agree_{k}" if not k.startswith("acc") else k: round(100 * v, 2) for k, v in stats.items()
                      if isinstance(v, float)})
    if save is not None:
        row["saved"], row["saved_test_acc"] = str(save), round(100 * stored_acc, 2)
        distill.save_student(model, save, {k: v for k, v in row.items() if k != "val_curve"}
                             | {"val_curve": row["val_curve"], "test_acc": stored_acc})
    return row


def teacher(epochs: int, out: Path) -> dict:
    """Train the teacher's recipe; its result row."""
    started = time.perf_counter()
    meta = recipes.cnn_teacher(out, epochs, None, progress=True)
    return {"kind": "teacher", "epochs": epochs, "params": meta["params"], "train_seconds": round(meta["train_hours"] * 3600, 1),
            "wall_seconds": round(time.perf_counter() - started, 1), "test_acc": round(100 * meta["test_acc"], 2),
            "test_acc_no_tta": round(100 * meta["test_acc_no_tta"], 2), "val_acc": round(100 * meta["val_acc"], 2),
            "val_curve": [round(100 * a, 2) for a in meta["history"]["val_acc"]], "recipe": meta["recipe"],
            "seed": meta["recipe"]["seed"], "minutes": None, **provenance(meta["data"])}


def row_key(row: dict) -> tuple:
    return row["kind"], row["minutes"], row["seed"], row.get("variant", "")


def load_rows(path: Path) -> list[dict]:
    return json.loads(path.read_text())["rows"] if path.exists() else []


def save_row(path: Path, row: dict) -> None:
    """Merge ``row`` into the results file (replacing one with the same kind, minutes, seed and variant)."""
    rows = [r for r in load_rows(path) if row_key(r) != row_key(row)] + [row]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    tmp.replace(path)


def ladder(args) -> list[dict]:
    """Run (or reuse) every rung for every seed; print and return the rungs with their verdicts."""
    def rows_for(switches: dict) -> list[dict]:
        found = {row_key(r): r for r in load_rows(args.out)}
        out = []
        for seed in args.seeds:
            key = (args.kind, args.minutes, seed, variant_name(switches))
            if key not in found:
                print(f"training {args.kind} {variant_name(switches) or 'base'} seed {seed}", flush=True)
                found[key] = student(args.kind, args.minutes, seed, args.teacher, args.tau, args.alpha,
                                     switches=switches)
                save_row(args.out, found[key])
            out.append(found[key])
        return out

    def summary(rows):
        vals = [r["val_acc"] for r in rows]
        return sum(vals) / len(vals), max(vals) - min(vals)

    kept: dict = {}
    base = rows_for(kept)
    verdicts = [{"rung": "base: " + args.kind, "variant": "", "rows": base, "kept": True}]
    for name, change in LADDER:
        trial = rows_for({**kept, **change})
        (m_new, r_new), (m_old, r_old) = summary(trial), summary(base)
        keep = m_new - m_old > max(r_new, r_old)
        verdicts.append({"rung": name, "variant": variant_name({**kept, **change}), "rows": trial, "kept": keep,
                         "gain": round(m_new - m_old, 2), "spread": round(max(r_new, r_old), 2)})
        if keep:
            kept, base = {**kept, **change}, trial
    for v in verdicts:
        vals = ", ".join(f"{r['val_acc']:.2f}" for r in v["rows"])
        tests = ", ".join(f"{r['test_acc']:.2f}" for r in v["rows"])
        extra = f"gain {v['gain']:+.2f} vs spread {v['spread']:.2f}" if "gain" in v else ""
        print(f"{v['rung']:32s} val {vals:14s} test {tests:14s} {extra:28s} {'kept' if v['kept'] else 'dropped'}")
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("teacher", "student", "ladder"))
    parser.add_argument("--kind", choices=("scratch", "hard", "soft"), default="hard")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="for `ladder`")
    parser.add_argument("--pool", choices=vit.POOLS, default=None, help="student: a switch on top of the recipe")
    parser.add_argument("--spt", action="store_true", help="student: shifted patch tokenization")
    parser.add_argument("--lsa", action="store_true", help="student: locality self-attention")
    parser.add_argument("--epochs", type=int, default=recipes.TEACHER_EPOCHS, help="for `teacher`")
    parser.add_argument("--teacher", type=Path, default=recipes.DEFAULT_TEACHER_OUT)
    parser.add_argument("--tau", type=float, default=3.0)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--save", type=Path, default=None,
                        help="write the student's weights here (bfloat16, with a .sha256), e.g. data/runs/students/hard_s0.pt")
    args = parser.parse_args()
    if args.minutes <= 0:
        parser.error(f"--minutes {args.minutes} must be positive")
    if args.what == "ladder":
        if len(args.seeds) < 2:
            parser.error(f"--seeds {args.seeds}: a ladder needs at least two seeds to measure its spread")
        ladder(args)
        return
    if args.what == "teacher":
        row = teacher(args.epochs, args.teacher)
    else:
        switches = {k: v for k, v in (("pool", args.pool), ("spt", args.spt), ("lsa", args.lsa)) if v}
        row = student(args.kind, args.minutes, args.seed, args.teacher, args.tau, args.alpha, args.save, switches)
    save_row(args.out, row)
    print(json.dumps({k: v for k, v in row.items() if k not in ("recipe", "val_curve")}))


if __name__ == "__main__":
    main()
