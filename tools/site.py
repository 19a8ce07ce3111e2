"""Build the course website from the committed, executed notebooks (nothing is re-executed).

    python -m tools.site            (`make site`; the pages land in build/site/)

Sphinx with myst-nb and the book theme does the rendering (docs/conf.py). What is ours is the
staging in build/site-src/, which keeps the repository's layout so that the README's links work:

- ``index.md``: the README, with the navigation (notebooks, student copies, instructor notes);
- ``notebooks/NN_*.ipynb``: the lecture notebooks with their outputs; every ipywidgets output
  becomes its static picture (the image its Output widget held when the notebook was saved, with
  a note saying what the controls were; a tqdm bar becomes its last line of text), since a
  static page cannot run a kernel and the widget's ``VBox(children=...`` text says nothing;
- ``notebooks/student/*.ipynb`` when that folder exists; ``docs/instructor-notes.md``;
- the Colab and Binder badges as local pictures (the site makes no request to other hosts).
"""

from __future__ import annotations

import argparse
import copy
import html
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / "build" / "site-src"
OUT = ROOT / "build" / "site"
DOCTREES = ROOT / "build" / "site-doctrees"
CONF = ROOT / "docs"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
BADGES = {  # remote badge picture -> the local copy in docs/_static
    "https://colab.research.google.com/assets/colab-badge.svg": "colab-badge.svg",
    "https://mybinder.org/badge_logo.svg": "binder-badge.svg",
}
NOTE = "A still of an interactive explorer{controls}: open the notebook in JupyterLab or Colab to use it."


# ------------------------------------------------------------------ widgets -> static pictures

def _children(model: dict) -> list[str]:
    refs = model.get("state", {}).get("children", [])
    return [ref.removeprefix("IPY_MODEL_") for ref in refs if isinstance(ref, str)]


def _descendants(model_id: str, state: dict) -> list[dict]:
    """The models under ``model_id`` (itself included), depth first, in display order."""
    found, stack, seen = [], [model_id], set()
    while stack:
        current = stack.pop(0)
        if current in seen or current not in state:
            continue
        seen.add(current)
        found.append(state[current])
        stack[:0] = _children(state[current])
    return found


def _control_value(model: dict) -> str | None:
    """'description = value' of a control (slider, dropdown, ...), None for containers and text."""
    s = model.get("state", {})
    if not s.get("description") or model.get("model_name") in ("HTMLModel", "LabelModel", "OutputModel"):
        return None
    labels, index = s.get("_options_labels"), s.get("index")
    if labels and isinstance(index, int) and 0 <= index < len(labels):
        value = labels[index]
    elif "value" in s:
        value = s["value"]
    else:
        return None
    return f"{s['description']} = {value}"


def _note(text: str) -> dict:
    """A display output holding a note in small italics (docs/_static/course.css)."""
    body = f'<p class="widget-still-note">{html.escape(text)}</p>'
    return nbformat.v4.new_output("display_data", data={"text/html": body, "text/plain": text})


def widget_still(model_id: str, state: dict) -> list:
    """The outputs that stand for one widget view on a static page."""
    models = _descendants(model_id, state)
    pictures = [copy.deepcopy(out) for m in models if m.get("model_name") == "OutputModel"
                for out in m["state"].get("outputs", [])]
    if pictures:
        controls = [c for c in map(_control_value, models) if c]
        note = NOTE.format(controls=f" ({', '.join(controls)})" if controls else "")
        outputs = [nbformat.from_dict(out) for out in pictures]
        return outputs + [_note(note)]
    bars = [m for m in models if m.get("model_name") in ("FloatProgressModel", "IntProgressModel")]
    if bars:  # a progress bar (tqdm): its last state, as one line of text
        s = bars[0]["state"]
        done = min(1.0, max(0.0, float(s.get("value", 0)) / float(s.get("max") or 1)))
        bar = "█" * round(20 * done) + " " * (20 - round(20 * done))
        texts = [html.unescape(m["state"].get("value", "")) for m in models if m.get("model_name") == "HTMLModel"]
        line = f"{texts[0] if texts else ''}|{bar}|{''.join(texts[1:])}".replace("\u2007", " ")
        # as printed text, so that it stays in order with the lines the loop printed between bars
        return [nbformat.v4.new_output("stream", name="stdout", text=line + "\n")]
    return [_note("An interactive widget: open the notebook in JupyterLab or Colab to use it.")]


