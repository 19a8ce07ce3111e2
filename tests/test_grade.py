"""python -m course_utils.grade: a solved copy passes everything, an unsolved one fails everything,
nothing crashes, and only a notebook that cannot be run makes the exit status non-zero."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from course_utils import grade
from tools import student

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "notebooks" / "src" / "03_positional_encodings.py"  # small: no data, a few seconds in smoke mode


def test_a_solved_copy_passes_and_an_unsolved_one_fails(tmp_path, capsys):
    paths = {}
    for name, solved in (("solved", True), ("unsolved", False)):
        (tmp_path / name).mkdir()
        paths[name] = tmp_path / name / SRC.with_suffix(".ipynb").name
        paths[name].write_text(student.render(student.build(SRC, solved=solved)))
    report = tmp_path / "grades.json"
    code = grade.main([str(paths["solved"]), str(paths["unsolved"]), "--json", str(report), "--timeout", "300"])
    assert code == 0
    rows = json.loads(report.read_text())["rows"]
    n = len(student.exercises(student.build(SRC)))
    solved = [r for r in rows if r["notebook"] == str(paths["solved"])]
    unsolved = [r for r in rows if r["notebook"] == str(paths["unsolved"])]
    assert len(solved) == len(unsolved) == n >= 3
    assert all(r["ok"] for r in solved), solved
    assert not any(r["ok"] for r in unsolved) and all("not done yet" in r["note"] for r in unsolved), unsolved
    assert {r["kind"] for r in solved} == {"implement", "predict", "experiment"}
    table = capsys.readouterr().out
    assert f"total: {n} of {2 * n} exercises pass" in table and "similarity prediction" in table


def test_broken_cells_are_graded_and_unrunnable_notebooks_make_the_status_nonzero(tmp_path, capsys):
    broken = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from course_utils import checks"),
        nbformat.v4.new_code_cell("def my_mask(n):\n    return undefined_name"),
        nbformat.v4.new_code_cell("1 / 0"),
        nbformat.v4.new_code_cell("checks.check_causal_mask(my_mask)"),
        nbformat.v4.new_code_cell("checks.check_padding_mask(not_defined_here)"),
    ])
    slow = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import time\ntime.sleep(120)"),
        nbformat.v4.new_code_cell("from course_utils import checks\nchecks.check_causal_mask(None)"),
    ])
    for nb, name in ((broken, "broken.ipynb"), (slow, "slow.ipynb")):
        nbformat.write(nb, tmp_path / name)
    (tmp_path / "junk.ipynb").write_text("not a notebook")
    report = tmp_path / "grades.json"
    args = [str(tmp_path / n) for n in ("broken.ipynb", "slow.ipynb", "junk.ipynb", "missing.ipynb")]
    assert grade.main(args + ["--timeout", "8", "--json", str(report)]) == 1
    result = json.loads(report.read_text())
    rows = {(Path(r["notebook"]).name, r["exercise"]): r for r in result["rows"]}
    assert "NameError: name 'undefined_name'" in rows["broken.ipynb", "causal mask"]["note"]
    assert "did not run: NameError" in rows["broken.ipynb", "padding mask"]["note"]
    assert "time limit of 8 s" in rows["slow.ipynb", "causal mask"]["note"]
    assert set(Path(p).name for p in result["not_run"]) == {"slow.ipynb", "junk.ipynb", "missing.ipynb"}
    table = capsys.readouterr().out
    assert "ERROR" in table and "no such file" in table and "3 could not be run" in table
