"""Student copies of the notebooks, built from their sources: solutions stubbed, no outputs.

    python -m tools.student [OUT_DIR] [--force]   (default notebooks/student/, committed; `make student`)
    python -m tools.student --check               exit 1 when the committed copies are out of date
    python -m tools.student --solved OUT_DIR      the same copies with the solutions in (to test grading)

Sources are ``notebooks/src/NN_name.py`` (read with ``tools.nbbuild.parse``). In a student copy:
- a code cell tagged "solution" becomes a stub: every top-level ``def`` keeps its signature
  and docstring, its body becomes ``raise NotImplementedError("...")``; every top-level
  assignment ``name = ...`` becomes ``name = ...  # your answer``, or ``name = None`` in a
  cell also tagged "prediction" (the checker then asks for the prediction first);
- a markdown cell tagged "solution-note" (prose that explains a solution) is left out;
- the checker call after each solution is kept, so a student sees FAIL until done;
- no outputs, no execution counts, no lecture-run metadata; the Colab badge opens the
  student copy itself (``notebooks/student/NN_name.ipynb``).

A copy that was changed since this command wrote it (a student's work) is never overwritten:
the command refuses, names the files and writes nothing (``--force`` overwrites them). It
recognises its own files by the SHA-256 it records in ``OUT_DIR/.generated.json``.

``lecture_metadata(cell)`` is the hook ``tools.nbbuild`` calls for every cell of a lecture
notebook: solution cells and solution notes get collapsed sources in JupyterLab, so a lecturer
can project an exercise before revealing its answer.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "notebooks" / "src"
OUT = ROOT / "notebooks" / "student"
MANIFEST = ".generated.json"  # file name → SHA-256 of what this command last wrote there
SOLUTION, PREDICTION, NOTE, EXERCISE = "solution", "prediction", "solution-note", "exercise"
HINT = "write your solution here; the exercise text above says what to return, the checker below tests it"
METADATA = {  # a student copy's notebook metadata: the kernel it runs on, nothing from a lecture run
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def lecture_metadata(cell) -> dict:
    """Metadata to merge into a lecture notebook's cell: solutions and their notes start collapsed."""
    tags = cell.get("metadata", {}).get("tags", [])
    if SOLUTION in tags or NOTE in tags:
        return {"jupyter": {"source_hidden": True}}
    return {}


def stub_source(source: str, prediction: bool = False) -> str:
    """The student stub of one solution cell's source (``prediction``: assignments become ``None``)."""
    tree = ast.parse(source)
    lines = source.split("\n")
    out: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            head_end = node.body[0].lineno - 1  # lines up to the first statement of the body
            doc = ast.get_docstring(node)
            out.extend(lines[node.lineno - 1 - len(node.decorator_list):head_end])
            indent = " " * (node.body[0].col_offset)
            if doc is not None:
                out.extend(lines[node.body[0].lineno - 1:node.body[0].end_lineno])
            out.append(f'{indent}raise NotImplementedError("{HINT}")')
            out.append("")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = ", ".join(ast.unparse(t) for t in targets)
            if prediction:
                out.append(f"{names} = None  # your answer: a prediction, written before you run the checker")
            else:
                out.append(f"{names} = ...  # your answer")
        else:
            raise ValueError(f"solution cells may hold only functions and assignments, found: {ast.unparse(node)[:60]}")
    return "\n".join(out).rstrip() + "\n"


def _source_cells(src: Path, name: str) -> list:
    """The lecture cells of one source, as the notebook builder reads them."""
    from tools import nbbuild

    return nbbuild.parse(src.read_text(encoding="utf-8"), name)


def _student_badge(text: str, name: str) -> str:
    """Point a Colab badge for notebooks/NAME at notebooks/student/NAME."""
    return re.sub(rf"(/notebooks/)({re.escape(name)}\))", r"\1student/\2", text)


