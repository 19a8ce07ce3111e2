"""The committed student copies (notebooks/student/): up to date, clean, leak-free, never clobbered;
and the exercises they hold: enough of them, of the kinds that make students think, none printed above.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from course_utils import checks
from tools import nbbuild, student

ROOT = Path(__file__).resolve().parents[1]
STUDENT = ROOT / "notebooks" / "student"
SOURCES = sorted((ROOT / "notebooks" / "src").glob("*.py"))
WITH_EXERCISES = [s for s in SOURCES if not s.stem.startswith("00")]
CALL = re.compile(r"\bchecks\.(check_\w+)\s*\(")


def lecture_cells(src: Path) -> list:
    return nbbuild.parse(src.read_text(encoding="utf-8"), src.stem + ".ipynb")


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def copy_of(src: Path) -> nbformat.NotebookNode:
    return nbformat.read(STUDENT / (src.stem + ".ipynb"), as_version=4)


def test_committed_student_copies_are_up_to_date():
    stale = student.out_of_date(STUDENT)
    assert not stale, f"notebooks/student/ is out of date for {stale}: run `make student` and commit the result"
    assert sorted(p.name for p in STUDENT.glob("*.ipynb")) == sorted(s.stem + ".ipynb" for s in SOURCES)
    manifest = json.loads((STUDENT / student.MANIFEST).read_text())
    for path in STUDENT.glob("*.ipynb"):
        assert manifest[path.name] == student._sha256(path.read_text(encoding="utf-8")), f"{path.name}: stale manifest"


@pytest.mark.parametrize("src", SOURCES, ids=lambda s: s.stem)
def test_each_copy_opens_itself_in_colab(src):
    badge = copy_of(src).cells[0].source
    path = nbbuild.repo_url().removeprefix("https://github.com/")
    assert f"colab.research.google.com/github/{path}/blob/main/notebooks/student/{src.stem}.ipynb)" in badge, badge


@pytest.mark.parametrize("src", SOURCES, ids=lambda s: s.stem)
def test_copies_carry_no_outputs_and_no_lecture_run_metadata(src):
    path = STUDENT / (src.stem + ".ipynb")
    nb = copy_of(src)
    text = sum(len(cell.source.encode()) for cell in nb.cells)  # what the copy must hold: its cells' text
    assert path.stat().st_size < 1.5 * text + 30_000, f"{path.name} is {path.stat().st_size} bytes for {text} of text"
    assert set(nb.metadata) == {"kernelspec", "language_info"} and nb.metadata.language_info == {"name": "python"}
    for cell in nb.cells:
        assert set(cell.metadata) <= {"tags"}, cell.metadata  # no widget state, no collapsed sources, no timings
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def distinctive_lines(source: str, elsewhere: str) -> list[str]:
    """Lines of a solution a student must not see: not a signature or docstring the stub keeps, not
    blank, and not a line the lecture notebook also shows outside its solutions."""
    keep = set(student.stub_source(source).split("\n"))
    lines = []
    for line in source.split("\n"):
        text = line.strip()
        if text and line not in keep and not text.startswith(('"""', "#")) and text not in elsewhere:
            lines.append(text)
    return lines


@pytest.mark.parametrize("src", WITH_EXERCISES, ids=lambda s: s.stem)
def test_no_solution_leaks_into_a_student_copy(src):
    cells = lecture_cells(src)
    shown = "\n".join(c.source for c in cells if not {"solution", "solution-note"} & set(tags(c)))
    text = "\n".join(c.source for c in copy_of(src).cells)
    for cell in cells:
        if "solution" in tags(cell):
            lines = distinctive_lines(cell.source, shown)
            assert lines, f"a solution of {src.stem} has no line of its own:\n{cell.source}"
            for line in lines:
                assert line not in text, f"{src.stem}: solution line in the student copy: {line}"
        if "solution-note" in tags(cell):
            for line in cell.source.split("\n"):
                assert len(line) < 25 or line not in text, f"{src.stem}: solution note in the student copy: {line}"
    assert "solution" not in {t for c in copy_of(src).cells for t in tags(c)}


@pytest.mark.parametrize("src", WITH_EXERCISES, ids=lambda s: s.stem)
def test_exercises_are_enough_and_make_students_think(src):
    cells = lecture_cells(src)
    code = [c for c in cells if c.cell_type == "code"]
    kinds = []
    for i, cell in enumerate(code):
        if "solution" in tags(cell):
            called = CALL.findall(code[i + 1].source) if i + 1 < len(code) else []
            assert len(called) == 1, f"{src.stem}: the cell after a solution must call one checker:\n{cell.source}"
            kind = checks.CHECKERS[called[0]].kind
            kinds.append(kind)
            assert ("prediction" in tags(cell)) == (kind == "predict"), f"{src.stem}: tag a prediction's cell 'prediction'"
    assert len(kinds) >= 3, f"{src.stem} has {len(kinds)} exercises"
    assert sum(k in ("predict", "experiment") for k in kinds) >= 2, f"{src.stem}: {kinds}"


