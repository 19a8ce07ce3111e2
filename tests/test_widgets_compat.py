"""The explorers on both ipywidgets major versions: 8 (this environment) and 7.7 (what Colab ships
and imports at kernel start; pyproject accepts ``ipywidgets>=7.7`` so that Colab keeps it).

ipywidgets 7.7 (with its widgetsnbextension 3.6 and jupyterlab_widgets 1.x) is installed with
pip into a temporary folder put first on PYTHONPATH, leaving .venv as it is; every explorer is
then built in a fresh process and every control moved once, which must redraw its figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

# Builds every explorer, moves every control, counts the redraws (each draw closes its figure once).
SCRIPT = textwrap.dedent("""
    import json, sys
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import ipywidgets, torch
    from course_utils import data, positional, widgets

    closed = []
    real_close = plt.close
    plt.close = lambda fig=None: (closed.append(fig), real_close(fig))

    def controls(box):
        head = box.children[0]
        return list(head.children) if isinstance(head, ipywidgets.HBox) else [head]

    def toy(channels, classes):
        images = torch.randint(0, 255, (4, channels, 16, 16), dtype=torch.uint8)
        return data.ImageDataset(images, torch.arange(4), classes=classes, mean=(0.5,) * channels,
                                 std=(0.25,) * channels, name="toy", source="test")

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 256, 10))
    digits = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 10))
    heat = lambda x: torch.rand(1, 4, 4)
    tables = {"concat": positional.sinusoidal_2d(4, 4, 16), "sum": positional.sinusoidal_2d(4, 4, 16, "sum")}
    q, k = torch.randn(3, 4), torch.randn(3, 4)
    explorers = {
        "attention_explorer": lambda: widgets.attention_explorer(q, k, ["a", "b", "c"]),
        "patch_size_explorer": lambda: widgets.patch_size_explorer(data.sample_photo(32)),
        "similarity_explorer": lambda: widgets.similarity_explorer(tables, 4, 4),
        "prediction_explorer": lambda: widgets.prediction_explorer(model, toy(3, data.CIFAR10_CLASSES), heat),
        "digit_explorer": lambda: widgets.digit_explorer(digits, toy(1, data.MNIST_CLASSES), heat),
        "window_explorer": lambda: widgets.window_explorer(data.sample_photo(64), patch_size=4),
    }
    report = {"version": ipywidgets.__version__, "file": ipywidgets.__file__, "explorers": {}}
    for name, make in explorers.items():
        before = len(closed)
        box = make()
        assert isinstance(box, ipywidgets.VBox) and isinstance(box.children[-1], ipywidgets.Output), name
        drawn = [len(closed) - before]
        for control in controls(box):
            if isinstance(control, (ipywidgets.Dropdown, ipywidgets.SelectionSlider)):
                options = [o[1] if isinstance(o, tuple) else o for o in control.options]
                control.value = options[-1] if control.value != options[-1] else options[0]
            else:  # a numeric slider
                control.value = control.max if control.value != control.max else control.min
            drawn.append(len(closed) - before)
        report["explorers"][name] = drawn
    print("REPORT " + json.dumps(report))
""")


@pytest.fixture(scope="module")
def ipywidgets7(tmp_path_factory):
    """A folder holding ipywidgets 7.7 and its front-end packages (pip, from the package index)."""
    target = tmp_path_factory.mktemp("ipywidgets7")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
           "--target", str(target), "ipywidgets==7.7.*", "widgetsnbextension==3.6.*",
           "jupyterlab_widgets>=1,<2", "ipython_genutils==0.2.*"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.skip("pip could not install ipywidgets 7.7 within 180 s (no package index reachable?)")
    if done.returncode != 0:
        pytest.skip(f"pip could not install ipywidgets 7.7 (offline, no package index?): {done.stderr.strip()[-300:]}")
    return target


def run_explorers(pythonpath: str | None) -> dict:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([pythonpath, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("REPORT "))
    return json.loads(line.removeprefix("REPORT "))


def check(report: dict) -> None:
    assert len(report["explorers"]) == 6
    for name, drawn in report["explorers"].items():
        # drawn once when built, then once more for every control moved
        assert drawn == list(range(1, len(drawn) + 1)), f"{name} on ipywidgets {report['version']}: redraws {drawn}"


def test_explorers_on_ipywidgets_8():
    report = run_explorers(None)
    assert report["version"].startswith("8."), report["version"]
    check(report)


def test_explorers_on_ipywidgets_7_7(ipywidgets7):
    report = run_explorers(str(ipywidgets7))
    assert report["version"].startswith("7.7."), report
    assert report["file"].startswith(str(ipywidgets7)), report["file"]
    check(report)
