"""Student versions: every exercise has a checker, which fails on the stub and passes on the solution.

Exercises are read from the sources (notebooks/src), as `make student` builds them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from tools import student

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOURCES = sorted((ROOT / "notebooks" / "src").glob("*.py"))
PRELUDE = ("import math\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n"
           "from course_utils import attention, checks, hybrid, patches, positional, swin, vit\n")


def lecture(src: Path) -> nbformat.NotebookNode:
    """The lecture notebook a source builds (solutions in), without executing it."""
    cells = student._source_cells(src, src.stem + ".ipynb")
    for i, cell in enumerate(cells):
        cell["id"] = f"c{i:03d}"
    return nbformat.v4.new_notebook(cells=cells)


def run_checker(solution: str, checker: str):
    """Execute a solution (or stub) and its checker cell; return the checker's verdict."""
    namespace: dict = {}
    exec(PRELUDE + solution, namespace)  # noqa: S102 - our own notebooks' cells
    body = ast.parse(checker).body
    *setup, last = body
    exec(compile(ast.Module(setup, type_ignores=[]), "<checker>", "exec"), namespace)  # noqa: S102
    return eval(compile(ast.Expression(last.value), "<checker>", "eval"), namespace)  # noqa: S307


def all_exercises():
    for src in SOURCES:
        for i, (solution, checker) in enumerate(student.exercises(lecture(src))):
            yield pytest.param(solution, checker, id=f"{src.stem}-ex{i + 1}")


@pytest.mark.parametrize("solution, checker", list(all_exercises()))
def test_checker_passes_solution_and_fails_stub(solution, checker):
    assert "checks.check_" in checker, "the cell after a solution must call a checker from course_utils.checks"
    verdict = run_checker(solution, checker)
    assert bool(verdict) and repr(verdict).startswith("PASS"), repr(verdict)
    stub = student.stub_source(solution)
    verdict = run_checker(stub, checker)
    assert not bool(verdict) and "not done yet" in repr(verdict), repr(verdict)


def test_notebooks_with_exercises_have_them_all_checked():
    counted = {p.stem: len(student.exercises(lecture(p))) for p in SOURCES}
    for name, n in counted.items():
        if name != "00_setup_check":
            assert n >= 3, f"{name} has {n} exercise(s)"


def test_student_build_strips_solutions_and_outputs(tmp_path):
    assert student.main([str(tmp_path)]) == 0
    for src in SOURCES:
        original = [c for c in lecture(src).cells if "solution-note" not in c.metadata.get("tags", [])]
        built = nbformat.read(tmp_path / (src.stem + ".ipynb"), as_version=4)
        assert len(built.cells) == len(original)
        for before, after in zip(original, built.cells):
            if after.cell_type != "code":
                continue
            assert after.outputs == [] and after.execution_count is None
            if "solution" in before.metadata.get("tags", []):
                assert after.source != before.source and "solution" not in after.metadata["tags"]
                assert "NotImplementedError" in after.source or "# your answer" in after.source


def test_stub_keeps_signatures_and_docstrings():
    src = 'def f(x, y=2):\n    """Add."""\n    z = x + y\n    return z\n\nanswer = 42\n'
    stub = student.stub_source(src)
    assert stub.startswith('def f(x, y=2):\n    """Add."""\n    raise NotImplementedError(')
    assert "answer = ...  # your answer" in stub and "x + y" not in stub and "42" not in stub
    with pytest.raises(ValueError, match="only functions and assignments"):
        student.stub_source("print('the answer')")
