"""The setup cell of every notebook on a simulated Colab: the install really happens.

Colab is simulated only as far as the cell can tell: a ``google.colab`` module is there (with the
widget manager switch), and the cell's ``pip install git+<repository>`` is pointed at this working
tree instead of GitHub (no network here) and at a temporary folder instead of site-packages (the
course's .venv stays as it is). pip then really builds and installs the package from the checkout,
and the rest of the cell imports course_utils from that folder, in a fresh Python process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from tools import nbbuild

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def setup_cell(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code")


# Runs in the fresh process: fake google.colab, redirect the cell's pip command, run each setup cell.
DRIVER = textwrap.dedent('''
    import json, subprocess, sys, types

    cells, source, target, repository = json.load(open(sys.argv[1]))
    enabled, commands = [], []
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: enabled.append(True))
    google = types.ModuleType("google")
    google.colab = colab
    sys.modules["google"], sys.modules["google.colab"] = google, colab
    real_run = subprocess.run

    def run(cmd, *args, **kwargs):
        commands.append(list(cmd))
        if list(cmd[:5]) != [sys.executable, "-m", "pip", "install", "-q"] or not cmd[-1].startswith(repository):
            raise AssertionError(f"unexpected command {cmd}")
        if len(commands) == 1:  # the real install, once: every later cell asks for the same package
            done = real_run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                             "--no-index", "--target", target, source], *args, **kwargs)
            sys.path.insert(0, target)  # what site-packages is on Colab
            return done
        return subprocess.CompletedProcess(cmd, 0)

    subprocess.run = run
    for cell in cells:
        exec(cell, {})
    import course_utils
    loaded = {name: getattr(module, "__file__", None) for name, module in sys.modules.items()
              if name == "course_utils" or name.startswith("course_utils.")}
    print("RESULT " + json.dumps({"commands": commands, "enabled": len(enabled), "file": course_utils.__file__,
                                  "loaded": loaded}))
''')


@pytest.fixture(scope="module")
def colab_run(tmp_path_factory):
    """Every notebook's setup cell on a simulated Colab, in one fresh process: what it installed and imported."""
    tmp = tmp_path_factory.mktemp("colab")
    source, target, work = tmp / "checkout", tmp / "site-packages", tmp / "content"
    # what `pip install git+<repository>` fetches: the files the package's build reads, from this working tree
    (source / "course_utils").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for path in (ROOT / "course_utils").glob("*.py"):
        shutil.copy2(path, source / "course_utils" / path.name)
    work.mkdir()  # Colab's /content: not the checkout, so nothing is imported from the working tree by accident
    spec = tmp / "spec.json"
    spec.write_text(json.dumps([[setup_cell(p) for p in NOTEBOOKS], str(source), str(target),
                                f"git+{nbbuild.repo_url()}"]))
    (tmp / "driver.py").write_text(DRIVER)
    done = subprocess.run([sys.executable, str(tmp / "driver.py"), str(spec)], cwd=work, capture_output=True,
                          text=True, timeout=240, env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT ")), target


def test_setup_cells_on_colab_install_the_package_for_real(colab_run):
    result, target = colab_run
    # every cell asks pip for the same thing: the repository, or the repository at the course's release
    specs = {f"git+{nbbuild.repo_url()}"}
    if hasattr(nbbuild, "course_release"):
        specs.add(f"git+{nbbuild.repo_url()}@{nbbuild.course_release()}")
    first = result["commands"][0]
    assert first[:5] == [sys.executable, "-m", "pip", "install", "-q"] and first[5:] in ([s] for s in specs), first
    assert result["commands"] == [first] * len(NOTEBOOKS)
    assert result["enabled"] == len(NOTEBOOKS)  # and turns Colab's widget manager on
    # course_utils and every submodule the cells imported come from the fresh install, not the checkout
    assert Path(result["file"]) == target / "course_utils" / "__init__.py"
    assert len(result["loaded"]) > 5
    for name, file in result["loaded"].items():
        assert file is None or Path(file).is_relative_to(target), f"{name} was imported from {file}"
    # the install holds the working tree's modules, byte for byte, and pip's record of the package
    installed = {p.name: p.read_bytes() for p in (target / "course_utils").glob("*.py")}
    assert installed == {p.name: p.read_bytes() for p in (ROOT / "course_utils").glob("*.py")}
    assert (target / "course_utils-0.1.0.dist-info" / "METADATA").is_file()


def record_subprocess(monkeypatch) -> list:
    calls = []

    def fake_run(cmd, *args, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    return calls


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_locally_installs_nothing(path, monkeypatch, capsys):
    calls = record_subprocess(monkeypatch)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(setup_cell(path), {})  # noqa: S102
    assert calls == []
    assert "device" in capsys.readouterr().out
