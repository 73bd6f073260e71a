"""alt_model/text_head.py: prompt ensembling over the label templates, caching, Eq. 10 logits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from alt_model import ModelError, TextHead, load_templates

LABELS = ["abseiling", "playing guitar", "riding a bike"]


def test_templates_file_holds_actionclips_16_templates():
    templates = load_templates()
    assert len(templates) == 16 and all("{}" in t for t in templates)


def test_ensembled_embedding_is_the_normalised_mean_of_normalised_template_embeddings(clip, tokenizer):
    head = TextHead(clip, tokenizer)
    with torch.no_grad():
        per_template = torch.stack([F.normalize(clip.encode_text(tokenizer([t.replace("{}", label) for t in head.templates])), dim=-1)
                                    for label in LABELS])
    expected = F.normalize(per_template.mean(dim=1), dim=-1)
    torch.testing.assert_close(head.class_embeddings(LABELS), expected, atol=1e-5, rtol=0)


def test_class_embeddings_are_cached_per_label_set(clip, tokenizer, monkeypatch):
    head = TextHead(clip, tokenizer, templates=["a video of {}"])
    first = head.class_embeddings(LABELS)
    monkeypatch.setattr(clip, "encode_text", lambda *a, **k: pytest.fail("a cached label set was encoded again"))
    monkeypatch.setattr(clip, "transformer", None)  # the length-bucketed path is blocked too
    assert torch.equal(head.class_embeddings(LABELS), first)
    assert len(head._cache) == 1


def test_logits_are_scale_times_cosine(clip, tokenizer):
    head = TextHead(clip, tokenizer, templates=["{}"])
    classes = head.class_embeddings(LABELS)
    z = torch.randn(4, classes.shape[1], generator=torch.Generator().manual_seed(0))
    logits = head(z, classes)
    expected = clip.logit_scale.exp() * F.cosine_similarity(z[:, None], classes[None], dim=-1)
    torch.testing.assert_close(logits, expected)
    logits.sum().backward()
    assert head.logit_scale.grad is not None and not any(p.grad is not None for p in clip.transformer.parameters())


def test_templates_without_a_placeholder_are_refused(tmp_path):
    path = tmp_path / "templates.txt"
    path.write_text("a video of {}\na video\n")
    with pytest.raises(ModelError, match="placeholder"):
        load_templates(path)
