"""`corpus embed` on real open_clip models with random weights: the tiny config in data/models and the
real ViT-B-16 architecture, loaded through open_clip's own factory and checkpoint path."""

import hashlib
import os
import subprocess
import sys

import open_clip
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import torch.nn.functional as F

from corpus_builder import build_corpus, write_corpus
from alt_common.clip import encode_texts, load_clip, resolve_model
from corpus_builder.embed import embed_corpus

TEXTS = [
    "guitar: a stringed instrument usually having six strings; played by strumming or plucking",
    "a",
    "head: the upper part of the human body or the front part of the body in animals; contains the face and brains",
    "rope " * 90,  # longer than the 77-token context: truncated as open_clip does
    "climbing harness: straps worn around the waist and legs",
    "",
]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    resolve_model("alt-tiny-clip")  # registers data/models with open_clip
    torch.manual_seed(0)
    model = open_clip.create_model("alt-tiny-clip")
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory, wn, nlp):
    path = tmp_path_factory.mktemp("corpus") / "corpus.parquet"
    write_corpus(build_corpus(["playing guitar", "abseiling", "shaking hands", "riding mechanical bull"]), path)
    return path


def padded_reference(clip, tokens):
    with torch.no_grad():
        return F.normalize(clip.encode_text(tokens), dim=-1)


def test_fast_path_equals_padded_open_clip_on_the_tiny_model(tiny_checkpoint):
    clip, tokenizer, _ = load_clip("alt-tiny-clip", str(tiny_checkpoint))
    tokens = tokenizer(TEXTS)
    fast = encode_texts(clip, tokens, batch_size=2)
    ref = padded_reference(clip, tokens)
    assert fast.shape == (len(TEXTS), 32)
    assert (fast - ref).abs().max() < 1e-5
    assert F.cosine_similarity(fast, ref).min() >= 0.99999
    assert torch.equal(encode_texts(clip, tokens, exact_padding=True), ref)


def test_fast_path_equals_padded_open_clip_on_vit_b_16(tmp_path):
    torch.manual_seed(0)
    clip = open_clip.create_model("ViT-B-16").eval()
    tokens = open_clip.get_tokenizer("ViT-B-16")(TEXTS)
    fast = encode_texts(clip, tokens, batch_size=4)
    ref = padded_reference(clip, tokens)
    assert fast.shape == (len(TEXTS), 512)
    assert (fast - ref).abs().max() < 1e-5 and F.cosine_similarity(fast, ref).min() >= 0.99999


def test_openai_names_map_to_open_clip_with_quick_gelu():
    assert resolve_model("ViT-B/16") == ("ViT-B-16", True)
    assert resolve_model("ViT-L/14@336px") == ("ViT-L-14-336", True)
    assert resolve_model("ViT-B-16") == ("ViT-B-16", False)


