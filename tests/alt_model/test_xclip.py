"""alt_model/xclip.py and alt_model/hf_xclip.py: X-CLIP against `transformers`' XCLIPModel (logits both ways, for a
small config and the B/32 and B/16 shapes), and what each X-CLIP module is there for (DESIGN §10)."""

from __future__ import annotations

from pathlib import Path

import open_clip
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tiny import make_clip
from transformers import XCLIPConfig, XCLIPModel

from alt_model import ModelError, load_hf_xclip
from alt_model.hf_xclip import our_weights, save_hf_xclip, to_hf
from alt_model.xclip import XCLIP

LABELS = ["a dog", "playing the violin", "x"]
TOKENIZER = open_clip.tokenizer.SimpleTokenizer()
SMALL = dict(  # a small HF config: 32 px frames of 16 patches, 2 blocks a tower, a 32-d joint space
    projection_dim=32, prompt_num_attention_heads=4,
    text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4),
    vision_config=dict(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                       patch_size=8, num_frames=4, mit_hidden_size=32, mit_intermediate_size=64, mit_num_attention_heads=4),
)
CONFIGS = {  # name: (HF config, open_clip model of the same shapes, frames, videos)
    "small": (SMALL, None, 4, 2),
    "B/32": (dict(vision_config=dict(patch_size=32, num_frames=8)), "ViT-B-32", 8, 1),  # XCLIPConfig's defaults: B/32
    "B/16": (dict(vision_config=dict(patch_size=16, num_frames=8)), "ViT-B-16", 8, 1),
}


def redraw_constants(model: torch.nn.Module) -> None:
    """Add noise to every tensor initialised to one value (biases, norms, the prompts' α) so that each one matters."""
    with torch.no_grad():
        for p in model.parameters():
            if p.numel() > 1 and p.min() == p.max():
                p.add_(0.1 * torch.randn_like(p))


def hf_logits(hf: XCLIPModel, video: torch.Tensor) -> torch.Tensor:
    """HF's logits_per_video for LABELS, tokenised by open_clip (HF's text tower pools at the argmax id, as open_clip)."""
    ids = TOKENIZER(LABELS)
    with torch.no_grad():
        return hf(input_ids=ids, attention_mask=(ids != 0).long(), pixel_values=video).logits_per_video


def our_logits(model: XCLIP, video: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(video, LABELS).logits


def make_video(frames: int, size: int, batch: int) -> torch.Tensor:
    return torch.randn(batch, frames, 3, size, size, generator=torch.Generator().manual_seed(1))


def tiny_xclip(frames: int = 4, **options) -> XCLIP:
    """X-CLIP over the tiny open_clip ViT (GELU), its constant tensors redrawn."""
    model = XCLIP(make_clip(), frames, tokenizer=TOKENIZER, activation="gelu", **options).eval()
    redraw_constants(model)
    return model


@pytest.mark.parametrize("name", CONFIGS)
def test_load_hf_xclip_gives_hf_logits(name, tmp_path):
    config, _, frames, batch = CONFIGS[name]
    torch.manual_seed(0)
    hf = XCLIPModel(XCLIPConfig(**config)).eval()
    redraw_constants(hf)
    hf.save_pretrained(tmp_path)
    video = make_video(frames, hf.config.vision_config.image_size, batch)
    ours = load_hf_xclip(tmp_path)
    assert (our_logits(ours, video) - hf_logits(hf, video)).abs().max() < 1e-4  # measured: small 3e-6, B/32 1e-5, B/16 5e-7


@pytest.mark.parametrize("name", CONFIGS)
def test_save_hf_xclip_gives_transformers_our_logits(name, tmp_path):
    _, clip_name, frames, batch = CONFIGS[name]
    torch.manual_seed(0)
    if clip_name is None:
        ours = tiny_xclip(frames)
    else:
        clip = open_clip.create_model(clip_name, pretrained=None, force_quick_gelu=True)
        ours = XCLIP(clip, frames, tokenizer=TOKENIZER).eval()
        redraw_constants(ours)
    hf = XCLIPModel.from_pretrained(save_hf_xclip(ours, tmp_path)).eval()
    video = make_video(frames, ours.encoder.visual.image_size[0], batch)
    assert (hf_logits(hf, video) - our_logits(ours, video)).abs().max() < 1e-4  # measured: small 1e-6, B/32 9e-7, B/16 2e-7


def test_every_weight_maps_to_one_of_hf_and_back(tmp_path):
    hf = XCLIPModel(XCLIPConfig(**SMALL))
    hf.save_pretrained(tmp_path)
    ours = load_hf_xclip(tmp_path)
    exported, saved = to_hf(our_weights(ours)), load_file(tmp_path / "model.safetensors")
    assert exported.keys() == saved.keys()
    assert all(torch.equal(exported[k], saved[k]) for k in saved)
    assert not any(k.startswith(("token_embedding", "transformer.", "text_projection")) for k in ours.state_dict())  # text tower out


def test_load_hf_xclip_reads_pytorch_model_bin_and_refuses_a_missing_weight(tmp_path):
    hf = XCLIPModel(XCLIPConfig(**SMALL)).eval()
    redraw_constants(hf)
    hf.config.save_pretrained(tmp_path)
    torch.save(hf.state_dict(), tmp_path / "pytorch_model.bin")
    video = make_video(4, 32, 1)
    assert (our_logits(load_hf_xclip(tmp_path), video) - hf_logits(hf, video)).abs().max() < 1e-4
    (tmp_path / "pytorch_model.bin").unlink()
    weights = {k: v.contiguous() for k, v in hf.state_dict().items() if k != "prompts_generator.alpha"}
    save_file(weights, tmp_path / "model.safetensors")
    with pytest.raises(ModelError, match="prompts_generator.alpha"):
        load_hf_xclip(tmp_path)


def test_message_tokens_let_frames_talk():
    model = tiny_xclip()
    video = make_video(4, 64, 1)
    moved = video.clone()
    moved[:, 0] = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))  # only frame 0 changes

    def frame_features(m: XCLIP) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            return m.encoder(video).cls, m.encoder(moved).cls

    before, after = frame_features(model)
    assert (after[:, 1:] - before[:, 1:]).abs().max() > 1e-5  # frames 1-3 hear of frame 0 (measured: 2e-4)
    with torch.no_grad():  # silence the messages: every message token 0, whatever the frames
        for messages in model.encoder.messages:
            for layer in (messages.fc, messages.attn.out_proj):
                layer.weight.zero_()
                layer.bias.zero_()
    before, after = frame_features(model)
    assert torch.equal(after[:, 1:], before[:, 1:]) and not torch.allclose(after[:, 0], before[:, 0])  # frames apart


