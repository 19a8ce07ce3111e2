"""The ways a class gets the course running: the notebooks' setup cell (Colab, a release; outside
Colab, a clear message), JupyterLab without first-run prompts, ipywidgets 7 (Colab's) as well as 8,
the CPU-only torch for classrooms and Binder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from conftest import free_port, stop_process

from tools import nbbuild

ROOT = Path(__file__).resolve().parents[1]
OVERRIDES = ROOT / "tools" / "jupyterlab-overrides.json"


# ------------------------------------------------------------------ the setup cell

def test_colab_installs_the_course_release():
    with open(ROOT / "pyproject.toml", "rb") as handle:
        release = tomllib.load(handle)["tool"]["course"]["release"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+|[0-9a-f]{40}", release), f"release {release!r} is neither a vX.Y.Z tag nor a commit"
    spec = nbbuild.colab_install_spec()
    assert spec == f"git+{nbbuild.repo_url()}@{release}"
    for src in sorted((ROOT / "notebooks" / "src").glob("*.py")):
        cells = nbbuild.parse(src.read_text(), src.stem + ".ipynb")
        setup = next(c.source for c in cells if c.cell_type == "code")
        assert f'"{spec}"' in setup, f"{src.name}: the setup cell does not install {spec}"
        assert "{{" not in setup


def test_setup_cell_without_course_utils_says_what_to_run():
    """Outside Colab, a kernel without course_utils gets told what to run, not a bare ModuleNotFoundError."""
    cell = nbbuild._fill("{{COLAB_SETUP}}", "00_setup_check.ipynb")
    script = textwrap.dedent("""
        import sys
        sys.modules["course_utils"] = None  # as if it were not installed
        try:
            exec(sys.argv[1], {})
        except ModuleNotFoundError as error:
            print("ERROR", error)
    """)
    done = subprocess.run([sys.executable, "-c", script, cell], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    message = done.stdout.split("ERROR", 1)[-1]
    assert "ERROR" in done.stdout and "make lab" in message and "pip install -e ." in message, done.stdout


# ------------------------------------------------------------------ JupyterLab without first-run prompts

def test_lab_overrides_are_valid_settings():
    """Every setting in the overrides exists in the installed JupyterLab and has an allowed value."""
    import jsonschema
    from jupyterlab import commands

    schemas = Path(commands.get_app_dir()) / "schemas"
    for plugin, values in json.loads(OVERRIDES.read_text()).items():
        package, name = plugin.rsplit(":", 1)
        schema_file = schemas / package / f"{name}.json"
        assert schema_file.is_file(), f"{plugin}: no such JupyterLab settings schema"
        properties = json.loads(schema_file.read_text())["properties"]
        for key, value in values.items():
            assert key in properties, f"{plugin}: no setting {key!r}"
            jsonschema.validate(value, properties[key])
    makefile = (ROOT / "Makefile").read_text()
    assert "tools/jupyterlab-overrides.json $(LAB_SETTINGS)" in makefile  # `make env` installs them


def test_jupyterlab_reads_the_overrides(tmp_path):
    """A real `jupyter lab` given the overrides (where `make env` puts them: its app settings dir)
    serves the news and update checks switched off."""
    settings = tmp_path / "app-settings"
    settings.mkdir()
    (settings / "overrides.json").write_text(OVERRIDES.read_text())
    token, port = uuid.uuid4().hex, free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "user-settings"))
    log = open(tmp_path / "lab.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
         "--ServerApp.allow_root=True", f"--LabApp.app_settings_dir={settings}"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get(path: str) -> dict:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"token {token}"})
        with opener.open(request, timeout=30) as response:
            return json.loads(response.read())

    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                get("/api/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"jupyter lab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.2)
        schema = get("/lab/api/settings/@jupyterlab/apputils-extension:notification")["schema"]["properties"]
        assert schema["fetchNews"]["default"] == "false" and schema["checkForUpdates"]["default"] is False
    finally:
        stop_process(proc, log)


# ------------------------------------------------------------------ CPU-only torch, Binder

def test_cpu_only_torch_paths_are_declared():
    env = (ROOT / "environment.yml").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in env  # Binder and conda: CPU wheels
    makefile = (ROOT / "Makefile").read_text()
    assert "TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu" in makefile
    readme = (ROOT / "README.md").read_text()
    assert "make env TORCH=cpu" in readme and "mybinder.org/v2/gh/" in readme


def test_make_env_torch_cpu_asks_for_the_cpu_wheels():
    """`make -n` shows the commands: torch and torchvision at the pinned versions, +cpu, from the CPU index."""
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    done = subprocess.run(["make", "-n", "-B", "env", "TORCH=cpu", "VENV=/nonexistent-venv"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (f'--index-url https://download.pytorch.org/whl/cpu "torch=={pins["torch"]}+cpu" '
            f'"torchvision=={pins["torchvision"]}+cpu"') in done.stdout
    refused = subprocess.run(["make", "-n", "env", "TORCH=cuda"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "TORCH=cpu" in refused.stderr
