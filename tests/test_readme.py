"""The README's "Measured results" are the rows of benchmarks/results/*.json, number for number.

Rounding, once for every number: a figure printed in the README is the stored value rounded to
the digits it shows, i.e. it is within half a unit of its last printed digit of the stored
value (after the unit change its column names: ms from seconds, MB = 10^6 bytes, accuracies in
% as stored). So "0.18 ms" stands for 0.175-0.185 ms and "74.4 %" for 74.35-74.45 %; a count
such as a parameter number must be exact.

Every table in the section must be one this test knows how to check, every row must find its
json row, and a README number without one fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def results(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def measured_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Measured results")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def tables(section: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every markdown table in ``section``: (header cells, rows of cells), the separator line dropped."""
    found, block = [], []
    for line in section.splitlines() + [""]:
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif block:
            found.append((block[0], [r for r in block[2:]]))
            block = []
    return found


def numbers(cell: str) -> list[str]:
    """The numbers printed in a cell, as written ("1,024" → "1024"; "72.3 / 73.8 %" → two)."""
    return [n.replace(",", "") for n in re.findall(r"\d[\d,]*(?:\.\d+)?", cell.replace("**", ""))]


def close(shown: str, value: float) -> bool:
    """``shown`` is ``value`` rounded to the digits ``shown`` prints (half a unit of its last digit)."""
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    return abs(float(shown) - value) <= 0.5 * 10 ** -decimals + 1e-9


def check(cell: str, *values: float, where: str) -> None:
    shown = numbers(cell)
    assert len(shown) == len(values), f"{where}: README cell {cell!r} holds {shown}, the results hold {values}"
    for s, v in zip(shown, values):
        assert close(s, v), f"{where}: README says {s}, the results file says {v} (cell {cell!r})"


def by(rows: list[dict], key: str) -> dict:
    out = {}
    for row in rows:
        assert row[key] not in out, f"two rows with {key} = {row[key]!r}"
        out[row[key]] = row
    return out


# ----------------------------------------------------------------------------- one checker per table

def check_attention_cost(rows):
    stored = by(results("attention_cost.json")["rows"], "length")
    for tokens, naive, fused, naive_mb, fused_mb in rows:
        (length,) = numbers(tokens)
        assert int(length) in stored, f"attention cost: no row for {length} tokens in attention_cost.json"
        r, where = stored[int(length)], f"attention cost, {length} tokens"
        check(naive, 1e3 * r["naive_s"], where=where)
        check(fused, 1e3 * r["fused_s"], where=where)
        check(naive_mb, r["naive_bytes"] / 1e6, where=where)
        check(fused_mb, r["fused_bytes"] / 1e6, where=where)


def check_swin_cost(rows):
    stored = by(results("swin_cost.json")["rows"], "side")
    for side_cell, glob, window, glob_mb, window_mb, ratio in rows:
        side, other = (int(n) for n in numbers(side_cell))
        assert side == other and side in stored, f"swin cost: no row for a {side}×{other} map in swin_cost.json"
        r, where = stored[side], f"swin cost, {side}×{side}"
        check(glob, 1e3 * r["global_s"], where=where)
        check(window, 1e3 * r["window_s"], where=where)
        check(glob_mb, r["global_bytes"] / 1e6, where=where)
        check(window_mb, r["window_bytes"] / 1e6, where=where)
        check(ratio, r["global_macs"] / r["window_macs"], where=where)


def check_ladder(rows):
    stored = by([r for r in results("vit_cifar10.json")["rows"] if r["section"] == "ladder"], "rung")
    assert len(rows) == len(stored), f"the README shows {len(rows)} rungs, vit_cifar10.json holds {len(stored)}"
    for rung_cell, epochs, val, test, kept in rows:
        rung = int(rung_cell.split(".")[0])
        assert rung in stored, f"ladder: no rung {rung} in vit_cifar10.json"
        r, where = stored[rung], f"ladder rung {rung}"
        assert r["minutes"] == 3.0, where
        check(epochs, r["epochs"], where=where)
        check(val, r["val_acc"], where=where)
        check(test, r["test_acc"], where=where)
        want = "step" if r["mode"] == "step" else ("yes" if r["kept"] else "no")
        assert kept == want, f"{where}: README says kept {kept!r}, the results say {want!r}"


# README label (first cell, up to its first comma or parenthesis) → the cifar10_budget.json rows it shows
BUDGET_ROWS = {
    "ViT, conv stem, patch 4, dim 128, 4 blocks, lr 2e-3": ["vit-convstem-p4-d128-l4"],
    "ViT, conv stem, patch 8, dim 192, 6 blocks, lr 5e-4 / 1e-3": ["vit-convstem-p8-d192-l6 (lr5e-4)",
                                                                    "vit-convstem-p8-d192-l6 (lr1e-3)"],
}


