# %% [markdown]
# # 00 · Setup check: is everything ready for the course?
#
# {{COLAB_BADGE}}
#
# Run this notebook first, top to bottom. It checks the whole chain the other notebooks
# rely on: the installed package `course_utils`, PyTorch and the device, the two datasets
# (CIFAR-10 and MNIST), and plotting. Every check prints **OK** or tells you what to do.
#
# **Goals:** know which device you train on; see the data the course uses; know where the
# data came from (download, offline mirror, or, in a CI smoke run only, a stand-in).

# %%
{{COLAB_SETUP}}

import torch

from course_utils import config, data, viz

config.seed_everything(0)
device = config.get_device()
print(config.summary(device))

# %% [markdown]
# ## 1. The package and its versions
# `course_utils` is the small tested package behind the notebooks. The versions below are
# the ones the course is tested with (pinned in `constraints.txt`); newer ones usually work.

# %%
import matplotlib
import numpy as np
import torchvision

import course_utils

for name, module in [("course_utils", course_utils), ("torch", torch), ("torchvision", torchvision),
                     ("numpy", np), ("matplotlib", matplotlib)]:
    print(f"{name:13s} {module.__version__}")
print("OK: imports work")

# %% [markdown]
# ## 2. The device
# A tiny matrix product on the chosen device. The course is designed for a laptop CPU:
# every notebook finishes in minutes without a GPU; a GPU only makes training faster.

# %%
a = torch.randn(256, 256, device=device)
b = a @ a.T
print(f"device: {device}; a 256x256 product is symmetric: {torch.allclose(b, b.T, atol=1e-4)}")

# %% [markdown]
# ## 3. The data
# `load_cifar10` and `load_mnist` look for the data in this order: torchvision's files in
# the course's `data/` folder, an offline mirror (`cifar10.npz`, `mnist.npz`) in
# `$COURSE_DATA_DIR`, then a download by torchvision. If nothing works you get an error
# that lists where it looked and how to fix it. In smoke mode (CI) a reduced subset is used.

# %%
per_class = config.pick(None, 100)  # the whole dataset in the lecture run, 100 per class in CI
cifar_train = data.load_cifar10("train", per_class=per_class)
cifar_test = data.load_cifar10("test", per_class=config.pick(None, 50))
mnist_train = data.load_mnist("train", per_class=per_class)
mnist_test = data.load_mnist("test", per_class=config.pick(None, 50))
for ds in (cifar_train, cifar_test, mnist_train, mnist_test):
    print(ds)

# %% [markdown]
# The counts per class. CIFAR-10 is perfectly balanced (5,000 training and 1,000 test
# images per class); MNIST is not quite (digit 1 is the most common, digit 5 the rarest).

# %%
# NBVAL_IGNORE_OUTPUT: the counts differ between the full data (lecture) and the CI subset
for name, train, test in [("CIFAR-10", cifar_train, cifar_test), ("MNIST", mnist_train, mnist_test)]:
    print(f"{name}: {len(train):,} train / {len(test):,} test")
    for label, (n_train, n_test) in enumerate(zip(train.class_counts(), test.class_counts())):
        print(f"  {label} {train.classes[label]:10s} {n_train:5d} {n_test:5d}")

# %%
fig = viz.class_counts({"train": cifar_train.class_counts(), "test": cifar_test.class_counts()},
                       cifar_train.classes, title="CIFAR-10: images per class")

# %% [markdown]
# ## 4. Look at the data
# Eight random images of each class. CIFAR-10's images are only 32×32 pixels: small enough
# to train on a laptop, hard enough that a good model needs more than memorising pixels.

# %%
fig = viz.class_grid(cifar_train, per_class=8, title="CIFAR-10 (32×32 RGB)")

# %%
fig = viz.class_grid(mnist_train, per_class=8, title="MNIST (28×28 grey)")

# %% [markdown]
# ## 5. One batch, as a model sees it
# Models see normalised float tensors: each channel shifted by its mean and divided by its
# standard deviation. The training loader also crops and flips CIFAR-10 images at random.

# %%
loader = data.make_loader(cifar_train, batch_size=64, train=True)
images, labels = next(iter(loader))
print(f"batch: images {tuple(images.shape)} {images.dtype}, labels {tuple(labels.shape)} {labels.dtype}")
print(f"per-channel mean of this batch: {images.mean(dim=(0, 2, 3)).numpy().round(1)} (near 0; the black borders of shifted crops pull it below)")
fig = viz.image_grid(data.denormalize(images[:16], data.CIFAR10_MEAN, data.CIFAR10_STD), labels[:16],
                     cifar_train.classes, ncols=8, title="a training batch after crop and flip")

# %% [markdown]
# ## 6. All good?
# If every cell above ran, you are ready for notebook 01. If the data cell failed:
#
# - **On your laptop, online**: run it again; torchvision downloads the data into `data/`.
# - **Offline (a lab room, CI)**: ask for the mirror files `cifar10.npz` and `mnist.npz`, put
#   them in a folder and set `COURSE_DATA_DIR` to it before starting JupyterLab.
# - **Anything else**: the error message lists every place that was searched.

# %%
# NBVAL_IGNORE_OUTPUT: it depends on the machine (real data, or the smoke stand-in where there is none)
real = all("SYNTHETIC" not in ds.source for ds in (cifar_train, mnist_train))
print("OK: the course is ready" if real else "WARNING: synthetic stand-in data in use (smoke mode only)")
