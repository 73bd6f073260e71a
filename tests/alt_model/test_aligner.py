"""alt_model/aligner.py: Eq. 4-5, one-hot forward with the softmax's gradient."""

from __future__ import annotations

import pytest
import torch
from test_precision import near_tie

from alt_model import EntityAligner, ModelError
from alt_model.aligner import clip_like_cosines, noise_agreement


def _inputs(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(2, 5, 16, generator=generator, requires_grad=True)
    entities = torch.randn(7, 16, generator=generator)
    return embeddings, entities


def test_forward_is_exactly_one_hot_at_the_most_similar_entity():
    embeddings, entities = _inputs()
    out = EntityAligner().eval()(embeddings, entities)
    cosine = torch.nn.functional.cosine_similarity(embeddings[..., None, :], entities, dim=-1)
    best, second = cosine.topk(2, dim=-1).values.unbind(-1)
    assert (best - second).min() > 1e-3  # no near-tie (measured: 0.057), so rounding cannot decide the argmax
    assert torch.equal(out.entity_ids, cosine.argmax(-1))
    assert torch.equal(out.weights, torch.nn.functional.one_hot(out.entity_ids, 7).float())


@pytest.mark.parametrize("temperature", [1.0, 0.1])
def test_gradient_is_the_softmax_gradient(temperature):
    embeddings, entities = _inputs()
    upstream = torch.randn(2, 5, 7, generator=torch.Generator().manual_seed(1))
    (EntityAligner(temperature).eval()(embeddings, entities).weights * upstream).sum().backward()
    ours = embeddings.grad.clone()

    embeddings.grad = None  # independent: softmax written out over cosine similarities
    cos = (embeddings @ entities.T) / (embeddings.norm(dim=-1, keepdim=True) * entities.norm(dim=-1))
    soft = torch.exp(cos / temperature) / torch.exp(cos / temperature).sum(-1, keepdim=True)
    (soft * upstream).sum().backward()
    torch.testing.assert_close(ours, embeddings.grad)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_autocast_picks_the_entity_fp32_picks(dtype):
    embedding, entities = near_tie()  # entity 1 is 5e-5 closer: in fp16 or bf16 the two cosines are one number
    aligner = EntityAligner(scale=100.0).eval()
    with torch.autocast("cpu", dtype=dtype):
        mixed = aligner(embedding, entities)
    assert mixed.entity_ids.tolist() == aligner(embedding, entities).entity_ids.tolist() == [1]


def test_gumbel_noise_only_in_training():
    embeddings, entities = _inputs()
    aligner = EntityAligner()
    eval_ids = [aligner.eval()(embeddings, entities).entity_ids for _ in range(2)]
    assert torch.equal(*eval_ids)
    torch.manual_seed(0)
    train_ids = torch.stack([aligner.train()(embeddings, entities).entity_ids for _ in range(20)])
    assert (train_ids != eval_ids[0]).any()  # cosines lie in [-1, 1]: Gumbel(0, 1) noise changes some argmaxes
    assert torch.equal(aligner.train()(embeddings, entities).weights.sum(-1), torch.ones(2, 5))


def test_temperature_must_be_positive():
    with pytest.raises(ModelError, match="temperature"):
        EntityAligner(0.0)


def test_clips_logit_scale_keeps_the_noisy_argmax_on_the_right_entity():
    # cosines spread like CLIP's (K = 913, std 0.03), the right entity 0.05 ahead: Gumbel(0, 1) noise on bare
    # cosines picks it 0.1% of the time (measured), on CLIP's scale of 100 97% (benchmarks/aligner_noise.py)
    cosines = clip_like_cosines(4000)
    assert torch.equal(EntityAligner().eval().assign(cosines).entity_ids, torch.zeros(4000, dtype=torch.long))
    assert noise_agreement(EntityAligner(scale=1.0), cosines) < 0.02
    assert noise_agreement(EntityAligner(scale=100.0), cosines) > 0.8


def test_alt_builds_the_aligner_on_clips_scale_a_learned_one_or_none(clip, corpus, tokenizer):
    from alt_model import ALT

    build = lambda mode: ALT(clip, corpus, num_frames=8, tokenizer=tokenizer, templates=["a video of {}"], aligner_scale=mode)
    clip_scale = clip.logit_scale.exp().detach()
    assert torch.equal(build("clip").aligner.scale, clip_scale) and float(clip_scale) == pytest.approx(1 / 0.07)
    assert float(build("none").aligner.scale) == 1.0
    learned = build("learned").aligner
    assert torch.allclose(learned.scale, clip_scale) and learned.log_scale.requires_grad
    assert "aligner.log_scale" in build("learned").state_dict() and "aligner.fixed_scale" not in build("clip").state_dict()
    with pytest.raises(ModelError, match="aligner_scale must be one of"):
        build("huge")
