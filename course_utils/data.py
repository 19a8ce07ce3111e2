"""CIFAR-10 and MNIST: loaders, standard normalisations, batch augmentations, subsets.

Where a dataset is looked for, in order (the first that has it wins):

1. torchvision's own layout in a data folder (``cifar-10-batches-py/``, ``MNIST/raw/``);
2. an npz mirror in a data folder (``cifar10.npz`` / ``mnist.npz`` with uint8 arrays
   ``x_train, y_train, x_test, y_test``), for air-gapped labs and CI;
3. torchvision's download into the course's ``data/`` folder, when allowed;
4. in smoke mode only, a small synthetic stand-in, announced loudly.

The data folders are ``$COURSE_DATA_DIR`` (when set) and then the course's ``data/``.
Otherwise :class:`DataNotFoundError` lists every place it looked and how to fix it.

Images are kept as one uint8 tensor (N, C, H, W) in memory: both datasets fit easily,
and :func:`make_loader` cuts, augments and normalises whole batches at once, which is
several times faster on a laptop CPU than a per-image ``DataLoader`` pipeline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from . import config

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MNIST_CLASSES = tuple(str(d) for d in range(10))
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
SPLITS = ("train", "test")
AUGMENTS = ("none", "crop_flip", "strong")


class DataNotFoundError(FileNotFoundError):
    """No copy of a dataset was found and none could be downloaded."""


class DataFormatError(ValueError):
    """A dataset file exists but is corrupt, truncated or has the wrong arrays."""


@dataclass(frozen=True)
class _Spec:
    name: str  # "cifar10" or "mnist"
    npz: str
    torchvision_dir: str
    image_shape: tuple[int, ...]  # shape of one image as stored in the npz
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]


_SPECS = {
    "cifar10": _Spec("cifar10", "cifar10.npz", "cifar-10-batches-py", (32, 32, 3), CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD),
    "mnist": _Spec("mnist", "mnist.npz", "MNIST/raw", (28, 28), MNIST_CLASSES, MNIST_MEAN, MNIST_STD),
}


class ImageDataset(Dataset):
    """Images held in memory as uint8 (N, C, H, W) with int64 targets (N,).

    ``dataset[i]`` gives ``(image, label)``: ``transform(image_uint8)`` when a transform is
    set, else the image scaled to [0, 1] and normalised with the dataset's mean and std,
    a float tensor (C, H, W).
    """

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, *, classes: Sequence[str],
                 mean: Sequence[float], std: Sequence[float], name: str, source: str,
                 transform: Callable | None = None):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        if targets.shape != (images.shape[0],):
            raise ValueError(f"targets shape {tuple(targets.shape)} does not match {images.shape[0]} images")
        self.images, self.targets = images, targets.long()
        self.classes, self.mean, self.std = tuple(classes), tuple(mean), tuple(std)
        self.name, self.source, self.transform = name, source, transform

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int):
        image = self.images[index]
        if self.transform is not None:
            return self.transform(image), int(self.targets[index])
        return normalize(image.unsqueeze(0), self.mean, self.std)[0], int(self.targets[index])

    def subset(self, indices: Sequence[int] | torch.Tensor | np.ndarray) -> "ImageDataset":
        """A new dataset holding only ``indices`` (same classes, normalisation and source).

        ``indices``: integer positions (K,), or a boolean mask (N,) such as ``ds.targets == 3``.
        """
        idx = torch.as_tensor(indices)
        if idx.dtype == torch.bool:
            if idx.shape != (len(self),):
                raise ValueError(f"boolean mask of shape {tuple(idx.shape)} does not match the dataset: the rule "
                                 f"is one True/False per image, shape ({len(self)},)")
            idx = torch.nonzero(idx).flatten()
        elif idx.numel() == 0:
            idx = idx.long()
        elif idx.dtype.is_floating_point or idx.dtype.is_complex:
            raise ValueError(f"indices of dtype {idx.dtype} are not allowed: give integer positions or a "
                             f"boolean mask of shape ({len(self)},)")
        idx = idx.long().flatten()
        return ImageDataset(self.images[idx], self.targets[idx], classes=self.classes, mean=self.mean,
                            std=self.std, name=self.name, source=self.source, transform=self.transform)

    def class_counts(self) -> list[int]:
        """Number of images per class, in class order."""
        return torch.bincount(self.targets, minlength=len(self.classes)).tolist()

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.images.shape[1:])
        return f"ImageDataset({self.name}, {len(self)} images of {shape}, from {self.source})"


# ----------------------------------------------------------------------------- where data lives

def default_data_dir() -> Path:
    """The course's ``data/`` folder in a checkout; ``./data`` when installed elsewhere (Colab)."""
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").exists():
        return root / "data"
    return Path.cwd() / "data"


