import numpy as np
import pytest
import torch

from course_utils import data


def write_npz(path, n=20, shape=(32, 32, 3), **override):
    arrays = dict(x_train=np.zeros((n, *shape), np.uint8), y_train=np.arange(n, dtype=np.uint8) % 10,
                  x_test=np.zeros((n // 2, *shape), np.uint8), y_test=np.arange(n // 2, dtype=np.uint8) % 10)
    arrays.update(override)
    np.savez(path, **arrays)
    return path


# ------------------------------------------------------------------ the real data

def test_real_cifar10_counts(mirror):
    train = data.load_cifar10("train", data_dir=mirror)
    test = data.load_cifar10("test", data_dir=mirror)
    assert (len(train), len(test)) == (50_000, 10_000)
    assert train.class_counts() == [5000] * 10 and test.class_counts() == [1000] * 10
    assert train.images.shape[1:] == (3, 32, 32) and train.images.dtype == torch.uint8
    assert "npz mirror" in train.source


def test_real_mnist_counts_and_statistics(mirror):
    train = data.load_mnist("train", data_dir=mirror)
    assert len(train) == 60_000 and len(data.load_mnist("test", data_dir=mirror)) == 10_000
    assert train.class_counts() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    pixels = train.images.float() / 255
    assert pixels.mean().item() == pytest.approx(0.1307, abs=1e-4)
    assert pixels.std().item() == pytest.approx(0.3081, abs=1e-4)


def test_env_var_is_searched(mirror, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(mirror))
    ds = data.load_mnist("test", per_class=3)
    assert len(ds) == 30 and ds.class_counts() == [3] * 10


# ------------------------------------------------------------------ search order and errors

def test_missing_data_names_every_place(no_data, monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "0")
    with pytest.raises(data.DataNotFoundError) as info:
        data.load_cifar10("train")
    message = str(info.value)
    assert str(no_data / "cifar10.npz") in message and str(no_data / "cifar-10-batches-py") in message
    assert "COURSE_DATA_DIR" in message and "COURSE_OFFLINE=1" in message


def test_smoke_mode_falls_back_loudly(no_data, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    with pytest.warns(UserWarning, match="synthetic cifar10 stand-in"):
        ds = data.load_cifar10("test")
    assert "SYNTHETIC" in capsys.readouterr().err and "SYNTHETIC" in ds.source
    assert ds.images.shape[1:] == (3, 32, 32) and ds.class_counts() == [data.SYNTHETIC_PER_CLASS] * 10


def test_npz_mirror_is_read(tmp_path):
    write_npz(tmp_path / "cifar10.npz")
    ds = data.load_cifar10("test", data_dir=tmp_path, download=False)
    assert len(ds) == 10 and ds.images.shape == (10, 3, 32, 32)


def test_truncated_npz_is_reported(tmp_path):
    path = write_npz(tmp_path / "cifar10.npz")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(data.DataFormatError, match="truncated or corrupt"):
        data.load_cifar10("train", data_dir=tmp_path, download=False)


def test_npz_with_wrong_arrays(tmp_path):
    write_npz(tmp_path / "mnist.npz", shape=(28, 28), x_test=np.zeros((10, 28, 28), np.float32))
    with pytest.raises(data.DataFormatError, match="x_test is float32"):
        data.load_mnist("test", data_dir=tmp_path, download=False)
    np.savez(tmp_path / "cifar10.npz", x_train=np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(data.DataFormatError, match=r"no array\(s\) \['y_train'\]"):
        data.load_cifar10("train", data_dir=tmp_path, download=False)
    write_npz(tmp_path / "cifar10.npz", y_test=np.full(10, 12, np.uint8))
    with pytest.raises(data.DataFormatError, match="labels range 12..12"):
        data.load_cifar10("test", data_dir=tmp_path, download=False)


def test_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="split 'validation' is not one of"):
        data.load_cifar10("validation", data_dir=tmp_path)


# ------------------------------------------------------------------ subsets, loaders

def test_stratified_subsets_are_deterministic_and_balanced():
    targets = torch.arange(1000) % 10
    a = data.stratified_indices(targets, 7, seed=1)
    assert torch.equal(a, data.stratified_indices(targets, 7, seed=1))
    assert not torch.equal(a, data.stratified_indices(targets, 7, seed=2))
    assert torch.bincount(targets[a]).tolist() == [7] * 10
    with pytest.raises(ValueError, match="per_class 101 is more than the 100"):
        data.stratified_indices(targets, 101)


def test_train_val_split_is_disjoint(tmp_path):
    write_npz(tmp_path / "cifar10.npz", n=100)
    full = data.load_cifar10("train", data_dir=tmp_path)
    full.images[:] = torch.arange(100, dtype=torch.uint8).view(-1, 1, 1, 1)  # tag each image
    train, val = data.train_val_split(full, val_per_class=2)
    assert len(train) == 80 and len(val) == 20 and val.class_counts() == [2] * 10
    seen = set(train.images[:, 0, 0, 0].tolist()) | set(val.images[:, 0, 0, 0].tolist())
    assert seen == set(range(100))


def test_loader_batches_normalise_and_repeat(tmp_path):
    write_npz(tmp_path / "cifar10.npz", n=50)
    ds = data.load_cifar10("train", data_dir=tmp_path)
    loader = data.make_loader(ds, batch_size=16, train=True, seed=3)
    batches = list(loader)
    assert len(loader) == 4 and [len(y) for _, y in batches] == [16, 16, 16, 2]
    again = list(data.make_loader(ds, batch_size=16, train=True, seed=3))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, again))
    x = data.make_loader(ds, batch_size=50)
    x = next(iter(x))[0]
    expected = (0 - torch.tensor(data.CIFAR10_MEAN)) / torch.tensor(data.CIFAR10_STD)
    assert torch.allclose(x[0, :, 0, 0], expected)
    with pytest.raises(ValueError, match="augment 'mixup' is not one of"):
        data.BatchLoader(ds, 8, augment="mixup")


def test_crop_flip_matches_definition():
    images = torch.arange(2 * 1 * 4 * 4, dtype=torch.uint8).view(2, 1, 4, 4)
    out = data.random_crop_flip(images, padding=1, flip=False, generator=torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(images, (1, 1, 1, 1))
    for i in range(2):  # every output is some 4x4 window of the padded image
        windows = padded[i, 0].unfold(0, 4, 1).unfold(1, 4, 1).reshape(-1, 4, 4)
        assert any(torch.equal(out[i, 0], w) for w in windows)


def test_dataset_item_matches_torchvision_transform(tmp_path):
    g = np.random.default_rng(0)
    write_npz(tmp_path / "cifar10.npz", x_test=g.integers(0, 255, (10, 32, 32, 3), dtype=np.uint8))
    ds = data.load_cifar10("test", data_dir=tmp_path)
    image, label = ds[3]
    assert torch.allclose(image, data.torch_transform("cifar10")(ds.images[3]), atol=1e-6)
    assert label == 3
