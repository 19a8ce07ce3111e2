"""The course ViT against timm's VisionTransformer, same configuration, side by side in one run.

    python benchmarks/vit_vs_timm.py            # writes results/vit_vs_timm.json

Both: 32×32 images, patch 4 (64 tokens + CLS), 192 wide, 6 blocks, 3 heads, MLP 384, learned
positions, CLS pooling, no dropout. One training step = forward + cross-entropy + backward +
AdamW step on a batch of 128. The two models alternate step by step (so a slow moment of the
machine hits both), after warm-up steps; we report the median step time of each.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import timm
import torch
import torch.nn.functional as F

from course_utils import vit
from provenance import provenance  # benchmarks/provenance.py: commit, data, command line

OUT = Path(__file__).parent / "results" / "vit_vs_timm.json"
CONFIG = {"patch_size": 4, "embed_dim": 192, "depth": 6, "num_heads": 3, "mlp_dim": 384}


def models():
    ours = vit.ViT(32, **CONFIG)
    theirs = timm.models.vision_transformer.VisionTransformer(
        img_size=32, patch_size=CONFIG["patch_size"], num_classes=10, embed_dim=CONFIG["embed_dim"],
        depth=CONFIG["depth"], num_heads=CONFIG["num_heads"], mlp_ratio=CONFIG["mlp_dim"] / CONFIG["embed_dim"],
        qkv_bias=True, class_token=True, global_pool="token")
    return {"course_utils.vit.ViT": ours, "timm VisionTransformer": theirs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.manual_seed(0)
    x, y = torch.randn(args.batch_size, 3, 32, 32), torch.randint(0, 10, (args.batch_size,))
    runs = {}
    for name, model in models().items():
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

        def step(model=model, opt=opt):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        runs[name] = {"step": step, "times": [], "params": vit.count_parameters(model)}
    for _ in range(3):  # warm-up
        for run in runs.values():
            run["step"]()
    for _ in range(args.steps):
        for run in runs.values():
            start = time.perf_counter()
            run["step"]()
            run["times"].append(time.perf_counter() - start)
    rows = [{"model": name, "params": run["params"], "median_step_ms": round(1000 * statistics.median(run["times"]), 1),
             "min_step_ms": round(1000 * min(run["times"]), 1), **provenance("random tensors (torch.randn, seed 0)")}
            for name, run in runs.items()]
    ratio = rows[0]["median_step_ms"] / rows[1]["median_step_ms"]
    result = {"config": CONFIG, "batch_size": args.batch_size, "steps": args.steps, "rows": rows,
              "ratio_course_over_timm": round(ratio, 3), "torch": torch.__version__, "timm": timm.__version__,
              "threads": torch.get_num_threads(), "machine": platform.machine()}
    args.out.write_text(json.dumps(result, indent=1))
    for r in rows:
        print(f"{r['model']:24s} {r['params']:>10,d} params  median step {r['median_step_ms']:7.1f} ms")
    print(f"course / timm step time: {ratio:.3f}")


if __name__ == "__main__":
    main()
