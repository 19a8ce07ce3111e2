"""The benchmark scripts' recipes are well-formed: every rung and budget model builds and runs."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def load(name):
    if str(ROOT / "benchmarks") not in sys.path:  # as when a script runs: its folder (provenance.py) importable
        sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return load("vit_cifar10")


def test_every_rung_builds_and_runs(bench):
    recipe = bench.NOTES
    x = torch.randn(2, 3, 32, 32)
    for name, change, mode in bench.LADDER:
        assert mode in ("step", "try"), name
        recipe = bench.merged(recipe, change)
        model, params = bench.build(recipe)
        assert model(x).shape == (2, 10), name
        assert recipe["precision"] in ("fp32", "bf16") and recipe["augment"] in ("none", "crop_flip", "strong")
    for name, recipe in bench.BUDGET_MODELS.items():
        model, _ = bench.build(recipe)
        assert model(x).shape == (2, 10), name


def test_the_notes_rung_leaves_the_embedding_out(bench):
    model, params = bench.build(bench.NOTES)
    processor = model[0]
    ids = {id(p) for p in params}
    assert not any(id(p) in ids for p in processor.parameters())
    _, fixed = bench.build(bench.merged(bench.NOTES, {"train_embedding": True}))
    assert len(fixed) == len(list(model.parameters()))


def test_merged_keeps_nested_keys(bench):
    out = bench.merged(bench.NOTES, {"vit": {"patch_size": 4}, "lr": 2e-3})
    assert out["vit"]["patch_size"] == 4 and out["vit"]["embed_dim"] == 64 and out["lr"] == 2e-3
    assert bench.NOTES["vit"]["patch_size"] == 8  # the original is not changed


def test_results_file_rows_are_replaced_not_duplicated(bench, tmp_path):
    out = tmp_path / "r.json"
    bench.save_row(out, {"name": "a", "minutes": 1, "val_acc": 1}, "ladder")
    bench.save_row(out, {"name": "a", "minutes": 1, "val_acc": 2}, "ladder")
    bench.save_row(out, {"name": "a", "minutes": 2, "val_acc": 3}, "ladder")
    rows = bench.load_rows(out)
    assert [(r["minutes"], r["val_acc"]) for r in rows] == [(1, 2), (2, 3)]


def test_committed_results_hold_the_readme_claims(bench):
    """The figures the README quotes come from these files; they must be there and sane."""
    import json

    path = ROOT / "benchmarks" / "results" / "vit_cifar10.json"
    if not path.exists():
        pytest.skip("benchmarks/results/vit_cifar10.json not measured yet")
    rows = json.loads(path.read_text())["rows"]
    budget = {r["name"]: r for r in rows if r["section"] == "budget" and r["minutes"] == 10}
    assert budget["best-vit"]["test_acc"] > budget["notes"]["test_acc"]
    ladder = sorted((r for r in rows if r["section"] == "ladder"), key=lambda r: r["rung"])
    # the stored ladder is the script's ladder, replayed: same rungs and recipes, and what it kept
    # follows its rule ("step" always; "try" when validation is at least the last kept rung's)
    assert [(r["rung"], r["name"], r["mode"]) for r in ladder] == [(i, n, m) for i, (n, _, m) in enumerate(bench.LADDER)]
    recipe, best_val = bench.NOTES, -1.0
    for r, (name, change, mode) in zip(ladder, bench.LADDER):
        candidate = bench.merged(recipe, change)
        assert r["recipe"] == candidate, name
        assert r["kept"] == (mode == "step" or r["val_acc"] >= best_val), name
        if r["kept"]:
            recipe, best_val = candidate, r["val_acc"]


def test_every_benchmark_records_commit_data_and_command():
    """Each script writes, in every row, the commit it ran from, its data's source and its command line."""
    scripts = sorted(p for p in (ROOT / "benchmarks").glob("*.py") if p.name != "provenance.py")
    assert len(scripts) >= 6
    for path in scripts:
        text = path.read_text()
        assert "provenance(" in text or all(f'"{key}"' in text for key in ("commit", "data", "command")), path.name
    import shlex
    import subprocess

    provenance = load("provenance")

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    row = provenance.provenance("npz mirror x")
    assert row["commit"].split("+")[0] == (head or "unknown") and row["data"] == "npz mirror x"
    assert row["command"] == "python " + shlex.join(sys.argv)
