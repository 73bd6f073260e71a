"""Entity-to-region alignment (paper Sec. 3.1, Eq. 4-5).

Each embedding of E (the class token and the regions) is matched to the K text entities of S by
cosine similarity; a Gumbel-softmax over K (Gumbel(0, 1) noise in training only, so evaluation is
deterministic) gives A (Eq. 4) and the straight-through trick makes the forward pass one-hot while
the gradient is the softmax's (Eq. 5). Eq. 4 has no temperature; `temperature` (default 1, the
equation as written) divides the noisy logits, as in Gumbel-softmax.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import ModelError


@dataclass
class AlignerOutput:
    """Â and, for explanations, the index of the entity each embedding is aligned to."""

    weights: Tensor  # [..., K] one-hot forward, softmax gradient (Eq. 5)
    entity_ids: Tensor  # [...] argmax entity per embedding


class EntityAligner(nn.Module):
    """Â = one-hot(argmax A) + A - detach(A), with A the Gumbel-softmax of cosine similarities over S."""

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ModelError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature

    def forward(self, embeddings: Tensor, entities: Tensor) -> AlignerOutput:
        """embeddings [..., d] (E), entities [K, d] (S) -> Â [..., K]."""
        logits = F.normalize(embeddings, dim=-1) @ F.normalize(entities, dim=-1).T  # Eq. 4: <e_i, s_j> / (|e_i| |s_j|)
        if self.training:  # Eq. 4: + γ, γ ~ Gumbel(0, 1)
            logits = logits - torch.empty_like(logits).exponential_().log()
        soft = (logits / self.temperature).softmax(dim=-1)
        ids = soft.argmax(dim=-1)
        hard = F.one_hot(ids, soft.shape[-1]).to(soft.dtype)
        return AlignerOutput(weights=hard + (soft - soft.detach()), entity_ids=ids)  # Eq. 5, exactly one-hot forward
