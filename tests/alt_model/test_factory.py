"""alt_model/factory.py and the `model:` config section: every ALT option set from YAML, one factory builds it."""

from __future__ import annotations

import pytest
import torch
from tiny import TINY_CLIP, TINY_VIT, make_clip, make_corpus

from alt_model import ModelError
from alt_model.config import ModelConfig, load_config, parse_overrides
from alt_model.factory import create_model

LABELS = ["abseiling", "playing guitar", "riding a bike"]


@pytest.fixture
def corpus_file(tmp_path):
    """A corpus.pt naming the tiny ViT and its weights file, and the CLIP model those weights are."""
    source = make_clip(seed=5)
    torch.save(source.state_dict(), tmp_path / "tiny.pt")
    torch.save(make_corpus() | {"model": TINY_VIT, "pretrained": str(tmp_path / "tiny.pt")}, tmp_path / "corpus.pt")
    return tmp_path / "corpus.pt", source


def test_the_factory_loads_the_clip_model_the_corpus_names(corpus_file):
    path, source = corpus_file
    model = create_model(ModelConfig(frames=8), path)
    torch.testing.assert_close(model.encoder.visual.conv1.weight, source.visual.conv1.weight)
    video = torch.randn(2, 8, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert model.eval()(video, LABELS).logits.shape == (2, 3)
    with pytest.raises(ModelError, match="embedded with"):
        create_model(ModelConfig(name="alt-tiny-clip"), path)


@pytest.mark.parametrize("activation, warned", [("gelu", False), ("quick_gelu", True), (None, True)],
                         ids=["same", "other", "before-it-was-recorded"])
def test_a_corpus_embedded_by_a_clip_of_another_activation_is_named(corpus_file, tmp_path, caplog, activation, warned):
    # the tiny ViT is an open_clip name with a file: GELU. A corpus embedded by QuickGELU (or before the toolkit recorded
    # the activation, when OpenAI's tags ran GELU) holds entities off this CLIP's space
    path, _ = corpus_file
    bundle = torch.load(path, weights_only=True)
    bundle["provenance"] = {"model": TINY_VIT} | ({"activation": activation} if activation else {})
    torch.save(bundle, tmp_path / "stale.pt")
    create_model(ModelConfig(frames=8), tmp_path / "stale.pt")
    lines = [r.getMessage() for r in caplog.records if "embed it again with corpus embed" in r.getMessage()]
    assert len(lines) == int(warned)
    if activation is None:
        assert "did not record CLIP's activation" in lines[0] and "runs gelu" in lines[0]


def test_every_model_option_is_set_from_yaml(corpus_file, tmp_path):
    (tmp_path / "templates.txt").write_text("a clip of {}\nsomeone {}\n")
    (tmp_path / "run.yaml").write_text(
        "model:\n  r: [8, 8, 4, 0]\n  adapter_depth: 2\n  adapter_heads: 4\n  temperature: 0.5\n  aligner_scale: learned\n"
        "  queries: action-names\n  regions: false\n  temporal_conv: false\n  self_attention: false\n  grad_checkpointing: true\n"
        "  cls_layer: -2\n  region_layer: 1\n  adapter_width: joint\n  reduce: sum-mlp\n"
        f"  templates: {tmp_path / 'templates.txt'}\n")
    cfg = load_config(tmp_path / "run.yaml")
    model = create_model(cfg, corpus_file[0])
    assert model.encoder.r == [8, 8, 4, 0] and model.encoder.merge_schedule(65) == [8, 8, 4, 0]
    assert (model.encoder.cls_layer, model.encoder.region_layer) == (2, 1)
    assert len(model.adapter.blocks) == 2 and model.adapter.blocks[0].cross_attn.num_heads == 4
    assert model.adapter.blocks[0].cross_attn.embed_dim == 32 and model.frame_reducer.order == "sum-mlp"  # the joint width
    assert model.aligner.temperature == 0.5 and hasattr(model.aligner, "log_scale")
    assert model.queries == "action-names" and not model.regions
    assert model.adapter.blocks[0].conv is None and model.adapter.blocks[0].self_attn is None
    assert model.encoder.visual.transformer.grad_checkpointing
    assert model.text_head.templates == ["a clip of {}", "someone {}"]
    other = load_config(None, parse_overrides(["model.queries=learnable", "model.adapter=self-attention", "model.head=linear"]))
    model = create_model(other, corpus_file[0], num_classes=3)
    assert model.adapter.blocks[0].cross_attn is None and model.linear_head.linear.out_features == 3
    listed = load_config(None, parse_overrides(['model.templates=["a video of {}"]']))
    assert create_model(listed, corpus_file[0]).text_head.templates == ["a video of {}"]


def test_r_is_one_number_or_one_per_block_and_is_checked():
    assert load_config(None, {"model.r": "4"}).model.r == 4
    assert load_config(None, {"model.r": "[8, 8, 4, 4]"}).model.r == [8, 8, 4, 4]
    with pytest.raises(ModelError, match="model.r must be a non-negative"):
        load_config(None, {"model.r": "[8, -1]"})
    with pytest.raises(ModelError, match=r"model.r: expected int or list\[int\], got '8,8'"):
        load_config(None, {"model.r": "8,8"})


@pytest.mark.parametrize("overrides, message", [
    ({"model.adapter_heads": "0"}, "model.adapter_heads must be at least 1"),
    ({"model.templates": '["a video"]'}, "every template needs a {} placeholder"),
])
def test_model_options_no_model_can_use_are_refused(overrides, message):
    with pytest.raises(ModelError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load_config(None, overrides)


def test_adapter_heads_must_divide_the_joint_space(corpus_file):
    with pytest.raises(ModelError, match="adapter_heads must divide the adapter's 64 channels, got 5"):
        create_model(ModelConfig(adapter_heads=5), corpus_file[0])


def test_tiny_configs_build_through_open_clips_factory():
    for name, patches in ((TINY_VIT, 64), (TINY_CLIP, 4)):
        visual = make_clip(name).visual
        assert visual.grid_size[0] * visual.grid_size[1] == patches
