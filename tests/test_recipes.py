import hashlib
import subprocess
import sys

import pytest
import torch

from course_utils import recipes, train, vit

TINY = dict(recipes.DEFAULT_RECIPE, model=dict(recipes.DEFAULT_RECIPE["model"], embed_dim=16, depth=1, num_heads=2,
                                                 mlp_dim=32, patch_size=8), batch_size=32, augment="crop_flip",
            warmup_epochs=1, precision="fp32")


@pytest.fixture
def synthetic(monkeypatch, tmp_path):
    """No real data: smoke mode's synthetic CIFAR-10."""
    monkeypatch.setenv("COURSE_SMOKE", "1")
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    from course_utils import data

    monkeypatch.setattr(data, "default_data_dir", lambda: tmp_path / "nodata")


@pytest.mark.filterwarnings("ignore:smoke mode")
def test_train_resume_and_load_pretrained(synthetic, tmp_path):
    out = tmp_path / "vit.pt"
    first = recipes.vit_cifar10(out, epochs=3, minutes=None, recipe=dict(TINY), progress=False, per_class=20)
    assert first["epochs_done"] == 3 and first["complete"]
    model, meta = vit.load_pretrained(out)
    assert not model.training and meta["config"]["embed_dim"] == 16 and meta["test_acc"] == first["test_acc"]
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    again = recipes.vit_cifar10(out, epochs=3, minutes=None, recipe=dict(TINY), progress=False, per_class=20)
    assert again["history"] == first["history"]  # resumed a finished run: nothing trained twice


@pytest.mark.filterwarnings("ignore:smoke mode")
def test_resume_refuses_another_recipe(synthetic, tmp_path):
    out = tmp_path / "vit.pt"
    recipes.vit_cifar10(out, epochs=1, minutes=None, recipe=dict(TINY), progress=False, per_class=20)
    with pytest.raises(ValueError, match=r"augment: 'crop_flip' → 'strong'"):
        recipes.vit_cifar10(out, epochs=1, minutes=None, recipe=dict(TINY, augment="strong"), progress=False,
                            per_class=20)
    with pytest.raises(ValueError, match=r"per_class: 20 → 30"):
        recipes.vit_cifar10(out, epochs=1, minutes=None, recipe=dict(TINY), progress=False, per_class=30)
    with pytest.raises(ValueError, match=r"epochs: 1 → 2"):
        recipes.vit_cifar10(out, epochs=2, minutes=None, recipe=dict(TINY), progress=False, per_class=20)