def check_ten_minutes(rows):
    vit_rows = by([r for r in results("vit_cifar10.json")["rows"] if r["section"] == "budget"
                   and r["minutes"] == 10], "name")
    budget_rows = by(results("cifar10_budget.json")["rows"], "model")
    for label, params, epochs, test in rows:
        code = re.search(r"\(`([\w-]+)`\)", label)
        if code:  # benchmarks/vit_cifar10.py budget: the row's name is in the label
            assert code.group(1) in vit_rows, f"10 minutes: no budget row {code.group(1)!r} in vit_cifar10.json"
            r, where = vit_rows[code.group(1)], f"10 minutes, {code.group(1)}"
            check(params, r["params"], where=where)
            check(epochs, r["epochs"], where=where)
            check(test, r["test_acc"], where=where)
            continue
        key = label.split(" (")[0]
        assert key in BUDGET_ROWS, f"10 minutes: README row {label!r} has no results row (tests/test_readme.py)"
        stored = [budget_rows[name] for name in BUDGET_ROWS[key]]
        where = f"10 minutes, {key}"
        for r in stored:
            assert r["minutes_budget"] == 10.0, where
            check(params, r["params"], where=where)
            check(epochs, r["epochs_run"], where=where)
        check(test, *(r["test_acc"] for r in stored), where=where)


# README label → hybrid_mnist.json's model name
MNIST_ROWS = {
    "MLP 784-256-256-10": "MLP (784-256-256-10)",
    "small CNN (the hybrid's stem, pooled)": "small CNN (the hybrid's stem + pooling)",
    "the notes' model (attention over 1 token)": "notes' model (attention over 1 token)",
    "the same with attention → Linear (control)": "notes' model, attention → Linear (control)",
    "conv-attention net, the notes' layer": "conv-attention, notes' layer",
    "conv-attention net, fixed layer": "conv-attention, fixed layer",
    "hybrid ViT (conv stem + 2 blocks)": "hybrid ViT (conv stem + 2 blocks)",
    "tiny ViT (patch 7, 4 blocks)": "tiny ViT (patch 7, 4 blocks)",
}


def check_mnist(rows):
    data = results("hybrid_mnist.json")
    stored = by(data["rows"], "model")
    assert data["meta"]["epochs"] == 5  # "5 epochs each"
    for label, params, acc, seconds in rows:
        label = label.replace("**", "")
        assert label in MNIST_ROWS, f"MNIST: README row {label!r} has no results row (tests/test_readme.py)"
        r, where = stored[MNIST_ROWS[label]], f"MNIST, {label}"
        assert r["epochs"] == 5, where
        check(params, r["params"], where=where)
        check(acc, r["test_acc"], where=where)
        check(seconds, r["train_seconds"], where=where)


def check_teacher(rows):
    stored = [r for r in results("distill_cifar10.json")["rows"] if r["kind"] == "teacher"]
    assert len(stored) == 1, "distill_cifar10.json must hold one teacher row"
    (row,) = stored
    for _, params, epochs, minutes, tta, plain in rows:
        check(params, row["params"], where="teacher")
        check(epochs, row["epochs"], where="teacher")
        check(minutes, row["train_seconds"] / 60, where="teacher")
        check(tta, row["test_acc"], where="teacher")
        check(plain, row["test_acc_no_tta"], where="teacher")


def check_students(rows):
    stored = [r for r in results("distill_cifar10.json")["rows"]
              if r["kind"] != "teacher" and r["minutes"] == 10 and not r.get("variant")]
    seen = []
    for label, params, epochs, val, test in rows:
        kind = label.replace("*", "").split()[0].rstrip(":")
        by_seed = sorted((r for r in stored if r["kind"] == kind), key=lambda r: r["seed"])
        assert [r["seed"] for r in by_seed] == [0, 1], f"students: seeds of {kind!r}"
        check(params, by_seed[0]["params"], where=f"student {kind}")
        check(epochs, *(r["epochs"] for r in by_seed), where=f"student {kind}")
        check(val, *(r["val_acc"] for r in by_seed), where=f"student {kind}")
        check(test, *(r["test_acc"] for r in by_seed), where=f"student {kind}")
        seen.append(kind)
    assert sorted(seen) == ["hard", "scratch", "soft"], f"students: the table shows {seen}"


def check_keras_cost(rows):
    stored = {r["tokens"]: r for r in results("keras_notes_cifar10.json")["rows"]
              if r["section"] == "cost" and r["blocks"] == 1 and "model" not in r["name"]}
    for _, tokens, entries, fused, written, memory in rows:
        row = stored[int(numbers(tokens)[0])]
        check(entries, row["attention_entries_per_image"], where="Keras notes' cost")
        check(fused, row["fused_ms_per_image"], where="Keras notes' cost")
        check(written, row["written_ms_per_image"], where="Keras notes' cost")
        check(memory, row["written_mb_per_image"], where="Keras notes' cost")


