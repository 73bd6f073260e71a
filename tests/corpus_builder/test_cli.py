import hashlib
import os
import subprocess
import sys

import pytest

from corpus_builder import read_corpus



def test_build_writes_a_corpus_and_prints_a_summary(run_cli, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("# demo\nplaying guitar\nApplyEyeMakeup\ndancing\n")
    out = tmp_path / "corpus.parquet"
    code, stdout, stderr = run_cli("build", "--labels", labels, "--out", out)
    assert code == 0, stderr
    assert "building without the LLM step" in stderr
    df = read_corpus(out)
    assert {"guitar", "eye makeup", "dancing", "head"} <= set(df["unit"])
    manifest = df.attrs["manifest"]
    assert manifest["inputs"] == [{"path": str(labels), "sha256": hashlib.sha256(labels.read_bytes()).hexdigest(), "labels": 3}]
    assert f"{len(df)} entities from 3 labels" in stdout and "motion" in stdout


@pytest.mark.parametrize(
    "setup, args, message",
    [
        (None, ["--labels", "{tmp}/missing.txt"], "missing.txt: label file not found"),
        ("", ["--labels", "{tmp}/labels.txt"], "labels.txt: no labels found"),
        (b"\x00\x01\x02", ["--labels", "{tmp}/labels.txt"], "looks binary"),
        ("id,title\n0,dancing\n", ["--labels", "{tmp}/labels.csv"], "labels.csv:1: CSV header has no 'name' column"),
        ("dancing\n", ["--labels", "{tmp}/labels.txt", "--wsd", "magic"], "Invalid value for '--wsd'"),
        ("dancing\n", ["--labels", "{tmp}/labels.txt", "--out", "{tmp}/no/such/dir/c.parquet"], "does not exist; create it"),
        ("dancing\n", ["--labels", "{tmp}/labels.txt", "--spacy-model", "no_such_model"], "spaCy pipeline no_such_model not found"),
        ("dancing\n", [], "Missing option '--labels'"),
        ("dancing\n", ["--labels", "{tmp}/labels.txt", "--device", "banana"], "--device banana: not a device name"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(run_cli, tmp_path, setup, args, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if setup is not None:
        label_file = next((a for a in argv if "/labels." in a), str(tmp_path / "labels.txt"))
        open(label_file, "wb").write(setup if isinstance(setup, bytes) else setup.encode())
    out = tmp_path / "corpus.parquet"
    out.write_bytes(b"previous corpus")
    argv += [] if "--out" in argv else ["--out", str(out)]
    code, stdout, stderr = run_cli("build", *argv)
    assert code == 2
    errors = [line for line in stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and stderr.strip().endswith(errors[0]) and message in errors[0], stderr
    assert "Traceback" not in stderr
    assert out.read_bytes() == b"previous corpus"


def test_real_console_script_exit_code_and_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "corpus_builder", "build", "--labels", str(tmp_path / "nope.txt")],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nope.txt'}: label file not found; pass an existing file to --labels"


def test_doctor_lists_every_resource(run_cli):
    code, stdout, _ = run_cli("doctor")
    assert code == 0
    for name in ("WordNet 3.0", "spaCy English", "nltk", "openai", "open_clip", "MiniLM"):
        assert name in stdout
    assert "MISSING" not in stdout


def test_doctor_fails_when_wordnet_is_missing(tmp_path):
    env = dict(os.environ, ALT_WORDNET_DIR=str(tmp_path / "nowhere"), ALT_CACHE_DIR=str(tmp_path / "cache"),
               HOME=str(tmp_path), NLTK_DATA=str(tmp_path / "nltk_data"), COLUMNS="500")
    result = subprocess.run([sys.executable, "-m", "corpus_builder", "doctor"], capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert "MISSING" in result.stdout and "apt-get install wordnet-base wordnet-sense-index" in result.stdout
    build = subprocess.run([sys.executable, "-m", "corpus_builder", "build", "--labels", "/dev/null"], capture_output=True, text=True, env=env)
    assert build.returncode == 2 and "Traceback" not in build.stderr


def test_options_reach_the_build_and_the_manifest(run_cli, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("playing cricket\nshaking hands\n")
    out = tmp_path / "corpus.parquet"
    code, _, stderr = run_cli("build", "-l", labels, "-o", out, "--no-body-parts", "--wsd", "first-sense", "--no-llm", "--no-related",
                              "--no-packaged-suggestions")
    assert code == 0, stderr
    df = read_corpus(out)
    assert "default" not in {s for sources in df["sources"] for s in sources}
    assert set(df["unit"]) == {"cricket", "hand"}
    assert df.set_index("unit").loc["cricket", "sense"] == "cricket.n.01"  # the baseline's pick
    assert df.attrs["manifest"]["options"] == {
        "wsd": "first-sense", "t5_model": None, "spacy_model": None, "body_parts": False, "np_grammar": "NP: {<JJ|NN.*>*<NN.*>}",
        "related": False, "label_entities": False, "suggest": False,
    }
    assert df.attrs["manifest"]["wsd"] == {"method": "first-sense", "model": None, "weights": None}


def test_default_wsd_is_auto_and_resolves_to_lesk_embedding(run_cli, tmp_path):
    from corpus_builder.sentence_encoder import default_encoder_path

    labels = tmp_path / "labels.txt"
    labels.write_text("playing cricket\n")
    code, _, stderr = run_cli("build", "-l", labels, "-o", tmp_path / "c.parquet", "--no-llm", "--no-body-parts")
    assert code == 0, stderr
    df = read_corpus(tmp_path / "c.parquet")
    manifest = df.attrs["manifest"]
    assert manifest["options"]["wsd"] == "auto"
    assert manifest["wsd"]["method"] == "lesk-embedding" and manifest["wsd"]["model"] == str(default_encoder_path())
    assert manifest["wsd"]["weights"]["cosine"] > 0
    assert df.set_index("unit").loc["cricket", "wsd_method"] == "lesk-embedding"


def test_explain_prints_every_candidate_with_its_evidence(run_cli, monkeypatch, wn):
    monkeypatch.setenv("COLUMNS", "250")
    code, stdout, stderr = run_cli("explain", "cricket", "--label", "playing cricket")
    assert code == 0, stderr
    for column in ("overlap", "gloss", "prior", "visual", "cosine", "lesk", "lesk-embedding", "first-sense", "nltk-lesk"):
        assert column in stdout
    rows: dict[str, str] = {}  # a block per candidate: "#N SENSE (LEXNAME)", its description, evidence and scores
    for line in stdout.splitlines():
        if line.startswith("#"):
            sense = line.split()[1]
            rows[sense] = line
        elif line.startswith("    ") and rows:
            rows[sense] += "\n" + line
    assert set(rows) == {s.name() for s in wn.synsets("cricket", "n")}
    assert "noun.act" in rows["cricket.n.02"] and "noun.animal" in rows["cricket.n.01"]
    assert rows["cricket.n.02"].count("*") == 2  # lesk and lesk-embedding choose the game
    assert rows["cricket.n.01"].count("*") == 2  # both baselines choose the insect
    assert "--wsd auto uses lesk-embedding" in stdout


def test_explain_errors_are_one_line(run_cli):
    code, _, stderr = run_cli("explain", "xyzzy", "--label", "playing cricket")
    assert code == 2 and "'xyzzy' has no WordNet sense to choose from" in stderr and len(stderr.strip().splitlines()) == 1
    code, _, stderr = run_cli("explain", "cricket", "--label", "  ")
    assert code == 2 and "--label is empty" in stderr
    code, _, stderr = run_cli("explain", "cricket")
    assert code == 2 and "Missing option '--label'" in stderr


def test_explain_lists_the_llm_items_a_build_dropped(run_cli, tmp_path):
    from corpus_builder import build_corpus, write_corpus

    df = build_corpus(["playing cricket"], wsd="lesk")
    df.attrs["manifest"]["llm_dropped"] = [
        {"label": "playing cricket", "item": "teamwork", "reason": "not visual: noun.act"},
        {"label": "abseiling", "item": "adrenaline", "reason": "not visual: noun.body"},
    ]
    write_corpus(df, tmp_path / "c.parquet")
    code, stdout, stderr = run_cli("explain", "cricket", "--label", "Playing Cricket", tmp_path / "c.parquet")
    assert code == 0, stderr
    assert "teamwork (not visual: noun.act)" in stdout and "adrenaline" not in stdout


def test_explain_shows_where_a_related_entity_came_from(run_cli, tmp_path):
    from corpus_builder import build_corpus, write_corpus

    write_corpus(build_corpus(["playing ice hockey"]), tmp_path / "c.parquet")
    code, stdout, stderr = run_cli("explain", "puck", "--label", "playing ice hockey", tmp_path / "c.parquet")
    assert code == 0, stderr
    assert "entities 'puck' for 'playing ice hockey': puck.n.02 (object; sources: gloss)" in " ".join(stdout.split())
    code, stdout, _ = run_cli("explain", "puck", "--label", "playing ice hockey")
    assert "sources:" not in stdout  # without a corpus, only the senses


def test_the_cli_imports_no_model_library_before_a_command_needs_one():
    # `corpus --help` answers at once: spaCy, NLTK, torch, transformers and openai load inside the commands
    code = "import sys, corpus_builder, corpus_builder.cli; print(sorted(set(sys.modules) & {'torch', 'spacy', 'nltk', 'transformers', 'openai'}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    import corpus_builder

    assert corpus_builder.build_corpus.__module__ == "corpus_builder.build"  # the public names load on first use
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        corpus_builder.nothing