def build(src: Path, solved: bool = False) -> nbformat.NotebookNode:
    """The student copy of one source (``solved``: with its solutions and notes, for testing the grader)."""
    name = src.stem + ".ipynb"
    cells = []
    for cell in _source_cells(src, name):
        tags = list(cell.metadata.get("tags", []))
        if NOTE in tags and not solved:
            continue
        if cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(_student_badge(cell.source, name))
        else:
            source = cell.source
            if SOLUTION in tags and not solved:
                source = stub_source(source, prediction=PREDICTION in tags).rstrip("\n")
                tags = [EXERCISE if t == SOLUTION else t for t in tags]
            new = nbformat.v4.new_code_cell(source)
        if tags:
            new.metadata["tags"] = tags
        new["id"] = f"c{len(cells):03d}"
        cells.append(new)
    return nbformat.v4.new_notebook(cells=cells, metadata=json.loads(json.dumps(METADATA)))


def render(nb: nbformat.NotebookNode) -> str:
    """The file text of a notebook, as nbformat writes it."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def built_copies(solved: bool = False) -> dict[str, str]:
    """File name → text of every student copy, built from notebooks/src."""
    return {src.stem + ".ipynb": render(build(src, solved)) for src in sorted(SRC.glob("*.py"))}


def edited(out: Path, new: dict[str, str]) -> list[str]:
    """Files in ``out`` that this command did not write as they are now (a student's work), among ``new``'s names."""
    manifest_path = out / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    changed = []
    for name, text in new.items():
        path = out / name
        if not path.exists():
            continue
        current = _sha256(path.read_text(encoding="utf-8"))
        if current != _sha256(text) and current != manifest.get(name):
            changed.append(name)
    return changed


def write_copies(out: Path, force: bool = False, solved: bool = False) -> int:
    """Write the copies into ``out`` unless one there was edited (then write nothing); 0 or 1."""
    new = built_copies(solved)
    out.mkdir(parents=True, exist_ok=True)
    changed = [] if force else edited(out, new)
    if changed:
        where = ", ".join(str(out / n) for n in changed)
        print(f"refusing to overwrite {where}: changed since `make student` wrote it (your work?). Nothing was "
              f"written. Copy your work elsewhere (e.g. my-work/), then run `make student` again; or overwrite "
              f"with `make student FORCE=1` (python -m tools.student --force).", file=sys.stderr)
        return 1
    for name, text in new.items():
        path = out / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}: {sum(1 for _ in exercises(nbformat.reads(text, as_version=4)))} exercise(s)")
    (out / MANIFEST).write_text(json.dumps({n: _sha256(t) for n, t in new.items()}, indent=1, sort_keys=True) + "\n")
    return 0


def out_of_date(out: Path = OUT) -> list[str]:
    """Student copies in ``out`` that differ from what notebooks/src builds (or are missing)."""
    stale = []
    for name, text in built_copies().items():
        path = out / name
        if not path.exists() or json.loads(path.read_text(encoding="utf-8")) != json.loads(text):
            stale.append(name)
    return stale


def exercises(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(solution source, checker source) for every solution (or stub) cell: the checker is the next code cell."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    pairs = []
    for i, cell in enumerate(code):
        tags = cell.metadata.get("tags", [])
        if SOLUTION in tags or EXERCISE in tags:
            checker = code[i + 1].source if i + 1 < len(code) else ""
            pairs.append((cell.source, checker))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.student", description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", default=str(OUT), help="where to write (default notebooks/student)")
    parser.add_argument("--force", action="store_true", help="overwrite copies even when they were edited")
    parser.add_argument("--solved", action="store_true", help="keep the solutions in (to test the grader)")
    parser.add_argument("--check", action="store_true", help="only report whether the copies are up to date")
    args = parser.parse_args(argv)
    if args.check:
        stale = out_of_date(Path(args.out))
        for name in stale:
            print(f"{Path(args.out) / name} is out of date: run `make student`", file=sys.stderr)
        return 1 if stale else 0
    return write_copies(Path(args.out), force=args.force, solved=args.solved)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
