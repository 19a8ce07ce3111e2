"""Grade student notebooks: run each one, collect its checkers' verdicts, print a table.

    python -m course_utils.grade [--timeout SECONDS] [--lecture] [--json FILE] NOTEBOOK...

Each notebook runs top to bottom in a fresh kernel, in smoke mode (``COURSE_SMOKE=1``; ``--lecture``
runs it full size), with its own folder as the working directory and at most ``--timeout``
seconds in all (default 600). A cell that fails does not stop the run: the exercises after it
are still graded. The exercises of a notebook are its calls to ``checks.check_...``; each gets
the verdict its checker recorded (``course_utils.checks.recorded``), or FAIL when the checker
never ran (with the error of its cell, if any).

Prints one row per exercise (notebook, exercise, kind, verdict, the checker's message) and the
total. Exit status 0 when every notebook could be run, whatever the verdicts; 1 when one could
not (missing, not a notebook, past its time limit, its kernel died).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from . import checks

MARK = "COURSE-GRADE-VERDICTS "
COLLECTOR = ("import json as _json\nfrom course_utils import checks as _checks\n"
             f"print({MARK!r} + _json.dumps(_checks.recorded()))")
_CALL = re.compile(r"\bchecks\.(check_\w+)\s*\(")


@dataclass
class Row:
    """One exercise's line in the table."""

    notebook: str
    exercise: str
    kind: str
    ok: bool
    note: str


def exercises(nb) -> list[tuple[str, int]]:
    """(checker name, index of the cell that calls it) for each checker a notebook calls, in order."""
    found: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for name in _CALL.findall(cell.source):
                found.setdefault(name, i)
    return list(found.items())


@contextmanager
def _environment(**values: str):
    """Set environment variables for the kernels started inside, and restore them after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _kind(check: str) -> str:
    fn = checks.CHECKERS.get(check)
    return fn.kind if fn is not None else "?"


def _cell_error(cell) -> str:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename')}: {out.get('evalue')}"
    return ""


def run_notebook(path: Path, timeout: float, smoke: bool = True, kernel: str = "python3"):
    """Execute ``path`` with the verdict collector appended: (executed notebook, None) or (None, why it could not run)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    try:
        nb = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        return None, "no such file"
    except Exception as exc:  # not JSON, not a notebook
        return None, f"not a notebook ({type(exc).__name__}: {exc})"
    nb.cells.append(nbformat.v4.new_code_cell(COLLECTOR))
    deadline = time.monotonic() + timeout
    client = NotebookClient(nb, kernel_name=kernel, allow_errors=True, interrupt_on_timeout=False,
                            timeout_func=lambda cell: max(1, int(deadline - time.monotonic())),
                            resources={"metadata": {"path": str(path.resolve().parent)}})
    try:
        with _environment(COURSE_SMOKE="1" if smoke else "0"):
            client.execute()
    except CellTimeoutError:
        return None, f"ran past its time limit of {timeout:g} s"
    except DeadKernelError as exc:
        return None, f"its kernel died ({exc})"
    except Exception as exc:  # the kernel would not start, ...
        return None, f"could not be run ({type(exc).__name__}: {exc})"
    return nb, None


def grade_notebook(path: Path, timeout: float = 600, smoke: bool = True, kernel: str = "python3"):
    """Rows for every exercise of one notebook, and why it could not be run (None when it ran)."""
    nb, error = run_notebook(path, timeout, smoke, kernel)
    if error is None:
        collected = nb.cells.pop()  # the collector
        text = "".join(out.get("text", "") for out in collected.outputs if out.get("output_type") == "stream")
        lines = [line for line in text.splitlines() if line.startswith(MARK)]
        if not lines:
            error = f"its verdicts could not be collected ({_cell_error(collected) or 'no output'})"
    if error is not None:
        try:
            import nbformat

            expected = exercises(nbformat.read(path, as_version=4))
        except Exception:
            expected = []
        return [Row(str(path), checks.exercise_title(c), _kind(c), False, f"not graded: the notebook {error}")
                for c, _ in expected], error
    verdicts = {v["check"]: v for v in json.loads(lines[-1][len(MARK):])}
    rows = []
    for check, index in exercises(nb):
        v = verdicts.get(check)
        if v is not None:
            rows.append(Row(str(path), checks.exercise_title(check), _kind(check), bool(v["ok"]), v["message"]))
        else:
            why = _cell_error(nb.cells[index])
            rows.append(Row(str(path), checks.exercise_title(check), _kind(check), False,
                            f"the checker did not run{': ' + why if why else ''}"))
    return rows, None


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def table(rows: list[Row], failed: dict[str, str], width: int = 70) -> str:
    """The grading table: one line per exercise, unrunnable notebooks, and the total."""
    nb_w = max([len("notebook")] + [len(r.notebook) for r in rows] + [len(n) for n in failed])
    ex_w = max([len("exercise")] + [len(r.exercise) for r in rows])
    lines = [f"{'notebook':{nb_w}}  {'exercise':{ex_w}}  {'kind':10}  verdict  note"]
    for r in rows:
        lines.append(f"{r.notebook:{nb_w}}  {r.exercise:{ex_w}}  {r.kind:10}  {'PASS' if r.ok else 'FAIL':7}  "
                     f"{_short(r.note, width)}")
    for name, why in failed.items():
        lines.append(f"{name:{nb_w}}  {'(the notebook)':{ex_w}}  {'':10}  {'ERROR':7}  {_short(why, width)}")
    notebooks = len({r.notebook for r in rows} | set(failed))
    lines.append(f"total: {sum(r.ok for r in rows)} of {len(rows)} exercises pass, in {notebooks} notebook(s)"
                 + (f"; {len(failed)} could not be run" if failed else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.grade", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="student notebooks (.ipynb)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds each notebook may run (default 600)")
    parser.add_argument("--lecture", action="store_true", help="run full size instead of in smoke mode")
    parser.add_argument("--kernel", default="python3", help="the Jupyter kernel to run them on (default python3)")
    parser.add_argument("--json", type=Path, help="also write every row, full messages included, to this file")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    failed: dict[str, str] = {}
    for path in args.notebooks:
        print(f"grading {path} ...", file=sys.stderr, flush=True)
        got, error = grade_notebook(path, args.timeout, smoke=not args.lecture, kernel=args.kernel)
        rows += got
        if error is not None:
            failed[str(path)] = error
    print(table(rows, failed))
    if args.json:
        args.json.write_text(json.dumps({"rows": [asdict(r) for r in rows], "not_run": failed}, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
