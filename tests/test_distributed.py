"""Past one process: the course ViT trained by torchrun in 2 CPU processes (gloo) matches one
process with the same global batch, and a killed 2-process run resumes to the same bits."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import free_port

from course_utils import train

ARGS = ["vit-cifar10", "--tiny", "--per-class", "40", "--epochs", "3", "--batch-size", "32", "--precision", "fp32"]
TOLERANCE = 1e-4
"""Relative difference allowed between the 1- and 2-process runs (each loss; the weights as one
vector): the data and the arithmetic are the same, only the order of floating-point sums differs."""


def _env(tmp_path):
    env = dict(os.environ, COURSE_SMOKE="1", COURSE_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env.pop("COURSE_DATA_DIR", None)  # the synthetic stand-in: the test needs no data
    return env


def _command(out, processes):
    if processes == 1:
        return [sys.executable, "-m", "course_utils.recipes", *ARGS, "--out", str(out)]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(processes), "--master-addr",
            "127.0.0.1", "--master-port", str(free_port()), "-m", "course_utils.recipes", *ARGS, "--out", str(out)]


def _run(out, processes, tmp_path):
    run = subprocess.run(_command(out, processes), env=_env(tmp_path), capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return train.load_checkpoint(out)


def _same_weights(a, b, exact):
    if exact:
        for (name, p), q in zip(a["model"].items(), b["model"].values()):
            assert torch.equal(p, q), f"{name} differs"
        return
    p = torch.cat([t.flatten() for t in a["model"].values()])
    q = torch.cat([t.flatten() for t in b["model"].values()])
    relative = ((p - q).norm() / p.norm()).item()
    assert relative < TOLERANCE, f"the weights differ by {relative:.2e} (relative, whole model)"


@pytest.mark.filterwarnings("ignore:smoke mode")
def test_two_processes_match_one_and_resume_exactly_after_a_kill(tmp_path):
    one = _run(tmp_path / "one.pt", 1, tmp_path)
    two = _run(tmp_path / "two.pt", 2, tmp_path)
    h1, h2 = one["meta"]["history"], two["meta"]["history"]
    assert h1["epoch"] == h2["epoch"] == [1, 2, 3]
    assert h2["train_loss"] == pytest.approx(h1["train_loss"], rel=TOLERANCE)
    assert h2["val_loss"] == pytest.approx(h1["val_loss"], rel=TOLERANCE)
    assert two["meta"]["test_acc"] == pytest.approx(one["meta"]["test_acc"], abs=0.011)  # at most one image flips
    _same_weights(one, two, exact=False)

    # kill the 2-process run (SIGKILL, the whole process group) once its first checkpoint exists ...
    out = tmp_path / "killed.pt"
    run_file = out.with_name(out.name + ".run.pt")
    proc = subprocess.Popen(_command(out, 2), env=_env(tmp_path), cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not run_file.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_when_killed = train.load_checkpoint(run_file)["next_epoch"]
    assert 1 <= done_when_killed < 3 and not out.exists(), "the run was not killed in the middle"
    # ... then run the same command again: it resumes and ends with the uninterrupted run's weights
    resumed = _run(out, 2, tmp_path)
    assert resumed["meta"]["history"]["train_loss"] == h2["train_loss"]
    _same_weights(resumed, two, exact=True)
