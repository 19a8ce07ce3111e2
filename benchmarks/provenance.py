"""Where a benchmark row came from: the commit, the data and the command line, recorded in every row.

    from provenance import provenance      # a benchmark script's folder is on sys.path
    row.update(provenance(train_set.source))
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commit() -> str:
    """HEAD's short hash, with "+changes" when tracked files differ from it; "unknown" outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if changed else "")


def command() -> str:
    """The command line that is running, as one would type it again from the repository's root."""
    return shlex.join(["python", *sys.argv])


def provenance(data: str) -> dict:
    """``{"commit", "data", "command"}`` for a row; ``data``: the dataset's source (``ImageDataset.source``),
    or what the inputs were (e.g. "random tensors, seed 0")."""
    return {"commit": commit(), "data": data, "command": command()}