def static_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with every widget view replaced by its still, and no widget state left."""
    nb = copy.deepcopy(nb)
    state = nb.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW) if out.output_type in ("display_data", "execute_result") else None
            outputs.extend(widget_still(view["model_id"], state) if view else [out])
        cell.outputs = outputs
    return nb


# ------------------------------------------------------------------ staging

def _local_badges(text: str, depth: int) -> str:
    prefix = "../" * depth + "_badges/"
    for remote, local in BADGES.items():
        text = text.replace(remote, prefix + local)
    return text


def _write(path: Path, text: str, written: set) -> None:
    """Write ``text`` only if it changed (Sphinx then rebuilds only what changed)."""
    written.add(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _notebook(src: Path, stage_dir: Path, dest: str, written: set) -> str:
    """Stage one notebook at ``stage_dir/dest``; its document name."""
    depth = dest.count("/")
    nb = static_widgets(nbformat.read(src, as_version=4))
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _local_badges(cell.source, depth)
    _write(stage_dir / dest, nbformat.writes(nb) + "\n", written)
    return dest.removesuffix(".ipynb")


def _toctree(caption: str, docs: list[str]) -> str:
    return "\n".join(["", "```{toctree}", ":hidden:", f":caption: {caption}", "", *docs, "```", ""]) if docs else ""


def stage(stage_dir: Path = STAGE) -> list[str]:
    """Lay out the site's pages in ``stage_dir``; the staged documents' names (without suffix)."""
    written: set[Path] = set()
    lecture = [_notebook(p, stage_dir, f"notebooks/{p.name}", written)
               for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    student = [_notebook(p, stage_dir, f"notebooks/student/{p.name}", written)
               for p in sorted((ROOT / "notebooks" / "student").glob("*.ipynb"))]
    notes = ROOT / "docs" / "instructor-notes.md"
    _write(stage_dir / "docs" / notes.name, _local_badges(notes.read_text(encoding="utf-8"), 1), written)
    for local in BADGES.values():
        _write(stage_dir / "_badges" / local, (CONF / "_static" / local).read_text(encoding="utf-8"), written)
    index = _local_badges((ROOT / "README.md").read_text(encoding="utf-8"), 0).rstrip("\n") + "\n"
    index += _toctree("Notebooks", lecture) + _toctree("Student copies", student)
    index += _toctree("For instructors", ["docs/instructor-notes"])
    _write(stage_dir / "index.md", index, written)
    for path in sorted(stage_dir.rglob("*"), reverse=True):  # what an earlier build staged and this one did not
        if path.is_file() and path not in written:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return ["index", *lecture, *student, "docs/instructor-notes"]


def build(out: Path = OUT, stage_dir: Path = STAGE, doctrees: Path = DOCTREES) -> list[str]:
    """Stage the pages and run Sphinx (only what changed since the last build); the documents built."""
    docs = stage(stage_dir)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(CONF), "-d", str(doctrees),
           str(stage_dir), str(out)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    (out / ".nojekyll").touch()  # GitHub Pages: serve _static/ and _images/ as they are
    return docs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.site", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (default: build/site)")
    parser.add_argument("--clean", action="store_true", help="rebuild every page, not only what changed")
    args = parser.parse_args(argv)
    if args.clean:
        for path in (STAGE, DOCTREES, args.out):
            shutil.rmtree(path, ignore_errors=True)
    start = time.perf_counter()
    docs = build(args.out)
    print(f"built {len(docs)} pages into {args.out} in {time.perf_counter() - start:.0f} s: "
          f"open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
