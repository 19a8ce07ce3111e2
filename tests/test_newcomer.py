"""A newcomer's checkout (issue #14): no data and no network still runs, bad input gets a clear
error and loses nothing, and opening a notebook does not change it.

The full no-data pass over the notebooks (`env -u COURSE_DATA_DIR COURSE_OFFLINE=1 make smoke`)
runs in .ci/run; here are the quick checks of each piece.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
from conftest import free_port, stop_process
import torch

from course_utils import data, vit

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def write_mirror(path: Path, n: int = 20, **override) -> Path:
    """A tiny valid cifar10.npz (every class present), with arrays replaced by ``override``."""
    arrays = dict(x_train=np.zeros((n, 32, 32, 3), np.uint8), y_train=np.arange(n, dtype=np.uint8) % 10,
                  x_test=np.zeros((n, 32, 32, 3), np.uint8), y_test=np.arange(n, dtype=np.uint8) % 10)
    arrays.update(override)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


@pytest.fixture
def umask_027():
    """Run with umask 027 (new files 0640), then put the old one back."""
    old = os.umask(0o027)
    try:
        yield 0o640
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def tiny_vit() -> vit.ViT:
    torch.manual_seed(0)
    return vit.ViT(32, 8, embed_dim=16, depth=1, num_heads=2, mlp_dim=32)


# ------------------------------------------------------------------ A. smoke mode with no data at all

def smoke_requests() -> list[int]:
    """Every ``per_class`` the notebooks ask for in smoke mode (``per_class=config.pick(None, N)``)."""
    found = []
    for src in sorted((ROOT / "notebooks" / "src").glob("*.py")):
        found += [int(n) for n in re.findall(r"per_class\s*=\s*config\.pick\(None,\s*(\d+)\)", src.read_text())]
    return found


@pytest.mark.filterwarnings("ignore:smoke mode")
def test_synthetic_stand_in_covers_every_smoke_request(no_data, monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    wanted = max(smoke_requests())
    assert wanted >= 100, "the notebooks' smoke requests were not found in notebooks/src"
    for load in (data.load_cifar10, data.load_mnist):
        for split in data.SPLITS:
            ds = load(split, per_class=wanted)
            assert "SYNTHETIC" in ds.source and ds.class_counts() == [wanted] * 10
    train, val = data.train_val_split(data.load_cifar10("train", per_class=100), val_per_class=10)  # notebook 04
    assert (len(train), len(val)) == (900, 100)


# ------------------------------------------------------------------ C. the offline mirror export

def test_export_refuses_to_write_the_synthetic_stand_in(no_data, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    out = tmp_path / "mirror"
    with pytest.raises(data.DataNotFoundError, match="real data only"):
        data.export_npz(out)
    assert data.main(["export", str(out)]) == 1
    err = capsys.readouterr().err
    assert "real data only" in err and "SYNTHETIC stand-in" not in err and "Traceback" not in err
    assert list(out.iterdir()) == []


def test_export_respects_the_umask_and_is_atomic(tmp_path, umask_027, monkeypatch):
    source = write_mirror(tmp_path / "src" / "cifar10.npz").parent
    out = tmp_path / "out"
    [written] = data.export_npz(out, names=("cifar10",), source_dir=source)
    assert mode(written) == umask_027, oct(mode(written))
    assert data.read_npz(written, "cifar10", "test")[0].shape == (20, 32, 32, 3)
    before = written.read_bytes()

    def broken_savez(handle, **arrays):
        handle.write(b"half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        data.export_npz(out, names=("cifar10",), source_dir=source)
    assert [p.name for p in out.iterdir()] == ["cifar10.npz"] and written.read_bytes() == before


# ------------------------------------------------------------------ D. data validation

BAD_LABELS = {
    "float": (np.array([2.7, 1.0] * 5), r"y_test is float64; the rule is integer class labels"),
    "nan": (np.array([np.nan, 1.0] * 5), r"y_test is float64"),
    "bool": (np.array([True, False] * 5), r"y_test is bool"),
    "one class": (np.full(10, 3, np.uint8), r"every label in y_test is 3"),
}


@pytest.mark.parametrize("case", sorted(BAD_LABELS))
def test_npz_labels_are_validated(tmp_path, case):
    labels, message = BAD_LABELS[case]
    write_mirror(tmp_path / "cifar10.npz", x_test=np.zeros((10, 32, 32, 3), np.uint8), y_test=labels)
    with pytest.raises(data.DataFormatError, match=message):
        data.load_cifar10("test", data_dir=tmp_path, download=False)


def test_npz_empty_split_is_refused(tmp_path):
    write_mirror(tmp_path / "cifar10.npz", x_test=np.zeros((0, 32, 32, 3), np.uint8), y_test=np.zeros(0, np.uint8))
    with pytest.raises(data.DataFormatError, match=r"x_test holds no images"):
        data.load_cifar10("test", data_dir=tmp_path, download=False)


def test_subset_accepts_a_boolean_mask(tmp_path):
    write_mirror(tmp_path / "cifar10.npz", n=50)
    ds = data.load_cifar10("train", data_dir=tmp_path)
    ds.images[:] = torch.arange(50, dtype=torch.uint8).view(-1, 1, 1, 1)  # tag each image
    cats = ds.subset(ds.targets == 3)
    assert len(cats) == 5 and cats.class_counts()[3] == 5
    assert cats.images[:, 0, 0, 0].tolist() == [3, 13, 23, 33, 43]
    assert len(ds.subset(ds.targets.numpy() == 3)) == 5  # a numpy mask too
    assert ds.subset([4, 2]).images[:, 0, 0, 0].tolist() == [4, 2] and len(ds.subset([])) == 0
    with pytest.raises(ValueError, match=r"boolean mask of shape \(10,\) does not match .* shape \(50,\)"):
        ds.subset(torch.zeros(10, dtype=torch.bool))
    with pytest.raises(ValueError, match="indices of dtype torch.float32 are not allowed"):
        ds.subset(torch.tensor([1.0, 2.0]))


def test_normalize_leaves_its_input_alone():
    x = torch.rand(2, 3, 4, 4) * 255
    kept = x.clone()
    out = data.normalize(x, data.CIFAR10_MEAN, data.CIFAR10_STD)
    assert torch.equal(x, kept) and out.data_ptr() != x.data_ptr()
    expected = (kept / 255 - torch.tensor(data.CIFAR10_MEAN).view(1, 3, 1, 1)) / torch.tensor(data.CIFAR10_STD).view(1, 3, 1, 1)
    assert torch.allclose(out, expected, atol=1e-6)


# ------------------------------------------------------------------ E. the pretrained file

def flip_bytes(path: Path, count: int = 8) -> None:
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    for i in range(middle, middle + count):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_save_pretrained_records_a_checksum_that_load_verifies(tmp_path):
    path = tmp_path / "vit.pt"
    vit.save_pretrained(tiny_vit(), path, {"test_acc": 0.5})
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert (tmp_path / "vit.pt.sha256").read_text() == f"{digest}  vit.pt\n"  # `sha256sum -c` reads it
    vit.load_pretrained(path)  # verifies
    flip_bytes(path)
    with pytest.raises(ValueError, match=rf"vit.pt is damaged or was changed: its SHA-256 is [0-9a-f]{{64}}, "
                                         rf"but vit.pt.sha256 records {digest}\. Fix: restore"):
        vit.load_pretrained(path)


def test_committed_checkpoint_carries_its_checksum(tmp_path):
    if not vit.DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no checkpoint in data/checkpoints")
    sidecar = vit.DEFAULT_CHECKPOINT.with_name("vit_cifar10.pt.sha256")
    assert sidecar.is_file(), "data/checkpoints/vit_cifar10.pt.sha256 is missing"
    digest = hashlib.sha256(vit.DEFAULT_CHECKPOINT.read_bytes()).hexdigest()
    assert sidecar.read_text() == f"{digest}  vit_cifar10.pt\n"
    vit.load_pretrained()  # verifies
    copy = tmp_path / "vit_cifar10.pt"
    shutil.copy(vit.DEFAULT_CHECKPOINT, copy)
    shutil.copy(sidecar, tmp_path / sidecar.name)
    flip_bytes(copy)
    with pytest.raises(ValueError, match="is damaged or was changed"):
        vit.load_pretrained(copy)


def test_a_download_that_is_not_a_checkpoint_is_not_kept(tmp_path):
    page = tmp_path / "served" / "page.pt"
    page.parent.mkdir()
    page.write_bytes(b"<html><body>404: Not Found</body></html>")
    target = tmp_path / "cache" / "vit.pt"
    with pytest.raises(ValueError, match=r"did not give a checkpoint .*nothing was kept"):
        vit.load_pretrained(target, url=page.as_uri())
    assert not target.exists() and list(target.parent.iterdir()) == []
    good = tmp_path / "served" / "vit.pt"
    vit.save_pretrained(tiny_vit(), good, {"test_acc": 0.5})
    model, meta = vit.load_pretrained(target, url=good.as_uri())  # a later call with a good URL works
    assert meta["test_acc"] == 0.5 and [p.name for p in target.parent.iterdir()] == ["vit.pt"]


def test_a_download_is_checked_against_its_checksum(tmp_path):
    served = tmp_path / "served" / "vit.pt"
    vit.save_pretrained(tiny_vit(), served, {"test_acc": 0.5})
    flip_bytes(served)  # damaged on the server: vit.pt.sha256 there no longer matches
    target = tmp_path / "cache" / "vit.pt"
    with pytest.raises(ValueError, match=r"has SHA-256 [0-9a-f]{64}, not the recorded [0-9a-f]{64}.*not kept"):
        vit.load_pretrained(target, url=served.as_uri())
    assert list(target.parent.iterdir()) == []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("where", ["missing file", "closed port"])
def test_an_unreachable_url_gets_one_clear_line(tmp_path, where, monkeypatch):
    for proxy in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    url = (tmp_path / "nowhere.pt").as_uri() if where == "missing file" else f"http://127.0.0.1:{closed_port()}/vit.pt"
    target = tmp_path / "cache" / "vit.pt"
    with pytest.raises(FileNotFoundError) as info:
        vit.load_pretrained(target, url=url)
    message = str(info.value)
    assert "\n" not in message and url in message and "Fix:" in message
    assert not isinstance(info.value, urllib.error.URLError) and info.value.__suppress_context__
    assert list(target.parent.iterdir()) == []


def test_pretrained_files_respect_the_umask(tmp_path, umask_027):
    served = tmp_path / "served" / "vit.pt"
    vit.save_pretrained(tiny_vit(), served, {"test_acc": 0.5})
    assert mode(served) == umask_027 and mode(served.with_name("vit.pt.sha256")) == umask_027
    target = tmp_path / "cache" / "vit.pt"
    vit.load_pretrained(target, url=served.as_uri())
    assert mode(target) == umask_027, oct(mode(target))


# ------------------------------------------------------------------ F. opening a notebook changes nothing

def kernel_writes(kernel_name: str) -> dict:
    """The kernelspec metadata JupyterLab sets on opening: name, display name and language of the server's spec."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(kernel_name)
    return {"display_name": spec.display_name, "language": spec.language, "name": kernel_name}


