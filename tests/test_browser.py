"""A real browser: JupyterLab served locally, every notebook opened in headless Chromium,
one notebook run and its widget driven. Screenshots land in test-artifacts/browser/.

Skipped, with the reason, where Chromium or Playwright is missing (`.ci/run` installs both).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import CHROMIUM, free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
TOKEN = "course-browser-test"
WIDGET_NOTEBOOK = "03_positional_encodings.ipynb"

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)"),
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip install playwright)"),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free loopback port, serving a copy of notebooks/ (so autosave never touches the repo)."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns("src"))
    settings = root / "lab-settings"  # our own user settings: every cell in the DOM, no news pop-up
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port = free_port()
    env = dict(os.environ, COURSE_SMOKE="1", JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTER_CONFIG_DIR=str(root / "config"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root / 'notebooks'}",
         "--LabApp.news_url=", "--ServerApp.open_browser=False", "--allow-root"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env, cwd=root)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"JupyterLab did not answer on port {port} within 90 s")
            time.sleep(0.5)
    yield base
    stop_process(proc)


@pytest.fixture(scope="module")
def browser(chromium):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return chromium


def open_notebook(browser, base: str, name: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    # ?reset: a fresh workspace, so notebooks opened by earlier tests are not restored beside this one
    page.goto(f"{base}/lab/tree/{name}?token={TOKEN}&reset", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    return page


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")))
def test_every_notebook_opens(lab, browser, name):
    page = open_notebook(browser, lab, name)
    expected = len(nbformat.read(ROOT / "notebooks" / name, as_version=4).cells)
    page.wait_for_function(f"document.querySelectorAll('.jp-NotebookPanel .jp-Cell').length >= {expected}", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / f"open_{Path(name).stem}.png"))
    assert page.locator(".jp-NotebookPanel .jp-Cell").count() == expected
    assert page.locator(".jp-Dialog").count() == 0, f"{name}: JupyterLab showed a dialog (an error?)"
    page.close()


def test_widget_renders_and_responds(lab, browser):
    page = open_notebook(browser, lab, WIDGET_NOTEBOOK)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator, .jp-KernelStatus", timeout=60_000)
    page.locator(".jp-NotebookPanel .jp-Cell").first.click()
    page.keyboard.press("Control+Shift+C")  # the command palette
    page.keyboard.type("Run All Cells")
    page.keyboard.press("Enter")
    dropdown = page.locator(".widget-dropdown select").first
    dropdown.wait_for(timeout=180_000)
    dropdown.scroll_into_view_if_needed()
    image = page.locator(".widget-output img").first
    image.wait_for(timeout=60_000)
    before = image.get_attribute("src")
    page.screenshot(path=str(ARTIFACTS / "widget_before.png"))
    dropdown.select_option(label="2D sum (notes)")
    page.wait_for_function(
        "before => { const img = document.querySelector('.widget-output img'); return img && img.src !== before; }",
        arg=before, timeout=60_000)
    page.locator(".widget-slider, .widget-hslider").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "widget_after.png"))
    assert image.get_attribute("src") != before
    page.close()