@pytest.mark.filterwarnings("ignore:smoke mode")
def test_minutes_stop_then_plain_rerun_finishes_the_schedule(synthetic, tmp_path, monkeypatch):
    """Defect: a --minutes stop left ``stopped_early`` set; each rerun trained one epoch and the
    learning rate never reached the end of its schedule."""
    whole = recipes.vit_cifar10(tmp_path / "whole.pt", epochs=3, minutes=None, recipe=dict(TINY), progress=False,
                                per_class=20)
    clock = iter(range(0, 10**6, 10))  # each look at the clock: 10 s later, so 0.2 minutes = two steps
    monkeypatch.setattr(train.time, "perf_counter", lambda: float(next(clock)))
    out = tmp_path / "cut.pt"
    cut = recipes.vit_cifar10(out, epochs=3, minutes=0.2, recipe=dict(TINY), progress=False, per_class=20)
    assert not cut["complete"] and 0 < cut["epochs_done"] < 1
    monkeypatch.undo()
    synthetic_env(monkeypatch, tmp_path)
    done = recipes.vit_cifar10(out, epochs=3, minutes=None, recipe=dict(TINY), progress=False, per_class=20)
    assert done["complete"] and done["epochs_done"] == 3 and done["history"]["epoch"] == [1, 2, 3]
    assert done["history"]["lr"][-1] == 0.0  # the cosine ran to its end
    assert done["history"]["train_loss"] == whole["history"]["train_loss"]
    a, _ = vit.load_pretrained(out)
    b, _ = vit.load_pretrained(tmp_path / "whole.pt")
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def synthetic_env(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    from course_utils import data

    monkeypatch.setattr(data, "default_data_dir", lambda: tmp_path / "nodata")


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.filterwarnings("ignore:smoke mode")
def test_default_command_never_touches_the_shipped_checkpoint(synthetic, tmp_path, monkeypatch, capsys):
    shipped = vit.DEFAULT_CHECKPOINT
    before = _sha(shipped)
    assert recipes.DEFAULT_OUT.resolve() != shipped.resolve()
    monkeypatch.setattr(recipes, "DEFAULT_OUT", tmp_path / "runs" / "vit_cifar10.pt")
    assert recipes.main(["vit-cifar10", "--epochs", "1", "--per-class", "10", "--tiny"]) == 0
    assert (tmp_path / "runs" / "vit_cifar10.pt").is_file() and (tmp_path / "runs" / "vit_cifar10.pt.run.pt").is_file()
    # --publish with a quick, worse run: refused, the shipped model stays
    assert recipes.main(["vit-cifar10", "--epochs", "1", "--per-class", "10", "--tiny", "--publish",
                         "--out", str(tmp_path / "quick.pt")]) == 0
    assert "not published" in capsys.readouterr().out
    assert _sha(shipped) == before and not shipped.with_name(shipped.name + ".run.pt").exists()
    with pytest.raises(SystemExit):
        recipes.main(["vit-cifar10", "--out", str(shipped)])
    assert "is the shipped checkpoint" in capsys.readouterr().err


def test_publish_replaces_only_with_a_better_model(tmp_path, capsys):
    shipped, run = tmp_path / "shipped.pt", tmp_path / "run.pt"
    model = vit.ViT(embed_dim=16, depth=1, num_heads=2, mlp_dim=32, patch_size=8)
    vit.save_pretrained(model, shipped, {"test_acc": 0.70})
    meta = {"test_acc": 0.65, "complete": True, "per_class": None}
    vit.save_pretrained(model, run, meta)
    assert not recipes.publish(meta, run, shipped) and vit.load_pretrained(shipped)[1]["test_acc"] == 0.70
    meta = {"test_acc": 0.80, "complete": False, "per_class": None}
    assert not recipes.publish(meta, run, shipped)
    meta = {"test_acc": 0.80, "complete": True, "per_class": None}
    vit.save_pretrained(model, run, meta)
    assert recipes.publish(meta, run, shipped) and vit.load_pretrained(shipped)[1]["test_acc"] == 0.80


def test_load_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m course_utils.recipes vit-cifar10"):
        vit.load_pretrained(tmp_path / "missing.pt")
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="no 'config' entry"):
        vit.load_pretrained(tmp_path / "other.pt")


def test_command_line_rejects_bad_values():
    run = subprocess.run([sys.executable, "-m", "course_utils.recipes", "vit-cifar10", "--epochs", "0"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "--epochs 0 must be at least 1" in run.stderr


def test_nothing_in_the_package_imports_the_command_line():
    """Defect: ``python -m course_utils.train`` imported recipes → vit → train: train.py twice."""
    import ast
    from pathlib import Path

    package = Path(recipes.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 for alias in node.names} | {node.module or "" for node in ast.walk(tree)
                                             if isinstance(node, ast.ImportFrom)}
        if path.name != "recipes.py":
            assert "recipes" not in names and ".recipes" not in names, f"{path.name} imports the command line"
    assert "__main__" not in (package / "train.py").read_text()
    run = subprocess.run([sys.executable, "-c", "import course_utils.train as t, sys; "
                          "import course_utils.recipes; print(sum('train' in m for m in sys.modules "
                          "if m.startswith('course_utils')))"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "1"


@pytest.mark.filterwarnings("ignore:smoke mode")
def test_cnn_teacher_recipe_trains_resumes_and_loads(synthetic, tmp_path):
    from course_utils import cnn

    out = tmp_path / "teacher.pt"
    args = ["cnn-teacher", "--tiny", "--per-class", "20", "--epochs", "2", "--precision", "fp32", "--out", str(out)]
    assert recipes.main(args) == 0
    model, meta = cnn.load_teacher(out)
    assert isinstance(model, cnn.FastCNN) and not model.training and meta["complete"]
    assert set(meta) >= {"test_acc", "test_acc_no_tta", "params", "history", "recipe"}
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="epochs: 2 → 3"):  # the run file belongs to a 2-epoch run
        recipes.main(args[:-5] + ["3", "--precision", "fp32", "--out", str(out)])
    with pytest.raises(SystemExit):
        recipes.main(["cnn-teacher", "--out", str(cnn.DEFAULT_TEACHER)])