def test_prompts_take_the_video_into_the_class_embeddings():
    model = tiny_xclip()
    video = make_video(4, 64, 2)
    classes = model.text_head.class_embeddings(LABELS)
    with torch.no_grad():
        tokens = model.encoder(video).tokens
        prompted = model.prompts(classes, tokens)
        assert (prompted[0] - prompted[1]).abs().max() > 1e-4  # the same labels, prompted differently per video
        logits = model(video, classes)
        model.prompts.alpha.zero_()  # no prompts: logits = scale · cos(v, c)
        plain = model(video, classes)
    scale = model.text_head.logit_scale.exp()
    assert torch.allclose(plain.logits, scale * F.normalize(plain.video_embedding, dim=-1) @ F.normalize(classes, dim=-1).T, atol=1e-5)
    assert (logits.logits - plain.logits).abs().max() > 1e-3


def test_gradient_reaches_the_messages_the_mit_and_the_prompts():
    model = tiny_xclip().train()
    out = model(make_video(4, 64, 2), LABELS)
    F.cross_entropy(out.logits, torch.tensor([0, 2])).backward()
    for part in (model.encoder.messages, model.mit, model.prompts, model.encoder.visual):
        for name, p in part.named_parameters():
            assert p.grad is not None and p.grad.abs().max() > 0, name


def test_is_pretrained_splits_clips_weights_from_what_xclip_adds():
    model = tiny_xclip()
    pretrained = {id(p) for p in model.encoder.visual.parameters()} | {id(model.text_head.logit_scale)}
    new = {id(p) for part in (model.encoder.messages, model.mit, model.prompts) for p in part.parameters()}
    named = dict(model.named_parameters())
    assert {id(p) for n, p in named.items() if model.is_pretrained(n)} == pretrained
    assert {id(p) for n, p in named.items() if not model.is_pretrained(n)} == new


def test_interface_matches_alts():
    model = tiny_xclip()
    video = make_video(4, 64, 2)
    classes = model.text_head.class_embeddings(LABELS)
    assert classes.shape == (3, 32) and not torch.allclose(classes.norm(dim=-1), torch.ones(3))  # HF's unnormalised features
    assert torch.equal(model.text_head.class_embeddings(LABELS), classes) and len(model.text_head._cache) == 1  # cached per label set
    by_name, by_tensor = model(video, LABELS), model(video, classes)
    assert by_name.logits.shape == (2, 3) and by_name.video_embedding.shape == (2, 32)
    assert by_name.entity_ids is None and by_name.frames is None
    assert torch.equal(by_name.logits, by_tensor.logits)
    with pytest.raises(ModelError, match="takes 4 frames"):
        model(make_video(2, 64, 1), classes)
    model.freeze("encoder")
    assert not any(p.requires_grad for p in model.encoder.visual.parameters())
    assert all(p.requires_grad for part in (model.encoder.messages, model.mit, model.prompts) for p in part.parameters())
    with pytest.raises(ModelError, match="freeze must be one of none, encoder"):
        model.freeze("all-but-head")


def test_hf_config_mismatches_are_refused(tmp_path: Path):
    XCLIPConfig(**{**SMALL, "prompt_hidden_act": "gelu"}).save_pretrained(tmp_path)
    with pytest.raises(ModelError, match="activations"):
        load_hf_xclip(tmp_path)
