"""`load_clip` builds the activation the weights were trained with: the real `openai` tag path, offline from a
pre-filled hub cache, against open_clip's own `-quickgelu` config on the same (random) weights."""

import huggingface_hub.constants
import open_clip
import pytest
import torch
from safetensors.torch import save_file

from alt_common.clip import load_clip, quick_gelu_for, uses_quick_gelu
from alt_common.io import file_sha256

# What open_clip 3.3 fetches for ViT-B-32/openai: hf_hub "timm/vit_base_patch32_clip_224.openai/" (no file name),
# so HF_WEIGHTS_NAME's safetensors alternative first (pretrained.download_pretrained_from_hf).
REPO_ID = "timm/vit_base_patch32_clip_224.openai"
FILENAME = "open_clip_model.safetensors"
REVISION = "8f3a2c1d9e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b"
TEXTS = ["a photo of a dog", "someone playing guitar on a stage", "abseiling"]


def cached_weights(home):
    """Where hf_hub_download finds the tag's file in the hub cache under HF_HOME `home`."""
    return home / "hub" / f"models--{REPO_ID.replace('/', '--')}" / "snapshots" / REVISION / FILENAME


@pytest.fixture(scope="module")
def hub_home(tmp_path_factory):
    """An HF_HOME whose hub cache holds seeded random ViT-B-32 weights (fp16) as the `openai` tag, laid out as
    huggingface_hub writes a download: blobs/<sha256>, snapshots/<rev>/<file> -> blob, refs/main = <rev>."""
    home = tmp_path_factory.mktemp("hf_home")
    snapshot = cached_weights(home).parent
    repo = snapshot.parents[1]
    torch.manual_seed(0)
    state = {k: v.half().contiguous() for k, v in open_clip.create_model("ViT-B-32-quickgelu").state_dict().items()}
    (repo / "blobs").mkdir(parents=True)
    tmp = repo / "blobs" / "incoming"
    save_file(state, tmp)
    blob = tmp.rename(repo / "blobs" / file_sha256(tmp))
    snapshot.mkdir(parents=True)
    (snapshot / FILENAME).symlink_to(f"../../blobs/{blob.name}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    return home


@pytest.fixture
def offline_hub(hub_home, monkeypatch):
    """The pre-filled cache, offline; huggingface_hub read HF_HOME and HF_HUB_OFFLINE at import, so set both ways."""
    monkeypatch.setenv("HF_HOME", str(hub_home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub_home / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    return hub_home


@torch.inference_mode()
def embeddings(clip) -> tuple[torch.Tensor, torch.Tensor]:
    """Image embeddings of two seeded random frames and text embeddings of TEXTS, as open_clip returns them."""
    images = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    return clip.encode_image(images), clip.encode_text(open_clip.tokenize(TEXTS))


@pytest.fixture(scope="module")
def references(hub_home):
    """(QuickGELU, GELU) embeddings of the cached weights, each built by open_clip's own config from the file."""
    return tuple(embeddings(open_clip.create_model(name, pretrained=str(cached_weights(hub_home))).eval())
                 for name in ("ViT-B-32-quickgelu", "ViT-B-32"))


@pytest.mark.parametrize("spelling", ["ViT-B/32", "ViT-B-32"])
def test_openai_tag_runs_with_quick_gelu_in_both_spellings(offline_hub, references, spelling, recwarn):
    (quick_image, quick_text), (gelu_image, gelu_text) = references
    clip, _, provenance = load_clip(spelling, "openai")
    image, text = embeddings(clip)
    assert (image - quick_image).abs().max() <= 1e-5 and (text - quick_text).abs().max() <= 1e-5
    assert (gelu_image - quick_image).abs().max() > 1e-2 and (gelu_text - quick_text).abs().max() > 1e-2
    assert isinstance(clip.visual.transformer.resblocks[0].mlp.gelu, open_clip.model.QuickGELU)
    assert provenance["activation"] == "quick_gelu" and provenance["open_clip_model"] == "ViT-B-32"
    assert not [w for w in recwarn if "QuickGELU mismatch" in str(w.message)]  # open_clip's own check agrees


@pytest.mark.parametrize(("model", "pretrained", "quick_gelu"), [
    ("ViT-B/32", "openai", True), ("ViT-B-32", "openai", True), ("ViT-B/16", "openai", True),
    ("ViT-B-16", "openai", True), ("ViT-L/14", "openai", True), ("ViT-L-14", "openai", True),
    ("ViT-L/14@336px", "openai", True), ("RN50", "openai", True), ("ViT-B-32-quickgelu", "openai", True),
    ("ViT-B-32", "laion400m_e32", True), ("ViT-B-32", "metaclip_fullcc", True), ("ViT-B-16", "dfn2b", True),
    ("ViT-L-14", "metaclip_400m", True), ("ViT-B-32", "laion2b_s34b_b79k", False),
    ("ViT-B/16", "laion2b_s34b_b88k", False), ("ViT-L-14", "datacomp_xl_s13b_b90k", False),
])
def test_tags_get_the_activation_they_were_trained_with(model, pretrained, quick_gelu):
    assert quick_gelu_for(model, pretrained) is quick_gelu


@pytest.mark.parametrize(("model", "quick_gelu"), [
    ("ViT-B/16", True), ("ViT-B-16", False), ("ViT-B-16-quickgelu", True), ("ViT-L/14", True),
])
def test_checkpoint_files_get_quick_gelu_by_openai_spelling_or_quickgelu_config(tmp_path, model, quick_gelu):
    assert quick_gelu_for(model, str(tmp_path / "weights.safetensors")) is quick_gelu


@pytest.mark.parametrize(("name", "quick_gelu"), [
    ("ViT-B-16", False), ("ViT-B-16-quickgelu", True), ("ViT-L-14", False), ("ViT-L-14-quickgelu", True),
    ("RN50", False), ("RN50-quickgelu", True),
])
def test_provenance_reads_the_activation_off_the_built_model(name, quick_gelu):
    with torch.device("meta"):  # built without memory: only the architecture matters
        clip = open_clip.create_model(name, device="meta")
    assert uses_quick_gelu(clip) is quick_gelu
