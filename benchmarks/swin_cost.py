"""Global vs window attention as the token map grows (notebook 05, README).

    python benchmarks/swin_cost.py          # maps 8x8 … 64x64, writes results/swin_cost.json

Forward pass, C = 48, 3 heads, windows of 4×4, written-out attention in both; each quantity
measured in a fresh process. Also the paper's multiply-add counts for the same sizes.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from course_utils.profiling import window_cost
from course_utils.swin import attention_flops
from provenance import provenance  # benchmarks/provenance.py: commit, data, command line

OUT = Path(__file__).parent / "results" / "swin_cost.json"


def main() -> None:
    rows = window_cost([8, 16, 32, 64], dim=48, num_heads=3, repeat=5, window_size=4, fresh_process=True)
    print(f"{'map':>7} {'global ms':>10} {'window ms':>10} {'global MB':>10} {'window MB':>10} {'global GMAC':>12} {'window GMAC':>12}")
    for r in rows:
        r["global_macs"] = attention_flops(r["side"], r["side"], 48)
        r["window_macs"] = attention_flops(r["side"], r["side"], 48, 4)
        r.update(provenance("random tensors (torch.randn, seed 0)"))
        print(f"{r['side']:>3}x{r['side']:<3} {1e3 * r['global_s']:10.2f} {1e3 * r['window_s']:10.2f} "
              f"{r['global_bytes'] / 1e6:10.1f} {r['window_bytes'] / 1e6:10.1f} "
              f"{r['global_macs'] / 1e9:12.3f} {r['window_macs'] / 1e9:12.3f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"meta": {"torch": torch.__version__, "threads": torch.get_num_threads()}, "rows": rows}, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
