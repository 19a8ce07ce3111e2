"""Hygiene of every committed notebook (nbval separately re-runs them in smoke mode)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from tools import nbbuild

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_MB = 5.0


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


def test_matches_its_source(notebook):
    path, nb = notebook
    src = ROOT / "notebooks" / "src" / (path.stem + ".py")
    assert src.is_file(), f"{path.name} has no source {src.relative_to(ROOT)}"
    expected = nbbuild.parse(src.read_text(), path.name)
    assert nbbuild._signature(nb.cells) == nbbuild._signature(expected), f"{path.name} differs from its source: run `make execute` (or nbbuild build + execute)"


def test_colab_badge_and_setup_cell(notebook):
    path, nb = notebook
    url = nbbuild.repo_url()
    badge = f"colab.research.google.com/github/{url.removeprefix('https://github.com/')}/blob/main/notebooks/{path.name}"
    assert badge in nb.cells[0].source, f"{path.name}: the first cell must carry the Colab badge to {badge}"
    setup = code_cells(nb)[0].source
    assert '"google.colab" in sys.modules' in setup and f"git+{url}" in setup, f"{path.name}: setup cell"
    assert "config.seed_everything" in setup and "config.summary" in setup


def test_executed_in_order_without_errors(notebook):
    path, nb = notebook
    cells = code_cells(nb)
    counts = [c.execution_count for c in cells]
    assert None not in counts, f"{path.name}: {counts.count(None)} code cell(s) never executed"
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: execution counts {counts} are not 1..n"
    for cell in cells:
        for out in cell.outputs:
            assert out.output_type != "error", f"{path.name}: stored error in cell {cell.execution_count}"
            text = out.get("text", "")
            assert "Traceback" not in text, f"{path.name}: traceback in cell {cell.execution_count}"
            assert "SYNTHETIC" not in text, f"{path.name}: committed outputs must come from real data"


def test_nbval_markers_have_reasons(notebook):
    path, nb = notebook
    for cell in code_cells(nb):
        for marker in re.findall(r"#\s*NBVAL_(IGNORE_OUTPUT|SKIP)(.*)", cell.source):
            assert re.match(r"\s*:\s*\S", marker[1]), f"{path.name}: NBVAL_{marker[0]} without a reason"


def test_size_under_cap(notebook):
    path, _ = notebook
    assert path.stat().st_size / 1e6 < MAX_MB, f"{path.name} is over {MAX_MB} MB"


def test_every_source_is_built():
    built = {p.stem for p in NOTEBOOKS}
    sources = {p.stem for p in (ROOT / "notebooks" / "src").glob("*.py")}
    assert sources == built, f"sources without notebooks: {sources - built}; notebooks without sources: {built - sources}"


def test_no_progress_bar_stuck_at_zero(notebook):
    path, nb = notebook
    for cell in code_cells(nb):
        for out in cell.outputs:
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            assert " 0%|" not in text and "| 0/" not in text, \
                f"{path.name}, cell {cell.execution_count}: a progress bar saved at 0 % ({text[:60]!r})"