def test_build_writes_the_kernels_metadata(tmp_path, monkeypatch):
    from tools import nbbuild

    monkeypatch.setattr(nbbuild, "OUT", tmp_path)
    out = nbbuild.build_one(ROOT / "notebooks" / "src" / "03_positional_encodings.py")
    nb = json.loads(out.read_text())
    assert nb["metadata"]["kernelspec"] == kernel_writes("python3")


@pytest.fixture
def jupyter_server(tmp_path):
    """A Jupyter server (as `make lab` starts under JupyterLab) on a free port, rooted in a temp folder."""
    root, token, port = tmp_path / "root", uuid.uuid4().hex, free_port()
    root.mkdir()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    cmd = [sys.executable, "-m", "jupyter_server", "--no-browser", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}",
           f"--IdentityProvider.token={token}", "--ServerApp.allow_root=True",
           "--NotebookNotary.db_file=:memory:", "--ServerApp.jpserver_extensions={}"]
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy

    def call(method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(base + path, method=method, headers={
            "Authorization": f"token {token}", "Content-Type": "application/json"},
            data=None if body is None else json.dumps(body).encode())
        with opener.open(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                call("GET", "/api/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"jupyter server did not start: {(tmp_path / 'server.log').read_text()[-2000:]}")
                time.sleep(0.1)
        yield root, call
    finally:
        stop_process(proc, log)


def test_opening_and_saving_a_notebook_changes_nothing(jupyter_server):
    """Open every committed notebook through the contents API, apply what JupyterLab applies when
    its kernel starts (kernelspec from the server's spec, language_info from the kernel), and
    save it back as autosave would: the files must stay byte-identical."""
    from ipykernel.ipkernel import IPythonKernel

    root, call = jupyter_server
    specs = call("GET", "/api/kernelspecs")["kernelspecs"]
    for path in NOTEBOOKS:
        shutil.copy(path, root / path.name)
        model = call("GET", f"/api/contents/{path.name}?content=1&type=notebook")
        meta = model["content"]["metadata"]
        name = meta["kernelspec"]["name"]
        assert name in specs, f"{path.name}: kernel {name!r} is not one the server offers ({sorted(specs)})"
        spec = specs[name]["spec"]
        meta["kernelspec"] = {"name": name, "display_name": spec["display_name"], "language": spec["language"]}
        language_info = dict(IPythonKernel.language_info)
        language_info["version"] = meta["language_info"]["version"]  # the Python of the machine that executed it
        meta["language_info"] = language_info
        call("PUT", f"/api/contents/{path.name}", {"type": "notebook", "format": "json", "content": model["content"]})
        assert (root / path.name).read_bytes() == path.read_bytes(), f"{path.name} changed by opening and saving it"
