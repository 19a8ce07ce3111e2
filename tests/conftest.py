"""Shared fixtures: where the real data is (if anywhere) and an isolated environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
