"""ALT's parameters and GFLOPs beside every figure the paper gives (Table 1, Table C5 = Table 6e), the
tunable parameters of Table 6a's frozen encoder, and X-CLIP's GFLOPs beside its paper's Table 1 (per view);
counted on the meta device (`alt_model.flops`).

    python benchmarks/model_cost.py
"""

from __future__ import annotations

from alt_model.flops import PAPER_COSTS, XCLIP_COSTS, count_gflops, count_params


def main() -> None:
    print("| paper row | GFLOPs (paper) | GFLOPs (ours) | ratio | params M (paper) | params M (ours) | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in PAPER_COSTS + XCLIP_COSTS:
        options = {**dict(row.options), "arch": row.arch}
        gflops = row.views * count_gflops(row.model, row.frames, row.r, **options)
        params = count_params(row.model, row.frames, **options).total / 1e6
        paper_params = f"{row.params_m:.1f} | {params:.1f} | {params / row.params_m:.3f}" if row.params_m else f"- | {params:.1f} | -"
        print(f"| {row.label} | {row.gflops:g} | {gflops:.1f} | {gflops / row.gflops:.3f} | {paper_params} |")
    frozen = count_params("ViT-B-16", freeze="encoder")
    print(f"\nTable 6a (frozen encoder, ViT-B/16): tunable {frozen.tunable / 1e6:.1f}M of {frozen.total / 1e6:.1f}M "
          f"(paper: 38M of 134M; 134 - 86.2 for the image tower = 47.8)")
    joint = count_params("ViT-B-16", adapter_width="joint")
    print(f"model.adapter_width=joint (ViT-B/16): {joint.total / 1e6:.1f}M, of which {joint.added / 1e6:.1f}M added")


if __name__ == "__main__":
    main()
