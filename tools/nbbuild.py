"""Build the notebooks from their readable sources, and execute them (the lecture run).

Sources live in ``notebooks/src/NN_name.py`` in the "percent" format:

    # %% [markdown]
    # # A title
    # %%
    print("a code cell")
    # %% tags=["solution"]
    answer = 42

``python -m tools.nbbuild build`` writes ``notebooks/NN_name.ipynb`` (no outputs) from each
source, filling in ``{{COLAB_SETUP}}`` (the setup cell's Colab install), ``{{COLAB_BADGE}}`` and
``{{REPO_URL}}`` from pyproject's project.urls.
``python -m tools.nbbuild execute NB...`` runs notebooks top to bottom in place.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "notebooks" / "src"
OUT = ROOT / "notebooks"
KERNEL = "python3"  # the kernel every notebook runs on (this environment's ipykernel)
_HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")


def repo_url() -> str:
    """The repository address declared once in pyproject.toml."""
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]["urls"]["Repository"]


def colab_badge(notebook_name: str) -> str:
    """Markdown for an 'Open in Colab' badge pointing at ``notebooks/<name>`` on main."""
    path = repo_url().removeprefix("https://github.com/")
    link = f"https://colab.research.google.com/github/{path}/blob/main/notebooks/{notebook_name}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({link})"


COLAB_SETUP = """# Setup (the same cell opens every notebook). On Colab, install course_utils from the
# course repository; on your own machine `make lab` has installed it already.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+{{REPO_URL}}"], check=True)
    from google.colab import output

    output.enable_custom_widget_manager()"""


def parse(text: str, notebook_name: str) -> list:
    """Cells of a percent-format source (a list of nbformat cells)."""
    text = text.replace("{{COLAB_SETUP}}", COLAB_SETUP)
    text = text.replace("{{COLAB_BADGE}}", colab_badge(notebook_name)).replace("{{REPO_URL}}", repo_url())
    cells, kind, tags, lines = [], None, [], []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(re.sub(r"^# ?", "", line) for line in body.split("\n"))
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            cell = nbformat.v4.new_code_cell(body)
        if tags:
            cell.metadata["tags"] = tags
        cell.pop("id", None)
        cells.append(cell)

    for line in text.split("\n"):
        match = _HEADER.match(line)
        if match:
            flush()
            kind = "markdown" if match.group("md") else "code"
            tags = json.loads(match.group("tags")) if match.group("tags") else []
            lines = []
        elif kind is not None:
            lines.append(line)
    flush()
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
    """Write notebooks/<src stem>.ipynb from ``src``; None (and nothing written) if it is up to date."""
    name = src.stem + ".ipynb"
    cells = parse(src.read_text(), name)
    out = OUT / name
    if out.exists() and _signature(nbformat.read(out, as_version=4).cells) == _signature(cells):
        return None  # keep its outputs
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
    nbformat.write(nb, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.nbbuild")
    parser.add_argument("command", choices=["build", "execute"])
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args(argv)
    if args.command == "build":
        for src in sorted(SRC.glob("*.py")):
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