@pytest.mark.parametrize("src", WITH_EXERCISES, ids=lambda s: s.stem)
def test_a_function_to_implement_is_not_printed_verbatim_above_its_exercise(src):
    """A guard against copies (whitespace aside); that no variant of it is shown above is for review."""
    cells = lecture_cells(src)

    def words(text):
        return " ".join(text.split())

    for i, cell in enumerate(cells):
        if "solution" in tags(cell) and "def " in cell.source:
            above = words("\n".join(c.source for c in cells[:i]))
            for line in distinctive_lines(cell.source, ""):
                if len(line) >= 20:
                    assert words(line) not in above, f"{src.stem}: shown above its exercise: {line}"


def test_lecture_solutions_start_collapsed():
    for src in WITH_EXERCISES:
        for cell in lecture_cells(src):
            hidden = cell.metadata.get("jupyter", {}).get("source_hidden", False)
            assert hidden == bool({"solution", "solution-note"} & set(tags(cell))), (src.stem, cell.source[:60])
    assert student.lecture_metadata(nbformat.v4.new_code_cell("x = 1")) == {}


@pytest.mark.parametrize("src", WITH_EXERCISES, ids=lambda s: s.stem)
def test_committed_lecture_notebooks_collapse_their_solutions(src):
    nb = nbformat.read(ROOT / "notebooks" / (src.stem + ".ipynb"), as_version=4)
    for cell in nb.cells:
        if {"solution", "solution-note"} & set(tags(cell)):
            assert cell.metadata.get("jupyter", {}).get("source_hidden"), f"{src.stem}: rebuild the notebook"


def test_make_student_never_overwrites_an_edited_copy(tmp_path, capsys):
    assert student.main([str(tmp_path)]) == 0
    mine, other = tmp_path / "03_positional_encodings.ipynb", tmp_path / "02_patches.ipynb"
    work = nbformat.read(mine, as_version=4)
    work.cells[-1].source += "\n\nmy own notes"
    nbformat.write(work, mine)
    edited, untouched = mine.read_text(), other.read_text()
    other.write_text(untouched.replace('"cells"', '"cells"', 1))  # unchanged content: still ours
    assert student.main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "refusing to overwrite" in err and mine.name in err and "--force" in err
    assert mine.read_text() == edited and other.read_text() == untouched
    # a generated copy that is merely out of date is replaced without fuss
    manifest = json.loads((tmp_path / student.MANIFEST).read_text())
    other.write_text("{}")
    manifest[other.name] = student._sha256("{}")
    (tmp_path / student.MANIFEST).write_text(json.dumps(manifest))
    assert student.main([str(tmp_path), "--force"]) == 0
    assert mine.read_text() != edited and other.read_text() == untouched
    assert student.main([str(tmp_path)]) == 0


def test_a_stale_generated_copy_is_rebuilt_but_a_foreign_file_is_not(tmp_path):
    assert student.main([str(tmp_path)]) == 0
    target = tmp_path / "05_swin_windows.ipynb"
    manifest = json.loads((tmp_path / student.MANIFEST).read_text())
    target.write_text("an older build\n")
    manifest[target.name] = student._sha256("an older build\n")
    (tmp_path / student.MANIFEST).write_text(json.dumps(manifest))
    assert student.main([str(tmp_path)]) == 0 and target.read_text() != "an older build\n"
    (tmp_path / student.MANIFEST).unlink()
    target.write_text("a file this command never wrote\n")
    assert student.main([str(tmp_path)]) == 1 and target.read_text() == "a file this command never wrote\n"


def test_prediction_stubs_ask_for_a_prediction():
    stub = student.stub_source("guess = 3.0\nother = 4\n", prediction=True)
    assert stub.startswith("guess = None  # your answer") and "other = None" in stub and "3.0" not in stub
    assert student.main(["--check", str(STUDENT)]) == 0


def test_the_readme_links_every_student_copy():
    readme = (ROOT / "README.md").read_text()
    linked = set(re.findall(r"blob/main/notebooks/student/(\w+\.ipynb)\)", readme))
    assert linked == {s.stem + ".ipynb" for s in WITH_EXERCISES}
