import pytest
import torch

from course_utils import config


@pytest.mark.parametrize("raw, expected", [("1", True), ("true", True), ("", False), ("0", False), ("off", False)])
def test_smoke_mode_reads_the_variable(monkeypatch, raw, expected):
    monkeypatch.setenv("COURSE_SMOKE", raw)
    assert config.smoke_mode() is expected
    assert config.pick("lecture", "smoke") == ("smoke" if expected else "lecture")


def test_smoke_mode_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "maybe")
    with pytest.raises(ValueError, match="COURSE_SMOKE='maybe'"):
        config.smoke_mode()


def test_seed_everything_repeats_random_numbers():
    config.seed_everything(123)
    a = torch.randn(5)
    config.seed_everything(123)
    assert torch.equal(a, torch.randn(5))
    with pytest.raises(ValueError, match="seed -1"):
        config.seed_everything(-1)


def test_get_device(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(config, "_mps_available", lambda: False)
    assert config.get_device() == torch.device("cpu")  # a laptop without a GPU
    monkeypatch.setattr(config, "_mps_available", lambda: True)
    assert config.get_device() == torch.device("mps")  # a Mac
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.get_device() == torch.device("cuda")  # CUDA first
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert config.get_device() == torch.device("cpu")  # the variable overrides the choice
    monkeypatch.setenv("COURSE_DEVICE", " CUDA:1 ")
    assert config.get_device() == torch.device("cuda", 1)
    assert config.get_device("cpu") == torch.device("cpu")  # the argument overrides the variable
    monkeypatch.undo()
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            config.get_device("cuda")
        monkeypatch.setenv("COURSE_DEVICE", "cuda")
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            config.get_device()
        monkeypatch.delenv("COURSE_DEVICE")
    with pytest.raises(ValueError, match="'tpu9' is not a torch device"):
        config.get_device("tpu9")


def test_get_device_here():
    """What this machine has, said independently of get_device's own checks."""
    if torch.cuda.is_available():
        expected = torch.device("cuda")
    elif torch.backends.mps.is_available():
        expected = torch.device("mps")
    else:
        expected = torch.device("cpu")
    import os

    if not os.environ.get("COURSE_DEVICE"):
        assert config.get_device() == expected


def test_summary_is_one_line(monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    line = config.summary(torch.device("cpu"))
    assert "\n" not in line and "torch" in line and "device cpu" in line and "SMOKE" in line


def test_fast_precision():
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert config.fast_precision("cpu") == ("bf16" if native else "fp32")
    assert config.fast_precision("meta") == "fp32"
    assert config.fast_precision("mps") == "fp32"
    if torch.cuda.is_available():
        assert config.fast_precision("cuda") == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")


def test_fast_precision_follows_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert config.fast_precision("cpu") == "fp32"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert config.fast_precision("cpu") == "bf16"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert config.fast_precision("cpu") == "bf16"
