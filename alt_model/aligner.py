"""Entity-to-region alignment (paper Sec. 3.1, Eq. 4-5).

Each embedding of E (the class token and the regions) is matched to the K text entities of S by
cosine similarity; a Gumbel-softmax over K (Gumbel(0, 1) noise in training only, so evaluation is
deterministic) gives A (Eq. 4) and the straight-through trick makes the forward pass one-hot while
the gradient is the softmax's (Eq. 5). Eq. 4 has no temperature; `temperature` (default 1, the
equation as written) divides the noisy logits, as in Gumbel-softmax.

`scale` multiplies the cosines before the noise. Eq. 4 adds Gumbel(0, 1) noise (std 1.28) to bare
cosines, which for CLIP embeddings differ by hundredths: the training-time argmax is then nearly a
random entity and training and evaluation see different queries. GroupViT, whose straight-through
trick the paper follows, takes its logits from learned projections, not bounded cosines. ALT builds
the aligner with CLIP's own logit scale (`model.aligner_scale: clip`, 100 for OpenAI's weights), a
learned one initialised there (`learned`), or 1 (`none`: Eq. 4 literally);
`benchmarks/aligner_noise.py` measures how often the noisy and the noiseless argmax agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import ModelError
from .precision import fp32_cosines


@dataclass
class AlignerOutput:
    """Â and, for explanations, the index of the entity each embedding is aligned to."""

    weights: Tensor  # [..., K] one-hot forward, softmax gradient (Eq. 5)
    entity_ids: Tensor  # [...] argmax entity per embedding


class EntityAligner(nn.Module):
    """Â = one-hot(argmax A) + A - detach(A), with A the Gumbel-softmax of cosine similarities over S."""

    def __init__(self, temperature: float = 1.0, scale: float | Tensor = 1.0, learn_scale: bool = False) -> None:
        super().__init__()
        scale = torch.as_tensor(scale, dtype=torch.float32).detach().clone()
        if temperature <= 0 or (scale.device.type != "meta" and not scale > 0):
            raise ModelError(f"temperature and scale must be positive, got {temperature} and {scale}")
        self.temperature = temperature
        if learn_scale:  # learned in log space, so it stays positive
            self.log_scale = nn.Parameter(scale.log())
        else:  # not saved: it comes from the CLIP model the aligner is built over
            self.register_buffer("fixed_scale", scale, persistent=False)

    @property
    def scale(self) -> Tensor:
        return self.log_scale.exp() if hasattr(self, "log_scale") else self.fixed_scale

    def forward(self, embeddings: Tensor, entities: Tensor) -> AlignerOutput:
        """embeddings [..., d] (E), entities [K, d] (S) -> Â [..., K]."""
        cosines = fp32_cosines(embeddings, entities)  # Eq. 4: <e_i, s_j> / (|e_i| |s_j|), in fp32 under autocast too
        return self.assign(cosines)

    def assign(self, cosines: Tensor) -> AlignerOutput:
        """Â from the cosine similarities [..., K]: scale, Gumbel noise in training (Eq. 4), straight-through one-hot (Eq. 5)."""
        logits = self.scale * cosines  # on the scale CLIP's logits live on, before the noise (see the module docstring)
        if self.training:  # Eq. 4: + γ, γ ~ Gumbel(0, 1)
            logits = logits - torch.empty_like(logits).exponential_().log()
        soft = (logits / self.temperature).softmax(dim=-1)
        ids = soft.argmax(dim=-1)
        hard = F.one_hot(ids, soft.shape[-1]).to(soft.dtype)
        return AlignerOutput(weights=hard + (soft - soft.detach()), entity_ids=ids)  # Eq. 5, exactly one-hot forward


def clip_like_cosines(regions: int, entities: int = 913, mean: float = 0.20, std: float = 0.03, lead: float = 0.05,
                      over_best: bool = True, seed: int = 0) -> Tensor:
    """Cosines spread like CLIP's region-to-entity similarities (mean 0.20, std 0.03 over K = 913 entities)
    with one right entity per region (entity 0) `lead` ahead of the best other one (`over_best`), or
    `lead` above the mean, where the best of the 912 others is usually higher still."""
    generator = torch.Generator().manual_seed(seed)
    cosines = mean + std * torch.randn(regions, entities, generator=generator)
    cosines[:, 0] = (cosines[:, 1:].max(dim=1).values if over_best else mean) + lead
    return cosines


def noise_agreement(aligner: EntityAligner, cosines: Tensor, seed: int = 0) -> float:
    """How often the training-time (noisy) assignment equals the evaluation-time one, over rows of `cosines`."""
    torch.manual_seed(seed)
    with torch.no_grad():
        noisy = aligner.train().assign(cosines).entity_ids
        clean = aligner.eval().assign(cosines).entity_ids
    return float((noisy == clean).float().mean())
