"""ALT as the paper built it (issue 17): Eq. 3's layers, the adapter's width, Eq. 6's order, Table 5a's
self-attention adapter, Table 6a's frozen encoder and Table 8's linear probe, each against an
independent computation on the tiny open_clip ViT (64 patches, 4 blocks, width 64, 32-d joint space)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tiny import make_corpus
from videos import REPO, tiny_overrides

from alt_model import ALT, ModelError, RegionAwareEncoder, TokenReducer
from alt_model.checkpoint import CHECKPOINT_FORMAT_VERSION, load_checkpoint, model_state
from alt_model.config import load_config, to_dict
from alt_model.factory import create_model, load_trained
from alt_model.train import param_groups, train

LABELS = ["abseiling", "playing guitar", "riding a bike"]
N, L = 64, 4


def _video(batch: int = 2, frames: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, frames, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def _alt(clip, corpus, tokenizer, **options) -> ALT:
    torch.manual_seed(0)
    return ALT(clip, corpus, num_frames=8, r=8, tokenizer=tokenizer, templates=["a video of {}"], **options).eval()


def _intermediate(clip, images, index: int) -> torch.Tensor:
    """Tokens [B, 1 + N, width] after block `index`, by open_clip's own forward_intermediates (r = 0)."""
    out = clip.visual.forward_intermediates(images, indices=[index], output_fmt="NLC", output_extra_tokens=True)
    return torch.cat([out["image_intermediates_prefix"][0], out["image_intermediates"][0]], dim=1)


