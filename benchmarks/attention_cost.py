"""Naive vs fused attention: time and peak memory as the sequence grows (notebook 01, README).

    python benchmarks/attention_cost.py            # 64..4096 tokens, writes results/attention_cost.json
    python benchmarks/attention_cost.py --max 1024 --repeat 1

Forward pass, batch 1, 4 heads of 16 channels (embed 64), float32 on the CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from course_utils.profiling import attention_cost
from provenance import provenance  # benchmarks/provenance.py: commit, data, command line

OUT = Path(__file__).parent / "results" / "attention_cost.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max", type=int, default=4096, help="largest sequence length (a power of two)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    lengths = [2**p for p in range(6, args.max.bit_length()) if 2**p <= args.max]
    rows = attention_cost(lengths, repeat=args.repeat, fresh_process=True)
    for r in rows:
        r.update(provenance("random tensors (torch.randn, seed 0)"))
    print(f"{'tokens':>7} {'naive ms':>9} {'fused ms':>9} {'speed-up':>8} {'naive MB':>9} {'fused MB':>9} {'L² scores MB':>12}")
    for r in rows:
        print(f"{r['length']:7d} {1e3 * r['naive_s']:9.2f} {1e3 * r['fused_s']:9.2f} {r['naive_s'] / r['fused_s']:8.1f} "
              f"{r['naive_bytes'] / 1e6:9.1f} {r['fused_bytes'] / 1e6:9.1f} {r['scores_bytes'] / 1e6:12.1f}")
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(), "dim": 64, "num_heads": 4}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
