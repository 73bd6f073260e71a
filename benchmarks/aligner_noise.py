"""How often the aligner's training-time (Gumbel-noised) entity equals its evaluation-time one, with the
cosines on their own scale (Eq. 4 literally) and on CLIP's logit scale (ALT's default), side by side.

Cosines are drawn like CLIP's region-to-entity similarities: mean 0.20, std 0.03 over K = 913 entities,
the right entity 0.05 ahead of the best other one (`alt_model.aligner.clip_like_cosines`).

    python benchmarks/aligner_noise.py [--regions 20000]
"""

from __future__ import annotations

import argparse

from alt_model.aligner import EntityAligner, clip_like_cosines, noise_agreement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=20000)
    args = parser.parse_args()
    ahead = clip_like_cosines(args.regions)
    near = clip_like_cosines(args.regions, over_best=False)
    print(f"{args.regions} regions, K = {ahead.shape[1]} entities: how often the noisy argmax is the noiseless one")
    print(f"{'scale':>30}  {'right entity 0.05 ahead of the rest':>36}  {'0.05 above the mean':>20}")
    for name, scale in (("1 (Eq. 4 literally: none)", 1.0), ("14.3 (CLIP's initial 1/0.07)", 1 / 0.07),
                        ("100 (OpenAI CLIP's: clip)", 100.0)):
        aligner = EntityAligner(scale=scale)
        print(f"{name:>30}  {100 * noise_agreement(aligner, ahead):35.1f}%  {100 * noise_agreement(aligner, near):19.1f}%")


if __name__ == "__main__":
    main()
