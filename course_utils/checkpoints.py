"""Files that hold models: atomic writes, safe loads, checksums, verified downloads.

Two kinds of file, both loadable with ``torch.load(..., weights_only=True)`` (tensors and plain
values only, never code):
- a *checkpoint*: whatever state a run needs to resume (:func:`save_checkpoint`);
- a *pretrained file*: ``{"model", "config", "meta"}`` (weights, how to build the model, what was
  measured), with its SHA-256 beside it in ``PATH.sha256`` (``sha256sum -c`` format), which
  :func:`load_pretrained_state` verifies. The course ships these (``data/checkpoints/``).

Every write goes to a temporary file beside the target and is renamed into place, so an
interrupted write never destroys the previous file, and gets the mode new files get (0o666
less the umask). A download is kept only when it verifies.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import urllib.request
from pathlib import Path

import torch

PRETRAINED_KEYS = ("model", "config", "meta")


def write_atomic(path: str | os.PathLike, raw: bytes) -> Path:
    """Write ``raw`` to a temporary file beside ``path``, give it the umask's mode, rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        _publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _publish(tmp, path) -> None:
    """Rename a finished temporary file into place with the mode new files get (0o666 less the umask)."""
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)  # mkstemp creates 0600
    os.replace(tmp, path)


def _serialise(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def save_checkpoint(path: str | os.PathLike, **state) -> Path:
    """Atomically save ``state`` (tensors, state dicts, plain values) to ``path``."""
    return write_atomic(path, _serialise(state))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint safely (``weights_only=True``); a clear error if missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise ValueError(f"checkpoint {path} could not be read ({type(exc).__name__}: {exc}); "
                         f"it may be truncated, or not a checkpoint written by course_utils") from exc


def save_pretrained_state(path: str | os.PathLike, model_state: dict, config: dict, meta: dict) -> Path:
    """Write a pretrained file and its checksum ``PATH.sha256``, both atomically."""
    path, raw = Path(path), _serialise({"model": model_state, "config": config, "meta": meta})
    sidecar = _sidecar(path)
    sidecar.unlink(missing_ok=True)  # a crash between the two writes leaves no stale checksum behind
    write_atomic(path, raw)
    write_atomic(sidecar, f"{hashlib.sha256(raw).hexdigest()}  {path.name}\n".encode())
    return path


def load_pretrained_state(path: str | os.PathLike, map_location: str | torch.device = "cpu",
                          url: str | None = None, what: str = "pretrained model", how: str = "") -> dict:
    """A verified pretrained file's ``{"model", "config", "meta"}``.

    A file with a ``.sha256`` beside it must match it. ``url``: where to fetch the file when it is
    missing; the download is kept only if it loads as a pretrained file and its SHA-256 matches
    the one known for it (``path.sha256`` here, else ``url.sha256`` if served). ``what`` and
    ``how`` (how to make one) go into the error messages.
    """
    path = Path(path)
    if not path.is_file() and url is not None:
        _download_verified(url, path, what)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} at {path}" + (f": {how}" if how else ""))
    expected = _recorded_sha256(_sidecar(path))
    if expected is not None:
        actual = file_sha256(path)
        if actual != expected:
            raise ValueError(
                f"{path} is damaged or was changed: its SHA-256 is {actual}, but {_sidecar(path).name} records "
                f"{expected}. Fix: restore the file (`git checkout -- {path.name}` in the course's clone, or delete "
                f"it and load again with url=... to download it); if you trained it yourself, save it with the "
                f"course's save_pretrained, which records the new checksum")
    state = load_checkpoint(path, map_location=map_location)
    _check_entries(state, path, what)
    return state


def _sidecar(path: Path) -> Path:
    """``PATH.sha256``, where :func:`save_pretrained_state` records a file's checksum."""
    return path.with_name(path.name + ".sha256")


def _parse_sha256(text: str, where) -> str:
    """The hex digest of a ``sha256sum`` line (``<64 hex digits>  <file name>``)."""
    digest = (text.split() or [""])[0].lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"{where} is not a checksum file: the rule is one `sha256sum` line (64 hex digits, "
                         f"two spaces, the file name); delete it or write it again")
    return digest


def _recorded_sha256(sidecar: Path) -> str | None:
    """The digest recorded in ``sidecar``; None when there is no such file."""
    return _parse_sha256(sidecar.read_text(), sidecar) if sidecar.is_file() else None


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, as ``sha256sum`` prints it."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check_entries(state, where, what: str = "pretrained model") -> None:
    for key in PRETRAINED_KEYS:
        if not isinstance(state, dict) or key not in state:
            raise ValueError(f"{where} is not a course {what} file: it has no {key!r} entry")


def _download_verified(url: str, path: Path, what: str) -> None:
    """Fetch ``url`` into ``path`` only if it verifies; never leave a file that does not."""
    expected = _recorded_sha256(_sidecar(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".download")
    try:
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as handle, urllib.request.urlopen(url, timeout=60) as response:
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    handle.write(chunk)
        except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts are OSErrors; a bad URL a ValueError
            reason = getattr(exc, "reason", None) or exc
            raise FileNotFoundError(f"could not download the {what} from {url} ({reason}). Fix: check the "
                                    f"address and the connection and run again, or put the file at {path} "
                                    f"yourself") from None
        if expected is None:
            expected = _served_sha256(url)
        if expected is not None and digest.hexdigest() != expected:
            raise ValueError(f"the file downloaded from {url} has SHA-256 {digest.hexdigest()}, not the recorded "
                             f"{expected}: it was damaged on the way or is another file, and was not kept. Fix: "
                             f"run again, or check the address")
        try:
            state = torch.load(tmp, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"{url} did not give a checkpoint ({type(exc).__name__}: {str(exc)[:120]}); nothing "
                             f"was kept. Fix: check the address (it must be the raw file)") from None
        _check_entries(state, url, what)
        _publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _served_sha256(url: str) -> str | None:
    """The checksum served beside ``url`` (``url.sha256``), or None when there is none to be had."""
    try:
        with urllib.request.urlopen(url + ".sha256", timeout=30) as response:
            return _parse_sha256(response.read(4096).decode("utf-8", "replace"), url + ".sha256")
    except (OSError, ValueError):  # none served (404, an HTML page): the download is verified by loading only
        return None
