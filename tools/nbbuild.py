"""Build the notebooks from their readable sources, and execute them (the lecture run).

Sources live in ``notebooks/src/NN_name.py`` in jupytext's "percent" format:

    # %% [markdown]
    # # A title
    # %%
    print("a code cell")
    # %% tags=["solution"]
    answer = 42

jupytext reads them (cell tags are jupytext cell metadata). What is ours: filling in
``{{COLAB_SETUP}}`` (the setup cell's Colab install), ``{{COLAB_BADGE}}`` and ``{{REPO_URL}}``
from pyproject.toml, the kernel's metadata, the exercises' lecture metadata, and the execute step.
``python -m tools.nbbuild build [NB...]`` writes ``notebooks/NN_name.ipynb`` (no outputs) from each
source that changed (or only from those named);
``python -m tools.nbbuild execute NB...`` runs notebooks top to bottom in place.
"""

from __future__ import annotations

import argparse
import html
import importlib
import sys
import tomllib
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "notebooks" / "src"
OUT = ROOT / "notebooks"
KERNEL = "python3"  # the kernel every notebook runs on (this environment's ipykernel)
# The percent format, read as written: comments in code cells stay comments (no magic un-commenting).
FORMAT = {"extension": ".py", "format_name": "percent", "comment_magics": False}
# Cell metadata jupytext keeps only to write the text file back the same (as jupytext.cell_metadata lists them).
JUPYTEXT_LAYOUT = ("skipline", "noskipline", "cell_marker", "lines_to_next_cell", "lines_to_end_of_cell_marker")
# Where the exercises' tooling may define lecture_metadata(cell) (first found wins).
LECTURE_METADATA_MODULES = ("tools.exercises", "tools.student")


def _pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)


def repo_url() -> str:
    """The repository address declared once in pyproject.toml."""
    return _pyproject()["project"]["urls"]["Repository"]


def course_release() -> str:
    """The git tag (or commit) of the course that the notebooks' Colab install pins: [tool.course] release."""
    return _pyproject()["tool"]["course"]["release"]


def colab_install_spec() -> str:
    """What the setup cell hands pip on Colab: the repository at this term's release."""
    return f"git+{repo_url()}@{course_release()}"


def colab_badge(notebook_name: str) -> str:
    """Markdown for an 'Open in Colab' badge pointing at ``notebooks/<name>`` on main."""
    path = repo_url().removeprefix("https://github.com/")
    link = f"https://colab.research.google.com/github/{path}/blob/main/notebooks/{notebook_name}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({link})"


COLAB_SETUP = """# Setup (the same cell opens every notebook). On Colab, install course_utils at this term's
# release of the course; on your own machine `make lab` has installed it already.
import subprocess
import sys

if "google.colab" in sys.modules:
    release = "{{COLAB_INSTALL}}"
    if subprocess.run([sys.executable, "-m", "pip", "install", "-q", release]).returncode != 0:
        print(f"could not install {release} (is the release tagged yet?): installing the course's main branch")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", release.rsplit("@", 1)[0]], check=True)
    from google.colab import output

    output.enable_custom_widget_manager()
try:
    import course_utils  # noqa: F401
except ImportError:
    raise ModuleNotFoundError(
        "course_utils is not installed in this kernel. In the course folder run `make lab` "
        "(it installs everything and starts JupyterLab), or `pip install -e .` in your own environment."
    ) from None"""


def _fill(source: str, notebook_name: str) -> str:
    """The source with our placeholders filled in."""
    source = source.replace("{{COLAB_SETUP}}", COLAB_SETUP).replace("{{COLAB_INSTALL}}", colab_install_spec())
    return source.replace("{{COLAB_BADGE}}", colab_badge(notebook_name)).replace("{{REPO_URL}}", repo_url())


def _lecture_metadata():
    """The exercises' ``lecture_metadata(cell)`` hook, or None where no module defines it yet."""
    for name in LECTURE_METADATA_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        hook = getattr(module, "lecture_metadata", None)
        if hook is not None:
            return hook
    return None


def parse(text: str, notebook_name: str) -> list:
    """Cells of a percent-format source (a list of nbformat cells), read by jupytext."""
    hook = _lecture_metadata()
    cells = []
    for cell in jupytext.reads(text, fmt=FORMAT).cells:
        source = _fill(cell.source, notebook_name)
        if cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(source)
        elif cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(source)
        else:
            new = nbformat.v4.new_raw_cell(source)
        # the source's cell metadata (tags=[...], ...), less jupytext's own layout keys (lines_to_next_cell, ...)
        new.metadata.update({k: v for k, v in cell.metadata.items() if k not in JUPYTEXT_LAYOUT})
        new.pop("id", None)
        if hook is not None:
            extra = hook(new)  # may edit the cell in place, or return metadata to merge
            if extra:
                new.metadata.update(extra)
        cells.append(new)
    return cells


