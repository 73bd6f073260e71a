"""Heads: the text head (paper Sec. 3.3, Eq. 10), class embeddings from CLIP's frozen text encoder
and cosine logits; and the linear probe of Table 8 (`LinearHead`).

Prompt ensembling as in CLIP and ActionCLIP: each label is put into every template of
`prompts/label_templates.txt` (one per line, `{}` where the label goes), the texts are embedded
and L2-normalised, the template embeddings are averaged and the mean is normalised again.
Class embeddings are cached per label set. logits = scale · cᵀz with z normalised too (CLIP's
cosine logits); the scale starts at the CLIP model's `logit_scale` and is learned, capped at 100
as in CLIP.

The CLIP model is held but not registered as a submodule: its visual tower belongs to the
encoder and its frozen text tower stays out of the state_dict (it reloads from the pretrained
weights); it is moved to the head's device when it encodes a new label set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch.nn.functional as F
from torch import Tensor, nn

from alt_common.clip import encode_texts
from alt_common.resources import label_templates_file

from .errors import ModelError

TEMPLATES_FILE = label_templates_file()
MAX_LOGIT_SCALE = 100.0


def load_templates(path: str | Path = TEMPLATES_FILE) -> list[str]:
    """The prompt templates of a file: one per non-empty line, each with a `{}` placeholder."""
    try:
        lines = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError:
        raise ModelError(f"{path}: template file not found; pass a file with one template per line, `{{}}` for the label") from None
    missing = [line for line in lines if "{}" not in line]
    if not lines or missing:
        raise ModelError(f"{path}: every template needs a `{{}}` placeholder for the label (bad: {missing[:3]})")
    return lines


class TextHead(nn.Module):
    """Eq. 10: logits of video embeddings z [B, d] against the prompt-ensembled labels [C, d]."""

    def __init__(self, clip: nn.Module, tokenizer: Callable[[list[str]], Tensor], templates: Sequence[str] | None = None,
                 normalize: bool = True) -> None:
        super().__init__()
        object.__setattr__(self, "clip", clip)  # not a submodule, see the module docstring
        self.tokenizer = tokenizer
        self.templates = list(templates) if templates is not None else load_templates()
        self.normalize = normalize
        self.logit_scale = nn.Parameter(clip.logit_scale.detach().clone().reshape(()))
        self._cache: dict[tuple[str, ...], Tensor] = {}

    def class_embeddings(self, labels: Sequence[str]) -> Tensor:
        """[C, d] ensembled embeddings of the labels, cached per label set: L2-normalised, or with `normalize=False`
        the mean of the raw text features over the templates (what X-CLIP's prompt generator takes)."""
        key = tuple(labels)
        if key not in self._cache:
            texts = [template.replace("{}", label) for label in key for template in self.templates]
            self.clip.to(self.logit_scale.device)
            per_template = encode_texts(self.clip, self.tokenizer(texts), normalize=self.normalize).clone()
            ensembled = per_template.view(len(key), len(self.templates), -1).mean(dim=1)
            self._cache[key] = F.normalize(ensembled, dim=-1) if self.normalize else ensembled
        return self._cache[key].to(self.logit_scale.device)

    def forward(self, z: Tensor, classes: Tensor) -> Tensor:
        """z [B, d], class embeddings [C, d] -> logits [B, C] (Eq. 10)."""
        scale = self.logit_scale.exp().clamp(max=MAX_LOGIT_SCALE)
        return scale * F.normalize(z, dim=-1) @ classes.T

    def extra_repr(self) -> str:
        return f"templates={len(self.templates)}, cached_label_sets={len(self._cache)}"




class LinearHead(nn.Module):
    """Table 8's linear probe: logits = W·ẑ + b over a fixed label set, ẑ the L2-normalised z of Eq. 9
    (Eq. 10 reads z only through its direction, so its length carries nothing a probe should fit)."""

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, num_classes)

    def forward(self, z: Tensor, classes: Tensor) -> Tensor:
        """z [B, d] -> logits [B, C]; `classes` [C, d] only says how many labels the caller scores."""
        if len(classes) != self.linear.out_features:
            raise ModelError(f"a linear-probe model (model.head: linear) scores the {self.linear.out_features} labels it was "
                             f"trained on, not {len(classes)}; evaluate it on its training label set")
        return self.linear(F.normalize(z, dim=-1))
