"""Write the student version of every notebook: solutions replaced by stubs, outputs cleared.

    python -m tools.student [OUT_DIR]      (default: student/, git-ignored; `make student`)

A solution is a code cell tagged "solution". In its stub:
- every top-level ``def`` keeps its signature and docstring; its body becomes
  ``raise NotImplementedError("...")`` with a hint;
- every top-level assignment ``name = ...`` becomes ``name = ...  # your answer``.
Checker calls (the cell after each solution) are kept, so a student sees FAIL until done.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
HINT = "write your solution here; the exercise text above says what to return, the checker below tests it"


def stub_source(source: str) -> str:
    """The student stub of one solution cell's source."""
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
            out.append(f"{names} = ...  # your answer")
        else:
            raise ValueError(f"solution cells may hold only functions and assignments, found: {ast.unparse(node)[:60]}")
    return "\n".join(out).rstrip() + "\n"


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with solutions stubbed and all outputs cleared."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if "solution" in cell.metadata.get("tags", []):
            cell.source = stub_source(cell.source)
            cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t != "solution"] + ["exercise"]
    return nb


def exercises(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(solution source, checker source) for every solution cell: the checker is the next code cell."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    pairs = []
    for i, cell in enumerate(code):
        if "solution" in cell.metadata.get("tags", []):
            checker = code[i + 1].source if i + 1 < len(code) else ""
            pairs.append((cell.source, checker))
    return pairs


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "student"
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = student_notebook(nbformat.read(path, as_version=4))
        nbformat.write(nb, out / path.name)
        print(f"wrote {out / path.name}: {len(exercises(nbformat.read(path, as_version=4)))} exercise(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
