"""The wheel carries everything the commands read: built from this tree, installed with --no-deps into
a folder of its own and run from outside the repository, it builds a corpus with the LLM stage
(the packaged prompts), embeds it with the packaged tiny config and trains the synthetic task with the
packaged alt-train config (`--config tiny_cpu`), then resumes the run; its alt-lists lists a dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch

from llm_server import LLMServer

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("alt_common", "corpus_builder", "alt_model")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The folder the wheel built from this checkout was installed into (`pip install --target`)."""
    root = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", root / "dist", REPO], check=True, cwd=root)
    (wheel,) = (root / "dist").glob("alt_toolkit-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", root / "site", wheel], check=True, cwd=root)
    return root / "site"


def run(site: Path, cwd: Path, program: str, *args: str) -> subprocess.CompletedProcess:
    """`python` or a console script of the installed wheel, run from `cwd` with the installed packages
    first on the path (the checkout's editable install comes after them)."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    command = [sys.executable if program == "python" else str(site / "bin" / program), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_wheel_holds_the_packaged_resources(installed):
    (wheel,) = installed.parent.glob("dist/*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for resource in ("entities.txt", "phrase_looks_like.txt", "phrase_explanations.txt", "phrase_one_sentence.txt",
                     "system.txt", "label_templates.txt"):
        assert f"alt_common/prompts/{resource}" in names
    assert {"alt_common/data/models/alt-tiny-clip.json", "alt_common/data/models/alt-tiny-vit.json",
            "alt_common/data/labels/demo_actions.txt"} <= names
    configs = sorted((REPO / "configs").glob("*.yaml"))  # alt-train --config NAME reads them from the package
    assert len(configs) >= 10 and {f"alt_model/configs/{p.name}" for p in configs} <= names


def test_installed_wheel_builds_embeds_and_trains_outside_the_repository(installed, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = run(installed, work, "python", "-c", "import json, alt_common, corpus_builder, alt_model, alt_common.resources as r;"
                "from alt_model.config import configs_dir;"
                "print(json.dumps([m.__file__ for m in (alt_common, corpus_builder, alt_model)] + [str(r.prompts_dir()), str(configs_dir())]))")
    assert where.returncode == 0, where.stderr
    for path in json.loads(where.stdout):
        assert Path(path).is_relative_to(installed) and not Path(path).is_relative_to(REPO), path

    (work / "labels.txt").write_text("abseiling\nplaying guitar\n", encoding="utf-8")
    with LLMServer() as server:
        built = run(installed, work, "corpus", "build", "--labels", "labels.txt", "--out", "corpus.parquet", "--wsd", "lesk",
                    "--llm-base-url", server.url, "--llm-model", "test-model", "--llm-system")
        requests = server.state.requests
    assert built.returncode == 0, built.stderr
    system = (REPO / "prompts" / "system.txt").read_text(encoding="utf-8").strip()
    assert all(r["messages"][0] == {"role": "system", "content": system} for r in requests)
    assert sum(r["messages"][-1]["content"].endswith("video action? List them concisely.") for r in requests) == 2

    offline = run(installed, work, "corpus", "build", "--labels", "labels.txt", "--out", "offline.parquet", "--wsd", "lesk", "--no-llm")
    assert offline.returncode == 0, offline.stderr  # the packaged suggestions travel in the wheel and are replayed
    replayed = run(installed, work, "python", "-c", "import json, corpus_builder as c; df = c.read_corpus('offline.parquet');"
                   "print(json.dumps([df.attrs['manifest']['suggestions'], sorted({s for ss in df['sources'] for s in ss})]))")
    record, sources = json.loads(replayed.stdout)
    assert Path(record["path"]).is_relative_to(installed) and record["labels_answered"] == 2 and "packaged" in sources

    synthetic = run(installed, work, "python", "-m", "alt_model.synthetic", "--out", "synthetic", "--train-per-class", "2", "--val-per-class", "1")
    assert synthetic.returncode == 0, synthetic.stderr
    embedded = run(installed, work, "corpus", "embed", "corpus.parquet", "--model", "alt-tiny-vit",
                   "--pretrained", "synthetic/clip.pt", "--out", "corpus.pt")
    assert embedded.returncode == 0, embedded.stderr
    bundle = torch.load(work / "corpus.pt", weights_only=True)
    assert bundle["model"] == "alt-tiny-vit" and bundle["embeddings"].shape[1] == 32

    listed = run(installed, work, "alt-train", "--list-configs")  # the packaged configs, named as --config takes them
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == sorted(p.stem for p in (REPO / "configs").glob("*.yaml"))
    assert not (work / "configs").exists()
    trained = run(installed, work, "alt-train", "--corpus", "synthetic/corpus.pt", "--config", "tiny_cpu",  # the packaged config
                  "train.epochs=2", "train.warmup_epochs=0", "train.stop_after_steps=1", "out=runs/one")  # 1 step an epoch
    assert trained.returncode == 0, trained.stderr
    assert (work / "runs" / "one" / "last.pt").is_file() and "stopped: 1 epochs, 1 steps" in trained.stdout
    resumed = run(installed, work, "alt-train", "--resume", "--out", "runs/one", "train.stop_after_steps=null")  # the run's corpus
    assert resumed.returncode == 0, resumed.stderr
    assert "done: 2 epochs, 2 steps" in resumed.stdout


def test_installed_wheel_lists_a_dataset_and_builds_its_label_corpus(installed, tmp_path):
    """alt-lists and corpus build --label-entities as console scripts of the wheel: Something-Something V2's way in."""
    labels = {"Pushing something from left to right": "0", "Pushing something from right to left": "1"}
    (tmp_path / "labels.json").write_text(json.dumps(labels), encoding="utf-8")
    for name, ids in (("train.json", ("7", "8")), ("validation.json", ("9",))):
        entries = [{"id": i, "label": "x", "template": f"Pushing [something] from {side}", "placeholders": ["x"]}
                   for i, side in zip(ids, ("left to right", "right to left"))]
        (tmp_path / name).write_text(json.dumps(entries), encoding="utf-8")
    listed = run(installed, tmp_path, "alt-lists", "ssv2", ".", "--out", "lists")
    assert listed.returncode == 0, listed.stderr
    assert (tmp_path / "lists" / "train.csv").read_text(encoding="utf-8") == (
        "path,label\n7.webm,pushing something from left to right\n8.webm,pushing something from right to left\n")
    built = run(installed, tmp_path, "corpus", "build", "--labels", "lists/labels.txt", "--label-entities", "--out", "ssv2.parquet")
    assert built.returncode == 0, built.stderr
    assert sorted(pd.read_parquet(tmp_path / "ssv2.parquet")["unit"]) == [t.lower() for t in labels]