def test_openai_name_with_a_local_checkpoint_uses_quick_gelu(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "vit-b-32.pt"
    torch.save(open_clip.create_model("ViT-B-32").state_dict(), path)
    clip, _, provenance = load_clip("ViT-B/32", str(path))
    assert isinstance(clip.transformer.resblocks[0].mlp.gelu, open_clip.model.QuickGELU)
    assert provenance["open_clip_model"] == "ViT-B-32" and provenance["activation"] == "quick_gelu"
    assert provenance["pretrained_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_embed_writes_both_artifacts_row_aligned(run_cli, corpus_file, tiny_checkpoint, tmp_path):
    out = tmp_path / "corpus.pt"
    code, stdout, stderr = run_cli("embed", corpus_file, "--model", "alt-tiny-clip", "--pretrained", tiny_checkpoint, "--out", out)
    assert code == 0, stderr
    bundle = torch.load(out, weights_only=True)
    from corpus_builder import read_corpus

    df = read_corpus(corpus_file)
    S = bundle["embeddings"]
    assert S.dtype == torch.float32 and S.shape == (len(df), 32)
    assert torch.allclose(S.norm(dim=-1), torch.ones(len(df)), atol=1e-6)
    assert bundle["units"] == list(df["unit"]) and bundle["descriptions"] == list(df["description"])
    assert bundle["categories"] == list(df["category"]) and bundle["entity_ids"] == list(df["entity_id"])
    assert bundle["texts"][0] == f"{df['unit'][0]}: {df['description'][0]}"
    assert bundle["model"] == "alt-tiny-clip" and bundle["pretrained"] == str(tiny_checkpoint)
    assert bundle["text_template"] == "{unit}: {description}" and bundle["format_version"] == 1
    assert bundle["corpus_sha256"] == hashlib.sha256(corpus_file.read_bytes()).hexdigest()
    clip, tokenizer, _ = load_clip("alt-tiny-clip", str(tiny_checkpoint))
    assert torch.allclose(S, padded_reference(clip, tokenizer(bundle["texts"])), atol=1e-5)
    table = pq.read_table(tmp_path / "corpus.embeddings.parquet")
    assert table.column_names == ["entity_id", "unit", "description", "category", "embedding"]
    kind = table.schema.field("embedding").type
    assert isinstance(kind, pa.FixedSizeListType) and kind.list_size == 32 and kind.value_type == pa.float32()
    assert torch.equal(torch.tensor(table.column("embedding").to_pylist()), S)
    assert f"{len(df)} x 32 embeddings" in stdout


def test_rerun_is_a_no_op_and_a_new_template_re_embeds(run_cli, corpus_file, tiny_checkpoint, tmp_path):
    out = tmp_path / "corpus.pt"
    args = ["embed", corpus_file, "--model", "alt-tiny-clip", "--pretrained", tiny_checkpoint, "--out", out]
    assert run_cli(*args)[0] == 0
    before = out.stat().st_mtime_ns
    code, stdout, _ = run_cli(*args)
    assert code == 0 and "up to date" in stdout and out.stat().st_mtime_ns == before
    code, stdout, _ = run_cli(*args, "--template", "a photo of {unit}, {category}")
    assert code == 0 and "up to date" not in stdout
    assert torch.load(out, weights_only=True)["texts"][0].startswith("a photo of ")


def test_a_corpus_pt_embedded_before_the_quick_gelu_fix_is_embedded_again(run_cli, corpus_file, tiny_checkpoint, tmp_path):
    # corpus.pt files written before the fix record no activation (and OpenAI's tags built GELU then): a re-run of
    # the same command must not call them up to date
    out = tmp_path / "corpus.pt"
    args = ["embed", corpus_file, "--model", "alt-tiny-clip", "--pretrained", tiny_checkpoint, "--out", out]
    assert run_cli(*args)[0] == 0
    old = torch.load(out, weights_only=True)
    assert old["provenance"]["activation"] == "gelu"  # alt-tiny-clip's own config, an open_clip name: GELU
    del old["provenance"]["activation"]
    torch.save(old, out)
    code, stdout, _ = run_cli(*args)
    assert code == 0 and "up to date" not in stdout
    assert torch.load(out, weights_only=True)["provenance"]["activation"] == "gelu"


def test_safetensors_checkpoint_and_truncation_count(tmp_path, tiny_checkpoint, corpus_file):
    from safetensors.torch import save_file

    from corpus_builder import read_corpus

    path = tmp_path / "tiny.safetensors"
    save_file(torch.load(tiny_checkpoint, weights_only=True), path)
    df = read_corpus(corpus_file)
    df.loc[0, "description"] = "very " * 100 + "long"
    bundle = embed_corpus(df, "alt-tiny-clip", str(path))
    assert bundle["truncated_texts"] == 1 and bundle["embeddings"].shape == (len(df), 32)


@pytest.mark.parametrize(
    "args, message",
    [
        (["{tmp}/missing.parquet"], "corpus not found"),
        (["{corpus}", "--model", "ViT-Q-99"], "unknown CLIP model 'ViT-Q-99'"),
        (["{corpus}", "--pretrained", "{tmp}/junk.pt"], "junk.pt: not a checkpoint of alt-tiny-clip"),
        (["{corpus}", "--pretrained", "{tmp}/absent.safetensors"], "checkpoint not found"),
        (["{corpus}", "--model", "ViT-B-32", "--pretrained", "nosuchtag"], "no pretrained weights 'nosuchtag' for ViT-B-32"),
        (["{corpus}", "--template", "{label}"], "bad --template '{label}'"),
        (["{empty}"], "the corpus has no entities to embed"),
        (["{corpus}", "--device", "cuda"], "no CUDA device is available here") if not torch.cuda.is_available() else
        (["{corpus}", "--out", "{tmp}/no/dir/c.pt"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_exit_2(run_cli, corpus_file, tiny_checkpoint, tmp_path, args, message):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    empty = tmp_path / "empty.parquet"
    from corpus_builder import read_corpus

    write_corpus(read_corpus(corpus_file).iloc[0:0], empty)
    fill = {"{tmp}": str(tmp_path), "{corpus}": str(corpus_file), "{empty}": str(empty)}
    argv = []
    for a in args:
        for k, v in fill.items():
            a = a.replace(k, v)
        argv.append(a)
    if "--model" not in argv:
        argv += ["--model", "alt-tiny-clip"]
    if "--pretrained" not in argv:
        argv += ["--pretrained", str(tiny_checkpoint)]
    code, _, stderr = run_cli("embed", *argv, "--out", str(tmp_path / "c.pt"))
    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith("error: ") and message in stderr, stderr
    assert not (tmp_path / "c.pt").exists()


def test_hub_weights_offline_fail_fast_with_the_fix(corpus_file, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    result = subprocess.run(
        [sys.executable, "-m", "corpus_builder", "embed", str(corpus_file), "--model", "ViT-B/32", "--out", str(tmp_path / "c.pt")],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: cannot load pretrained 'openai' weights for ViT-B-32: not in the local cache and the model hub is "
        "unreachable; pass --pretrained /path/to/checkpoint.pt (.pt/.bin/.safetensors)"
    )