def data_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched, in order: ``data_dir`` if given, else ``$COURSE_DATA_DIR`` then the default."""
    if data_dir is not None:
        return [Path(data_dir)]
    dirs = []
    env = os.environ.get("COURSE_DATA_DIR", "").strip()
    if env:
        dirs.append(_resolve(Path(env).expanduser()))
    dirs.append(default_data_dir())
    return dirs


def _resolve(path: Path) -> Path:
    """A relative ``COURSE_DATA_DIR`` is read from the working directory, else from the course's root
    (a notebook's kernel runs in notebooks/, while the variable is usually set from the root)."""
    if path.is_absolute():
        return path
    if path.exists():
        return path.resolve()
    from_root = (default_data_dir().parent / path).resolve()
    return from_root if from_root.exists() else path


def _download_allowed(download: bool) -> bool:
    return download and os.environ.get("COURSE_OFFLINE", "").strip().lower() not in {"1", "true", "yes", "on"}


# ----------------------------------------------------------------------------- readers

def _from_torchvision(spec: _Spec, root: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    import torchvision

    cls = torchvision.datasets.CIFAR10 if spec.name == "cifar10" else torchvision.datasets.MNIST
    ds = cls(str(root), train=train, download=False)
    x = ds.data.numpy() if isinstance(ds.data, torch.Tensor) else np.asarray(ds.data)
    y = np.asarray(ds.targets)
    return x, y


def read_npz(path: str | os.PathLike, name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate one split of an npz mirror: uint8 images and labels in 0..9."""
    spec, path = _SPECS[name], Path(path)
    keys = (f"x_{split}", f"y_{split}")
    fix = (f"Check it against the mirror's SHA256SUMS, or write it again with "
           f"`python -m course_utils.data export {path.parent}`.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in keys if k not in archive.files]
            if missing:
                raise DataFormatError(f"{path} has no array(s) {missing} (it holds {sorted(archive.files)}). {fix}")
            x, y = archive[keys[0]], archive[keys[1]]
    except DataFormatError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise DataFormatError(f"{path} is not a readable npz archive ({type(exc).__name__}: {exc}); "
                              f"it may be truncated or corrupt. {fix}") from exc
    if x.dtype != np.uint8 or x.shape[1:] != spec.image_shape:
        raise DataFormatError(f"{path}: {keys[0]} is {x.dtype} {x.shape}; the rule is uint8 (N, "
                              f"{', '.join(map(str, spec.image_shape))}). {fix}")
    if x.shape[0] == 0:
        raise DataFormatError(f"{path}: {keys[0]} holds no images (shape {x.shape}); the rule is at least one "
                              f"image per split. {fix}")
    if y.shape != (x.shape[0],):
        raise DataFormatError(f"{path}: {keys[1]} has shape {y.shape} but there are {x.shape[0]} images. {fix}")
    if y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.integer):
        raise DataFormatError(f"{path}: {keys[1]} is {y.dtype}; the rule is integer class labels (e.g. uint8) "
                              f"in 0..{len(spec.classes) - 1}. {fix}")
    if y.min() < 0 or y.max() >= len(spec.classes):
        raise DataFormatError(f"{path}: labels range {y.min()}..{y.max()}, outside 0..{len(spec.classes) - 1}. {fix}")
    if y.min() == y.max():
        raise DataFormatError(f"{path}: every label in {keys[1]} is {y.min()}; the rule is a split holding "
                              f"several classes (a real split holds all {len(spec.classes)}). {fix}")
    return x, y


def _download(spec: _Spec, target: Path) -> None:
    """torchvision's download into a temporary folder, moved into ``target`` only when complete."""
    import torchvision

    target.mkdir(parents=True, exist_ok=True)
    cls = torchvision.datasets.CIFAR10 if spec.name == "cifar10" else torchvision.datasets.MNIST
    with tempfile.TemporaryDirectory(dir=target, prefix=f".download-{spec.name}-") as tmp:
        cls(tmp, train=True, download=True)
        cls(tmp, train=False, download=True)
        top = spec.torchvision_dir.split("/")[0]
        final = target / top
        if final.exists():
            shutil.rmtree(final)
        os.replace(Path(tmp) / top, final)


SYNTHETIC_PER_CLASS = 100
"""Images per class in each split of the smoke-mode stand-in: the most any notebook, test or recipe
asks for in smoke mode (``per_class=config.pick(None, 100)``); tests/test_newcomer.py checks it."""


def _synthetic(spec: _Spec, split: str, per_class: int = SYNTHETIC_PER_CLASS,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A small learnable stand-in: each class is a bright square at its own place, plus noise."""
    g = np.random.default_rng(seed + (split == "test"))
    h, w = spec.image_shape[:2]
    c = spec.image_shape[2] if len(spec.image_shape) == 3 else 1
    n = per_class * len(spec.classes)
    y = np.repeat(np.arange(len(spec.classes)), per_class).astype(np.uint8)
    x = g.integers(0, 60, size=(n, h, w, c)).astype(np.uint8)
    side = h // 4
    for i, label in enumerate(y):
        r, col = divmod(int(label), 4)
        r0, c0 = (r * side + g.integers(0, 3)) % (h - side), (col * side + g.integers(0, 3)) % (w - side)
        x[i, r0:r0 + side, c0:c0 + side, :] = 200 + label * 5
    if c == 1:
        x = x[..., 0]
    return x, y


def _locate(spec: _Spec, split: str, data_dir, download: bool,
            synthetic_ok: bool = True) -> tuple[np.ndarray, np.ndarray, str]:
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is not one of {SPLITS} (carve a validation set with train_val_split)")
    looked = []
    for root in data_dirs(data_dir):
        tv = root / spec.torchvision_dir
        looked.append(f"{tv}/ (torchvision's layout)")
        if tv.is_dir():
            try:
                x, y = _from_torchvision(spec, root, split == "train")
                return x, y, f"torchvision files in {root}"
            except RuntimeError as exc:
                raise DataFormatError(f"{tv} exists but torchvision cannot read it ({exc}); delete the folder "
                                      f"to download it again, or point COURSE_DATA_DIR at an npz mirror") from exc
        npz = root / spec.npz
        looked.append(f"{npz} (npz mirror)")
        if npz.is_file():
            x, y = read_npz(npz, spec.name, split)
            return x, y, f"npz mirror {npz}"
    if _download_allowed(download):
        target = data_dir if data_dir is not None else default_data_dir()
        looked.append(f"torchvision download into {target}")
        try:
            _download(spec, Path(target))
            x, y = _from_torchvision(spec, Path(target), split == "train")
            return x, y, f"torchvision download into {target}"
        except Exception as exc:  # no network, a proxy, a full disk: say so and go on
            looked[-1] += f" failed: {type(exc).__name__}: {str(exc)[:200]}"
    else:
        looked.append("torchvision download (not allowed: download=False or COURSE_OFFLINE=1)")
    if config.smoke_mode() and synthetic_ok:
        message = (f"\n{'!' * 78}\n!! SMOKE MODE: no real {spec.name} found, using a SYNTHETIC stand-in.\n"
                   f"!! Numbers below mean nothing. Looked in: " + "; ".join(looked) + f"\n{'!' * 78}")
        print(message, file=sys.stderr)
        warnings.warn(f"smoke mode: synthetic {spec.name} stand-in in use (no real data found)", stacklevel=3)
        x, y = _synthetic(spec, split)
        return x, y, "SYNTHETIC stand-in (smoke mode)"
    where = "\n  - ".join(looked)
    if not synthetic_ok:
        raise DataNotFoundError(
            f"{spec.name} ({split}) was not found, and an export writes real data only (never the smoke-mode "
            f"synthetic stand-in, which a later lecture run would load as real). Looked in:\n  - {where}\n"
            f"To fix it, run the export on a machine that is online or holds the dataset in "
            f"{default_data_dir()} (COURSE_SMOKE makes no difference to an export).")
    raise DataNotFoundError(
        f"{spec.name} ({split}) was not found. Looked in:\n  - {where}\nTo fix it, do one of:\n"
        f"  - connect to the internet and run again (torchvision downloads it into {default_data_dir()});\n"
        f"  - set COURSE_DATA_DIR to a folder holding {spec.npz} (an offline mirror; "
        f"`python -m course_utils.data export DIR` writes one on a connected machine);\n"
        f"  - for a quick CI-style run only, set COURSE_SMOKE=1 to use a synthetic stand-in.")


def _load(name: str, split: str, data_dir, download: bool, per_class: int | None, seed: int,
          transform: Callable | None) -> ImageDataset:
    spec = _SPECS[name]
    x, y, source = _locate(spec, split, data_dir, download)
    images = torch.from_numpy(np.ascontiguousarray(x))
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2).contiguous()
    ds = ImageDataset(images, torch.from_numpy(y.astype(np.int64)), classes=spec.classes, mean=spec.mean,
                      std=spec.std, name=spec.name, source=source, transform=transform)
    if per_class is not None:
        ds = ds.subset(stratified_indices(ds.targets, per_class, seed=seed))
    return ds


def load_cifar10(split: str = "train", *, data_dir: str | os.PathLike | None = None, download: bool = True,
                 per_class: int | None = None, seed: int = 0, transform: Callable | None = None) -> ImageDataset:
    """CIFAR-10 ``split`` ("train": 50,000 or "test": 10,000 images, uint8 (N, 3, 32, 32)).

    ``per_class`` keeps a deterministic stratified subset of that many images per class.
    """
    return _load("cifar10", split, data_dir, download, per_class, seed, transform)


def load_mnist(split: str = "train", *, data_dir: str | os.PathLike | None = None, download: bool = True,
               per_class: int | None = None, seed: int = 0, transform: Callable | None = None) -> ImageDataset:
    """MNIST ``split`` ("train": 60,000 or "test": 10,000 images, uint8 (N, 1, 28, 28))."""
    return _load("mnist", split, data_dir, download, per_class, seed, transform)


# ----------------------------------------------------------------------------- subsets

def stratified_indices(targets: torch.Tensor, per_class: int, seed: int = 0) -> torch.Tensor:
    """Deterministic indices of ``per_class`` random examples of each class, sorted (K·per_class,)."""
    if not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class {per_class!r} must be a positive integer")
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for label in torch.unique(targets).tolist():
        idx = torch.nonzero(targets == label).flatten()
        if per_class > idx.numel():
            raise ValueError(f"per_class {per_class} is more than the {idx.numel()} examples of class {label}")
        chosen.append(idx[torch.randperm(idx.numel(), generator=g)[:per_class]])
    return torch.cat(chosen).sort().values


def train_val_split(dataset: ImageDataset, val_per_class: int, seed: int = 0) -> tuple[ImageDataset, ImageDataset]:
    """Split ``dataset`` into (train, val), val holding ``val_per_class`` images of each class."""
    val_idx = stratified_indices(dataset.targets, val_per_class, seed=seed)
    keep = torch.ones(len(dataset), dtype=torch.bool)
    keep[val_idx] = False
    return dataset.subset(torch.nonzero(keep).flatten()), dataset.subset(val_idx)


# ----------------------------------------------------------------------------- batches

def normalize(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 (B, C, H, W) → float32 (B, C, H, W), scaled to [0, 1] then standardised per channel."""
    x = images.to(torch.float32, copy=True).div_(255)  # a copy: a float input is never changed in place
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return x.sub_(m).div_(s)


def denormalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Inverse of :func:`normalize` back to floats in [0, 1], (B, C, H, W) or (C, H, W)."""
    shape = (-1, 1, 1)
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(shape)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(shape)
    return (x * s + m).clamp(0, 1)


def crop_flip_params(batch: int, padding: int = 4, flip: bool = True,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random draws for :func:`random_crop_flip`: row offsets (B,), column offsets (B,), flip mask (B,)."""
    oy = torch.randint(0, 2 * padding + 1, (batch,), generator=generator)
    ox = torch.randint(0, 2 * padding + 1, (batch,), generator=generator)
    mask = torch.rand(batch, generator=generator) < 0.5 if flip else torch.zeros(batch, dtype=torch.bool)
    return oy, ox, mask


def apply_crop_flip(images: torch.Tensor, oy: torch.Tensor, ox: torch.Tensor, mask: torch.Tensor,
                    padding: int = 4) -> torch.Tensor:
    """Crop each zero-padded image at (oy, ox) and mirror it left-right where ``mask``: (B, C, H, W) → same."""
    b, c, h, w = images.shape
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    rows = (oy[:, None] + torch.arange(h))[:, None, :, None]  # (B, 1, H, 1)
    cols = (ox[:, None] + torch.arange(w))[:, None, None, :]  # (B, 1, 1, W)
    out = padded[torch.arange(b)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
    return torch.where(mask[:, None, None, None], out.flip(-1), out)


def random_crop_flip(images: torch.Tensor, padding: int = 4, flip: bool = True,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-image random crop after zero padding, and a random horizontal flip: (B, C, H, W) → same."""
    oy, ox, mask = crop_flip_params(images.shape[0], padding, flip, generator)
    return apply_crop_flip(images, oy, ox, mask, padding)


class BatchLoader:
    """Iterate over an :class:`ImageDataset` in normalised float batches ((B, C, H, W), (B,)).

    ``augment``: "none", "crop_flip" (random crop with 4-pixel padding + horizontal flip, the
    usual CIFAR-10 recipe) or "strong" (torchvision's TrivialAugmentWide per image, then crop
    and flip). Shuffling and augmentation are seeded: the same seed gives the same batches.

    Each epoch draws its order and one seed per batch from the loader's generator, so an
    epoch can be replayed from any batch (:meth:`iter_from`) and the state to save between
    epochs is the generator's (:meth:`state_dict`). Past one process, ``batch_size`` is the
    global batch: process ``rank`` of ``world_size`` gets its contiguous share of every global
    batch, augmented exactly as one process would augment it, so N processes see the same
    data as one (a last batch smaller than ``world_size`` is dropped there). ``rank`` and
    ``world_size`` default to the current process group's (see :mod:`course_utils.distributed`).
    """

    def __init__(self, dataset: ImageDataset, batch_size: int = 128, *, shuffle: bool = False,
                 augment: str = "none", drop_last: bool = False, seed: int = 0, device: torch.device | str = "cpu",
                 rank: int | None = None, world_size: int | None = None):
        if augment not in AUGMENTS:
            raise ValueError(f"augment {augment!r} is not one of {AUGMENTS}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size {batch_size!r} must be a positive integer")
        from .distributed import world

        default_rank, default_world = world()
        self.rank = default_rank if rank is None else rank
        self.world_size = default_world if world_size is None else world_size
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} must be in [0, world_size {self.world_size})")
        if batch_size < self.world_size:
            raise ValueError(f"batch_size {batch_size} is smaller than the {self.world_size} processes sharing it")
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle
        self.augment, self.drop_last, self.device = augment, drop_last, torch.device(device)
        self.generator = torch.Generator().manual_seed(seed)
        self._strong = None
        if augment == "strong":
            from torchvision.transforms import v2
            self._strong = v2.TrivialAugmentWide()

    def __len__(self) -> int:
        """Batches per epoch (the same on every process)."""
        n, b = len(self.dataset), self.batch_size
        full, rest = divmod(n, b)
        keep_rest = rest > 0 and not self.drop_last and rest >= self.world_size
        return full + int(keep_rest)

    def state_dict(self) -> dict:
        """What an exact resume needs: the generator's state before the next epoch's draws."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` (the next epoch then draws the same order and seeds)."""
        self.generator.set_state(state["generator"])

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.iter_from(0)

    def iter_from(self, start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch, skipping its first ``start`` batches (identical to them otherwise).

        The epoch's random draws happen at the first batch, not when the iterator is made.
        """
        n, count = len(self.dataset), len(self)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        seeds = torch.randint(0, 2**62, (count,), generator=self.generator)  # one per batch
        yield from self._batches(order, seeds, start)

    def _batches(self, order: torch.Tensor, seeds: torch.Tensor, start: int):
        from .distributed import shard_bounds

        mnist = self.dataset.name == "mnist"  # digits: small shifts, never mirrored
        for i in range(start, len(seeds)):
            batch = order[i * self.batch_size:(i + 1) * self.batch_size]  # the global batch
            lo, hi = shard_bounds(len(batch), self.rank, self.world_size)
            idx = batch[lo:hi]  # this process's rows of it
            images = self.dataset.images[idx]
            seed = int(seeds[i])
            if self._strong is not None:  # TrivialAugmentWide draws from torch's global generator
                state = torch.random.get_rng_state()
                augmented = []
                for j, img in zip(range(lo, hi), images):
                    torch.manual_seed(seed + j)
                    augmented.append(self._strong(img))
                images = torch.stack(augmented)
                torch.random.set_rng_state(state)
            if self.augment != "none":
                padding = 2 if mnist else 4
                params = crop_flip_params(len(batch), padding, not mnist, torch.Generator().manual_seed(seed))
                images = apply_crop_flip(images, *(p[lo:hi] for p in params), padding=padding)
            x = normalize(images, self.dataset.mean, self.dataset.std)
            yield x.to(self.device, non_blocking=True), self.dataset.targets[idx].to(self.device, non_blocking=True)


def make_loader(dataset: ImageDataset, batch_size: int = 128, *, train: bool = False, augment: str | None = None,
                seed: int = 0, device: torch.device | str = "cpu") -> BatchLoader:
    """A :class:`BatchLoader`: for training shuffled with crop + flip (CIFAR-10) by default."""
    if augment is None:
        augment = "crop_flip" if (train and dataset.name == "cifar10") else "none"
    return BatchLoader(dataset, batch_size, shuffle=train, augment=augment, drop_last=False, seed=seed, device=device)


def torch_transform(dataset: str, train: bool = False) -> Callable:
    """The same normalisation (and train augmentation) as a torchvision v2 transform on uint8 (C, H, W)."""
    from torchvision.transforms import v2

    spec = _SPECS[dataset]
    steps = []
    if train and dataset == "cifar10":
        steps += [v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()]
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(spec.mean, spec.std)]
    return v2.Compose(steps)


# ----------------------------------------------------------------------------- export

def export_npz(out_dir: str | os.PathLike, names: Sequence[str] = ("cifar10", "mnist"),
               source_dir: str | os.PathLike | None = None) -> list[Path]:
    """Write ``cifar10.npz`` / ``mnist.npz`` mirrors into ``out_dir`` (atomically: temp file, then rename).

    Real data only: with none found, :class:`DataNotFoundError`, even in smoke mode (the synthetic
    stand-in is never written). Files get the usual mode for new files (0o666 minus the umask).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        if name not in _SPECS:
            raise ValueError(f"dataset {name!r} is not one of {tuple(_SPECS)}")
        spec = _SPECS[name]
        arrays = {}
        for split in SPLITS:
            x, y, _ = _locate(spec, split, source_dir, download=True, synthetic_ok=False)
            arrays[f"x_{split}"], arrays[f"y_{split}"] = x.astype(np.uint8), y.astype(np.uint8)
        arrays["class_names"] = np.array(spec.classes)
        final = out / spec.npz
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{spec.npz}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **arrays)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a mirror is meant to be shared
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(final)
    return written


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m course_utils.data export DIR``: write the offline npz mirror."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.data", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="write cifar10.npz and mnist.npz into DIR")
    exp.add_argument("dir")
    exp.add_argument("--only", choices=sorted(_SPECS), action="append")
    args = parser.parse_args(argv)
    try:
        written = export_npz(args.dir, args.only or ("cifar10", "mnist"))
    except (DataNotFoundError, DataFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def sample_photo(size: int = 256) -> torch.Tensor:
    """A real photograph that ships inside matplotlib (Grace Hopper, 1984 portrait), uint8 (3, size, size).

    The 600×512 original is cropped to its top 512×512 square (her face and cap) and resized.
    No download: the file is part of matplotlib's sample data.
    """
    import matplotlib.cbook as cbook
    from PIL import Image

    if size < 8:
        raise ValueError(f"size {size} must be at least 8 pixels")
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        image = Image.open(handle).convert("RGB")
        side = min(image.size)
        image = image.crop((0, 0, side, side)).resize((size, size), Image.Resampling.LANCZOS)
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).contiguous()
