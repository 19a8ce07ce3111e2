import subprocess
import sys

import pytest
import torch

from course_utils import recipes, vit

TINY = dict(recipes.DEFAULT_RECIPE, model=dict(recipes.DEFAULT_RECIPE["model"], embed_dim=16, depth=1, num_heads=2,
                                                 mlp_dim=32, patch_size=8), batch_size=32, augment="crop_flip",
            warmup_epochs=1)


@pytest.fixture
def synthetic(monkeypatch, tmp_path):
    """No real data: smoke mode's synthetic CIFAR-10 (20 images per class)."""
    monkeypatch.setenv("COURSE_SMOKE", "1")
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    from course_utils import data

    monkeypatch.setattr(data, "default_data_dir", lambda: tmp_path / "nodata")


@pytest.mark.filterwarnings("ignore:smoke mode")
def test_train_resume_and_load_pretrained(synthetic, tmp_path):
    out = tmp_path / "vit.pt"
    first = recipes.vit_cifar10(out, epochs=3, minutes=None, recipe=dict(TINY), progress=False)
    assert first["epochs_done"] == 3
    model, meta = vit.load_pretrained(out)
    assert not model.training and meta["config"]["embed_dim"] == 16 and 0 <= meta["test_acc"] <= 1
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    again = recipes.vit_cifar10(out, epochs=4, minutes=None, recipe=dict(TINY), progress=False)  # resumes
    assert again["epochs_done"] == 4 and again["history"]["train_loss"][:3] == first["history"]["train_loss"]


def test_load_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m course_utils.train vit-cifar10"):
        vit.load_pretrained(tmp_path / "missing.pt")
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="no 'config' entry"):
        vit.load_pretrained(tmp_path / "other.pt")


def test_command_line_rejects_bad_values():
    run = subprocess.run([sys.executable, "-m", "course_utils.train", "vit-cifar10", "--epochs", "0"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "--epochs 0 must be at least 1" in run.stderr
