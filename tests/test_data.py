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


# ------------------------------------------------------------------ crop + flip: left-right only, never MNIST

def distinct_image(n=6, c=3, h=8, w=8):
    """Every pixel of every image a different value (so any mirroring or shift is visible)."""
    return (torch.arange(n * c * h * w) % 251).to(torch.uint8).view(n, c, h, w)


def test_apply_crop_flip_mirrors_left_right_only():
    images = distinct_image()
    centre = torch.full((6,), 4)  # offset = padding: no shift
    flip = torch.tensor([True, False, True, False, True, False])
    out = data.apply_crop_flip(images, centre, centre, flip, padding=4)
    assert torch.equal(out[~flip], images[~flip])
    assert torch.equal(out[flip], images[flip].flip(-1))  # columns reversed, rows kept
    assert not torch.equal(out[flip], images[flip].flip(-2))
    # a shift: offset (oy, ox) = (padding + 1, padding − 2) reads rows 1.. and columns −2.. of the image
    shifted = data.apply_crop_flip(images[:1], torch.tensor([5]), torch.tensor([2]), torch.tensor([False]), padding=4)
    assert torch.equal(shifted[0, :, :7, 2:], images[0, :, 1:, :6])
    assert shifted[0, :, 7, :].eq(0).all() and shifted[0, :, :, :2].eq(0).all()


def test_random_crop_flip_without_padding_is_identity_or_a_left_right_mirror():
    images = distinct_image(n=64)
    out = data.random_crop_flip(images, padding=0, generator=torch.Generator().manual_seed(0))
    same = [torch.equal(o, i) for o, i in zip(out, images)]
    mirrored = [torch.equal(o, i.flip(-1)) for o, i in zip(out, images)]
    assert all(s or m for s, m in zip(same, mirrored))
    assert 16 < sum(mirrored) < 48  # about half are flipped
    assert not any(torch.equal(o, i.flip(-2)) for o, i in zip(out, images))  # never upside down


def loader_batches(name, augment="crop_flip", n=200, seed=0):
    c = 1 if name == "mnist" else 3
    images = (torch.arange(n * c * 8 * 8) % 251).to(torch.uint8).view(n, c, 8, 8)
    ds = data.ImageDataset(images, torch.arange(n) % 10, classes=[str(i) for i in range(10)], mean=(0.0,) * c,
                           std=(1 / 255,) * c, name=name, source="test")  # normalised x = the uint8 value
    return images, list(data.BatchLoader(ds, 50, augment=augment, seed=seed))  # not shuffled: batch order = index


def crop_windows(image, padding):
    """Every crop of the zero-padded image (no flip), as a tensor (K, C, H, W)."""
    c, h, w = image.shape
    padded = torch.nn.functional.pad(image, (padding,) * 4)
    return torch.stack([padded[:, y:y + h, x:x + w] for y in range(2 * padding + 1) for x in range(2 * padding + 1)])


def classify(batch_images, originals, padding):
    """For each augmented image: 'crop' (a shifted window), 'flip' (a shifted window of the mirror) or '?'."""
    kinds = []
    for out, image in zip(batch_images, originals):
        out = out.round().to(torch.uint8)
        if any(torch.equal(out, w) for w in crop_windows(image, padding)):
            kinds.append("crop")
        elif any(torch.equal(out, w) for w in crop_windows(image.flip(-1), padding)):
            kinds.append("flip")
        else:
            kinds.append("?")
    return kinds


def test_cifar_loader_crops_and_flips_left_right():
    images, batches = loader_batches("cifar10")
    x = torch.cat([b[0] for b in batches])
    kinds = classify(x, images, padding=4)
    # every image is a padded crop of itself or of its left-right mirror (an up-down mirror is neither)
    assert "?" not in kinds
    assert 60 < kinds.count("flip") < 140


def test_mnist_loader_is_never_mirrored():
    images, batches = loader_batches("mnist")
    x = torch.cat([b[0] for b in batches])
    kinds = classify(x, images, padding=2)
    assert kinds == ["crop"] * len(images)  # shifted by at most 2 pixels, never flipped
    assert not torch.equal(x.round().to(torch.uint8), images)  # but augmented: some are shifted
    assert classify(x[:20], images[:20], padding=1).count("?") > 0  # and the padding is 2, not 1