def kernel_metadata(kernel_name: str = KERNEL) -> dict:
    """The notebook metadata the kernel writes when a notebook is opened in JupyterLab.

    JupyterLab sets ``kernelspec`` from the server's kernelspec (name, display name, language)
    and ``language_info`` from the kernel's reply; a committed notebook that carries anything
    else is changed (and autosaved) just by opening it. ``language_info`` holds the Python
    version of the machine that executed it.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(kernel_name)
    return {"display_name": spec.display_name, "language": spec.language, "name": kernel_name}


def _signature(cells) -> list:
    return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in cells]


def build_one(src: Path) -> Path | None:
    """Write notebooks/<src stem>.ipynb from ``src``; None if its cells are up to date.

    An up-to-date notebook keeps its outputs; only cell metadata the source or the lecture_metadata
    hook adds that it lacks (a solution collapsed, ...) is written into it.
    """
    name = src.stem + ".ipynb"
    cells = parse(src.read_text(), name)
    out = OUT / name
    if out.exists():
        current = nbformat.read(out, as_version=4)
        if _signature(current.cells) == _signature(cells):
            before = nbformat.writes(current)
            for old, new in zip(current.cells, cells):
                old.metadata.update(new.metadata)
            if nbformat.writes(current) != before:
                nbformat.write(current, out)
            return None  # its outputs kept
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:03d}"
    nb.metadata = {
        "kernelspec": kernel_metadata(),
        "language_info": {"name": "python"},  # the kernel's full entry replaces it when executed
        "colab": {"provenance": []},
    }
    nbformat.write(nb, out)
    return out


def execute(path: Path, timeout: int = 1800) -> None:
    """Run ``path`` top to bottom in a fresh kernel of this Python and save the outputs in place."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=KERNEL, resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # also sets metadata.language_info from the kernel
    nb.metadata["kernelspec"] = kernel_metadata()
    drop_hidden_widgets(nb)
    nbformat.write(nb, path)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def drop_hidden_widgets(nb) -> int:
    """Remove outputs whose widget ended hidden (a finished ``leave=False`` progress bar); return how many.

    A progress bar that stays (one a time budget cut short) gets its final state as its text.

    Live, such a bar disappears when its loop ends; saved, its output keeps the text it was
    created with ("epoch 1/16: 0%|"), which every viewer without the widget (GitHub, the website,
    nbval) would show as a bar stuck at 0 %.
    """
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})

    def hidden(model_id: str) -> bool:
        layout = state.get(model_id, {}).get("state", {}).get("layout", "")
        layout_state = state.get(layout.removeprefix("IPY_MODEL_"), {}).get("state", {})
        return layout_state.get("visibility") == "hidden" or layout_state.get("display") == "none"

    def final_text(model_id: str) -> str | None:
        """A progress bar's last state as text (tqdm's HBox: HTML, FloatProgress, HTML), else None."""
        children = [state.get(c.removeprefix("IPY_MODEL_"), {}) for c in
                    state.get(model_id, {}).get("state", {}).get("children", [])]
        names = [c.get("model_name") for c in children]
        if names != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
            return None
        text = f"{children[0]['state']['value']} {children[2]['state']['value']}".replace("\u2007", " ")
        return html.unescape(text).strip()

    dropped = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = [o for o in cell.get("outputs", []) if not (WIDGET_VIEW in o.get("data", {})
                                                           and hidden(o["data"][WIDGET_VIEW]["model_id"]))]
        dropped += len(cell.get("outputs", [])) - len(kept)
        for output in kept:  # a bar left visible (cut short): its text shows where it ended, not where it began
            text = final_text(output["data"][WIDGET_VIEW]["model_id"]) if WIDGET_VIEW in output.get("data", {}) else None
            if text is not None:
                output["data"]["text/plain"] = text
        cell["outputs"] = kept
    return dropped


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.nbbuild")
    parser.add_argument("command", choices=["build", "execute"])
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args(argv)
    if args.command == "build":
        sources = sorted(SRC.glob("*.py"))
        if args.notebooks:  # only the ones named (as notebooks/NN_x.ipynb, notebooks/src/NN_x.py or NN_x)
            wanted = {Path(n).stem for n in args.notebooks}
            unknown = wanted - {s.stem for s in sources}
            if unknown:
                parser.error(f"no source notebooks/src/<name>.py for {sorted(unknown)}; "
                             f"the sources are {[s.stem for s in sources]}")
            sources = [s for s in sources if s.stem in wanted]
        for src in sources:
            out = build_one(src)
            print(f"built {out.relative_to(ROOT)} (execute it next)" if out else f"{src.name}: notebook up to date")
    else:
        import time
        for name in args.notebooks or sorted(str(p) for p in OUT.glob("*.ipynb")):
            start = time.perf_counter()
            execute(Path(name))
            print(f"executed {name} in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
