"""The setup cell of every notebook, run here with Colab simulated: no network, no local changes."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from tools import nbbuild

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def setup_cell(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code")


@pytest.fixture
def recorder(monkeypatch):
    calls = []

    def fake_run(cmd, *args, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    return calls


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_on_colab_installs_from_the_repository(path, recorder, monkeypatch):
    enabled = []
    output = types.SimpleNamespace(enable_custom_widget_manager=lambda: enabled.append(True))
    colab = types.ModuleType("google.colab")
    colab.output = output
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    exec(setup_cell(path), {})  # noqa: S102 - the notebook's own setup cell
    assert recorder == [[sys.executable, "-m", "pip", "install", "-q", f"git+{nbbuild.repo_url()}"]]
    assert enabled == [True]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_locally_installs_nothing(path, recorder, monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(setup_cell(path), {})  # noqa: S102
    assert recorder == []
    assert "device" in capsys.readouterr().out
