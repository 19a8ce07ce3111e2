"""Print a notebook's text outputs and save its images to a folder (for reviewing a lecture run).

    python -m tools.nbshow notebooks/01_attention.ipynb /tmp/nb01
"""

import base64
import sys
from pathlib import Path

import nbformat


def main(path: str, out_dir: str) -> None:
    nb = nbformat.read(path, as_version=4)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for i, o in enumerate(cell.outputs):
            if o.output_type == "stream":
                print(f"[{cell.execution_count}] {o.name}: {o.text.rstrip()}")
            elif o.output_type == "error":
                print(f"[{cell.execution_count}] ERROR {o.ename}: {o.evalue}")
            elif "image/png" in o.get("data", {}):
                name = out / f"cell{cell.execution_count:02d}_{i}.png"
                name.write_bytes(base64.b64decode(o.data["image/png"]))
                print(f"[{cell.execution_count}] image {name}")
            elif "text/plain" in o.get("data", {}):
                print(f"[{cell.execution_count}] {o.data['text/plain'][:300]}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