def check_keras_budget(rows):
    stored = [r for r in results("keras_notes_cifar10.json")["rows"]
              if r["section"] == "budget" and r["minutes"] == 10 and r.get("per_class") is None]
    for label, params, epochs, accs in rows:
        name = "notes" if "the notes' recipe" in label else "course"
        by_seed = sorted((r for r in stored if r["name"] == name), key=lambda r: r["seed"])
        assert [r["seed"] for r in by_seed] == [0, 1], f"Keras notes' budget: seeds of {name!r}"
        check(params, by_seed[0]["params"], where="Keras notes' budget")
        check(epochs, *(r["epochs"] for r in by_seed), where="Keras notes' budget")
        check(accs, *(r["test_acc"] for r in by_seed), where="Keras notes' budget")


def check_processes(rows):
    stored = results("distributed_cifar10.json")
    by_count = {r["processes"]: r for r in stored["rows"]}
    for processes, seconds, losses, acc in rows:
        row = by_count[int(numbers(processes)[0])]
        check(seconds, row["seconds_per_epoch"], where="processes")
        check(losses, *row["train_loss_curve"], where="processes")
        check(acc, row["test_acc"], where="processes")
    meta, section = stored["meta"], measured_section()
    assert f"agree to {meta['largest_relative_loss_gap']:.0e}" in section.replace("\n", " ")
    assert f"weights to {meta['relative_weight_distance']:.2e}" in section


CHECKERS = {
    "attention over": check_keras_cost,
    "the Keras notes' model (fixed), 10 minutes": check_keras_budget,
    "processes": check_processes,
    "teacher": check_teacher,
    "student, 10 minutes": check_students,
    "tokens": check_attention_cost,
    "token map": check_swin_cost,
    "rung": check_ladder,
    "model|parameters|epochs in 10 min": check_ten_minutes,
    "model|parameters|test accuracy": check_mnist,
}


def test_every_measured_number_is_its_results_row():
    found = tables(measured_section())
    seen = []
    for header, rows in found:
        key = header[0] if header[0] in CHECKERS else "|".join(header[:3])
        assert key in CHECKERS, f"a Measured results table this test does not check: {header}"
        assert rows, f"the table {header} is empty"
        CHECKERS[key](rows)
        seen.append(key)
    assert sorted(seen) == sorted(CHECKERS), f"expected one table per checker {sorted(CHECKERS)}, found {seen}"


def test_the_timm_comparison_in_the_prose():
    section = measured_section()
    stored = results("vit_vs_timm.json")
    match = re.search(r"takes ([\d.]+)× timm's `VisionTransformer` with the same\s+configuration \((\d+) vs (\d+) ms, "
                      r"batch (\d+)", section)
    assert match, "the README's sentence on vit_vs_timm.json changed: update this test"
    ratio, ours, theirs, batch = match.groups()
    rows = by(stored["rows"], "model")
    check(ratio, stored["ratio_course_over_timm"], where="vit vs timm")
    check(ours, rows["course_utils.vit.ViT"]["median_step_ms"], where="vit vs timm")
    check(theirs, rows["timm VisionTransformer"]["median_step_ms"], where="vit vs timm")
    assert int(batch) == stored["batch_size"]


def test_the_committed_teacher_in_the_prose():
    """The teacher file's own record, measured on the bfloat16 weights it stores."""
    from course_utils import cnn

    _, meta = cnn.load_teacher()
    text = (ROOT / "README.md").read_text()
    assert f"{100 * meta['test_acc']:.2f} % with TTA" in text
    size = (ROOT / "data" / "checkpoints" / "cnn_teacher.pt").stat().st_size
    assert f"({size / 1e6:.2f} MB)" in text and size < 5e6  # the budget for the teacher file


def test_the_pretrained_model_in_the_prose():
    """The checkpoint's own record: accuracy, epochs, hours, parameters (the file ships with the course)."""
    from course_utils import vit

    if not vit.DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no checkpoint in data/checkpoints")
    section = " ".join(measured_section().split())
    match = re.search(r"([\d,]+) parameters\): \*\*([\d.]+) %\*\* test accuracy after (\d+) epochs, ([\d.]+) hours",
                      section)
    assert match, "the README's sentence on the pretrained ViT changed: update this test"
    params, acc, epochs, hours = match.groups()
    model, meta = vit.load_pretrained()
    check(params, vit.count_parameters(model), where="pretrained ViT")
    check(acc, 100 * meta["test_acc"], where="pretrained ViT")
    assert int(epochs) == meta["epochs_done"]
    check(hours, meta["train_hours"], where="pretrained ViT")


def test_the_rounding_rule_rejects_a_wrong_digit():
    assert close("0.18", 0.17968) and close("74.4", 74.42) and close("23.5", 23.45) and close("1806346", 1806346)
    assert not close("0.19", 0.17968) and not close("74.5", 74.42) and not close("1806347", 1806346)
    assert numbers("**72.3 / 73.8 %**") == ["72.3", "73.8"] and numbers("1,024") == ["1024"]
