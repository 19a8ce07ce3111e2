"""Shared fixtures: where the real data is (if anywhere) and an isolated environment."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- in CI, a skip is a failure
#
# A test skips when what it needs is missing: the data mirror, Chromium/Playwright, timm, the
# checkpoint. On a laptop that is fine (the skip is reported: `make test` runs pytest with -rs).
# In CI (`COURSE_CI=1`, set by .ci/run for its `make test`) everything must be there, so a skip
# fails the test, naming the reason. A test whose skip has nothing to do with a missing
# dependency (e.g. a platform without /proc) carries ``@pytest.mark.ci_may_skip(reason=...)``;
# nbval's ``# NBVAL_SKIP`` cells are deliberate and stay skips.

def ci_mode() -> bool:
    """True under CI: ``COURSE_CI`` is 1/true/yes/on."""
    return os.environ.get("COURSE_CI", "").strip().lower() in {"1", "true", "yes", "on"}


def _skip_reason(longrepr) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: reason")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _ci_failure(reason: str) -> str:
    return (f"skipped in CI (COURSE_CI=1), where every dependency must be present: {reason}. Fix the CI "
            f"environment (.ci/run), or, only if this skip is not about a missing dependency, mark the test "
            f"@pytest.mark.ci_may_skip(reason=...)")


def pytest_configure(config):
    config.addinivalue_line("markers", "ci_may_skip(reason): this test may skip in CI too (COURSE_CI=1); "
                                       "for skips that are not about a missing dependency, with the reason")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and ci_mode()) or hasattr(report, "wasxfail"):
        return
    if item.get_closest_marker("ci_may_skip") is not None or getattr(item, "options", {}).get("skip"):
        return  # allowed: a reason other than a missing dependency, or an nbval NBVAL_SKIP cell
    report.outcome = "failed"
    report.longrepr = _ci_failure(_skip_reason(report.longrepr))


class SkippedModuleInCI(pytest.Item):
    """Stands in for a test module skipped as a whole (``pytest.importorskip`` at module level) in CI:
    one failing test, so the rest of the run goes on and the failure names the reason."""

    def __init__(self, *, reason: str, **kwargs):
        super().__init__(**kwargs)
        self.reason = reason

    def runtest(self):
        raise pytest.fail.Exception(_ci_failure(self.reason), pytrace=False)

    def reportinfo(self):
        return self.path, None, f"{self.name}: the whole module was skipped"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and ci_mode() and isinstance(collector, pytest.Module):
        from _pytest.reports import CollectReport

        item = SkippedModuleInCI.from_parent(collector, name="module_skipped_in_ci",
                                             reason=_skip_reason(report.longrepr))
        outcome.force_result(CollectReport(report.nodeid, "passed", None, [item]))


def real_data_dir() -> Path | None:
    """The offline mirror named by COURSE_DATA_DIR, when it holds both npz files."""
    env = os.environ.get("COURSE_DATA_DIR")
    if not env:
        return None
    path = Path(env)
    if not path.is_absolute():
        path = (ROOT / path) if not path.exists() else path
    if (path / "cifar10.npz").is_file() and (path / "mnist.npz").is_file():
        return path.resolve()
    return None


@pytest.fixture
def mirror() -> Path:
    """The real offline mirror, or skip (it is there in CI: .ci/run sets COURSE_DATA_DIR)."""
    path = real_data_dir()
    if path is None:
        pytest.skip("real data not available: set COURSE_DATA_DIR to the npz mirror to run this test")
    return path


@pytest.fixture
def no_data(tmp_path, monkeypatch) -> Path:
    """An empty data folder, no COURSE_DATA_DIR, downloads off: nothing can be found."""
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    from course_utils import data

    monkeypatch.setattr(data, "default_data_dir", lambda: tmp_path / "data")
    return tmp_path / "data"


def train_steps(model, inputs, targets, steps: int, lr: float) -> list[float]:
    """Train on one fixed batch for ``steps`` AdamW steps; return the losses (to test that a model can learn)."""
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(inputs), targets)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return losses


# ----------------------------------------------------------------------------- servers and a browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
"""Headless Chromium on a machine with no outside network: no background connections, no sync."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, log=None) -> None:
    """Terminate a server started by a test (kill it if it does not stop in 10 s), and close its log."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if log is not None:
        log.close()


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, headless, driven by Playwright; skips (a failure in CI) where either is missing."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