@pytest.mark.parametrize("cls_layer, region_layer", [(-1, -2), (-2, -2), (1, -1), (0, 2)])
def test_eq3_takes_each_part_of_e_after_its_own_block(clip, cls_layer, region_layer):
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = RegionAwareEncoder(clip.visual, r=0, cls_layer=cls_layer, region_layer=region_layer)(images)
        cls_tokens, region_tokens = _intermediate(clip, images, cls_layer % L), _intermediate(clip, images, region_layer % L)
    project = lambda x: clip.visual.ln_post(x) @ clip.visual.proj  # noqa: E731
    torch.testing.assert_close(out.cls, project(cls_tokens[:, 0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.regions, project(region_tokens[:, 1:]), atol=1e-5, rtol=0)


def test_blocks_after_both_layers_do_not_run_and_learn_nothing(clip):
    ran = []
    for index, block in enumerate(clip.visual.transformer.resblocks):
        block.mlp.register_forward_hook(lambda module, args, out, index=index: ran.append(index))  # tome_block runs the parts
    encoder = RegionAwareEncoder(clip.visual, r=8, cls_layer=-2, region_layer=1)
    out = encoder(torch.randn(2, 3, 64, 64))
    assert ran == [0, 1, 2]  # the last block is skipped
    assert out.regions.shape[1] == N - 2 * 8  # regions after block 1: two blocks merged
    assert not any(p.requires_grad for p in clip.visual.transformer.resblocks[3].parameters())
    assert all(p.requires_grad for p in clip.visual.transformer.resblocks[2].parameters())


@pytest.mark.parametrize("layer", [4, -5])
def test_a_layer_outside_the_tower_is_refused(clip, layer):
    with pytest.raises(ModelError, match=f"cls_layer must be a block index from -4 to 3 .*got {layer}"):
        RegionAwareEncoder(clip.visual, cls_layer=layer)


@pytest.mark.parametrize("width, expected", [("vision", 64), ("joint", 32)])
def test_the_adapter_runs_at_the_towers_width_and_z_returns_to_the_joint_space(clip, corpus, tokenizer, width, expected):
    model = _alt(clip, corpus, tokenizer, adapter_width=width)
    assert model.adapter.blocks[0].cross_attn.embed_dim == expected and model.frame_reducer.mlp[0].in_features == 32
    assert model.adapter.head[-1].out_features == 32
    assert model(_video(), LABELS).video_embedding.shape == (2, 32)


def test_eq6_orders_against_a_hand_computation():
    torch.manual_seed(0)
    tokens, weights = torch.randn(5, 7, 32, dtype=torch.float64), torch.rand(5, 7, dtype=torch.float64).softmax(dim=-1)
    per_token, pooled = TokenReducer(32, 64, "mlp-mean").double(), TokenReducer(32, 64, "sum-mlp").double()
    pooled.load_state_dict(per_token.state_dict())
    by_hand = lambda x: F.linear(F.gelu(F.linear(x, per_token.mlp[0].weight, per_token.mlp[0].bias)),  # noqa: E731
                                 per_token.mlp[2].weight, per_token.mlp[2].bias)
    torch.testing.assert_close(per_token(tokens, weights), (weights[..., None] * by_hand(tokens)).sum(dim=1), atol=1e-12, rtol=0)
    torch.testing.assert_close(pooled(tokens, weights), by_hand((weights[..., None] * tokens).sum(dim=1)), atol=1e-12, rtol=0)
    assert (per_token(tokens, weights) - pooled(tokens, weights)).abs().max() > 1e-2  # the order matters (the MLP is not linear)


def test_eq6_as_written_weighs_every_token_alike(clip, corpus, tokenizer):
    model = _alt(clip, corpus, tokenizer, reduce="sum-mlp")
    weights = model.token_weights(model(_video(), LABELS).frames)
    torch.testing.assert_close(weights, torch.full_like(weights, 1 / weights.shape[1]))


def test_self_attention_adapter_replaces_the_query_path(clip, corpus, tokenizer):
    model = _alt(clip, corpus, tokenizer, adapter="self-attention")
    assert not any(hasattr(model, name) for name in ("aligner", "query_reducer", "learned_queries"))
    assert all(b.cross_attn is None and b.conv is None and b.self_attn is not None for b in model.adapter.blocks)
    seen = []
    model.adapter.register_forward_hook(lambda module, args, out: seen.append(args))
    out = model(_video(), LABELS)
    assert out.entity_ids is None and torch.equal(seen[0][0], seen[0][1])  # Table 5a: the layers run over Ê alone
    other = _alt(clip, make_corpus(seed=1), tokenizer, adapter="self-attention")(_video(), LABELS)
    assert torch.equal(other.logits, out.logits)  # the corpus plays no part


def test_linear_head_scores_a_fixed_label_set(clip, corpus, tokenizer):
    model = _alt(clip, corpus, tokenizer, head="linear", num_classes=3)
    out = model(_video(), LABELS)
    head = model.linear_head.linear
    torch.testing.assert_close(out.logits, F.normalize(out.video_embedding, dim=-1) @ head.weight.T + head.bias)
    assert not model.text_head.logit_scale.requires_grad
    with pytest.raises(ModelError, match="scores the 3 labels it was trained on, not 2"):
        model(_video(), LABELS[:2])
    with pytest.raises(ModelError, match="needs num_classes"):
        _alt(clip, corpus, tokenizer, head="linear")


def test_freezing_leaves_exactly_the_named_parts_without_gradient(clip, corpus, tokenizer):
    model = _alt(clip, corpus, tokenizer).train()
    model.freeze("encoder")
    model(_video(), LABELS).logits.sum().backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert all(p.grad is not None for name, p in model.named_parameters() if not name.startswith("encoder."))
    cfg = load_config(None, {"train.freeze": "encoder"})
    assert [g["name"] for g in param_groups(model, cfg)] == ["adapter", "adapter_no_decay"]  # no ViT group
    with pytest.raises(ModelError, match="build the model with head='linear'"):
        model.freeze("all-but-head")
    probe = _alt(clip, corpus, tokenizer, head="linear", num_classes=3)
    probe.freeze("all-but-head")
    assert [name for name, p in probe.named_parameters() if p.requires_grad] == ["linear_head.linear.weight", "linear_head.linear.bias"]


@pytest.mark.parametrize("overrides, message", [
    ({"train.freeze": "vit"}, "train.freeze must be one of none, encoder, all-but-head"),
    ({"train.freeze": "all-but-head"}, "set model.head=linear too"),
    ({"model.adapter_width": "wide"}, "model.adapter_width must be one of vision, joint"),
    ({"model.reduce": "mean"}, "model.reduce must be one of mlp-mean, sum-mlp"),
    ({"model.adapter": "mlp"}, "model.adapter must be one of alt, self-attention"),
    ({"model.head": "mlp"}, "model.head must be one of text, linear"),
    ({"model.cls_layer": "last"}, "model.cls_layer: expected int"),
])
def test_config_refuses_unknown_switch_values(overrides, message):
    with pytest.raises(ModelError, match=message):
        load_config(None, overrides)


def _train(task, out, **extra):
    return train(load_config(REPO / "configs/tiny_cpu.yaml", tiny_overrides(task, out, **extra)), task.corpus)


def test_a_frozen_encoder_ends_training_as_it_started(task, tmp_path):
    _train(task, tmp_path / "frozen", train__epochs=1, eval__every=0, train__freeze="encoder")
    trained = load_checkpoint(tmp_path / "frozen/last.pt")["model"]
    start = model_state(create_model(load_config(None, {}), task.corpus))
    vit = [k for k in start if k.startswith("encoder.")]
    assert vit and all(torch.equal(trained[k], start[k]) for k in vit)  # CLIP's weights, untouched
    assert any(not torch.equal(trained[k], start[k]) for k in start if k.startswith("adapter."))


def test_a_linear_probe_trains_its_head_alone_on_a_trained_model(task, trained, tmp_path):
    result = _train(task, tmp_path / "probe", train__epochs=2, eval__every=2, train__init=trained / "last.pt", model__head="linear",
                    train__freeze="all-but-head", train__lr_adapter=0.05, aug__label_smoothing=0.0)
    base, probe = load_checkpoint(trained / "last.pt")["model"], load_checkpoint(tmp_path / "probe/last.pt")["model"]
    assert set(probe) - set(base) == {"linear_head.linear.weight", "linear_head.linear.bias"}
    assert all(torch.equal(probe[k], base[k]) for k in base)  # the representation is fixed (Table 8)
    assert result.metrics.top1 > 0.25  # above chance (4 classes) after 2 epochs of the head alone
    model, cfg, _ = load_trained(tmp_path / "probe/last.pt")
    assert cfg.model.head == "linear" and model.linear_head.linear.out_features == 4


def test_a_format_1_checkpoint_loads_with_the_joint_width_it_was_built_with(task, tmp_path):
    cfg = load_config(None, {"model.adapter_width": "joint"})
    model = create_model(cfg, task.corpus)
    saved = to_dict(cfg)
    del saved["model"]["adapter_width"]  # format 1 had no such key: its adapter ran at the joint width
    torch.save({"model": model_state(model), "config": saved, "labels": LABELS, "corpus": str(task.corpus), "format_version": 1},
               tmp_path / "old.pt")
    loaded, loaded_cfg, _ = load_trained(tmp_path / "old.pt")
    assert CHECKPOINT_FORMAT_VERSION == 2 and loaded_cfg.model.adapter_width == "joint"
    assert loaded.adapter.blocks[0].cross_attn.embed_dim == 32
