"""One vocabulary across the console scripts (issue 30, items 10 and 11): every `--out` answers to `-o`, every `--labels`
to `-l`, every `--device` defaults to `auto` with the same help; every script answers `--version`; every `--help`
ends with examples and has a usage line as click writes it (`VIDEO`, `[CORPUS.PARQUET]`); `--help`, `--version`
and a missing file answer without loading torch; `corpus explain` fits a 100-column terminal."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from alt_common.entry import DEVICE_HELP
from alt_common.resources import package_version
from alt_model import cli as alt_cli
from alt_model import explain_cli, lists_cli, predict_cli, store_cli, synthetic
from corpus_builder import cli as corpus_cli

# (console script, its entry point, its Typer app)
SCRIPTS = [
    ("corpus", corpus_cli.main, corpus_cli.app),
    ("alt-train", alt_cli.train_main, alt_cli.train_app),
    ("alt-eval", alt_cli.eval_main, alt_cli.eval_app),
    ("alt-explain", explain_cli.main, explain_cli.app),
    ("alt-predict", predict_cli.predict_main, predict_cli.predict_app),
    ("alt-export", predict_cli.export_main, predict_cli.export_app),
    ("alt-synthetic", synthetic.main, synthetic.app),
    ("alt-lists", lists_cli.main, lists_cli.app),
    ("alt-data", store_cli.main, store_cli.app),
]
ENTRIES = {name: entry for name, entry, _ in SCRIPTS}


def commands() -> list[tuple[str, list[str], object]]:
    """(console script, the arguments that reach the command, the click command) for every script, group and subcommand."""
    found = []
    for name, _, app in SCRIPTS:
        command = typer.main.get_command(app)
        found.append((name, [], command))
        for sub_name, sub in getattr(command, "commands", {}).items():
            found.append((name, [sub_name], sub))
    return found


COMMANDS = commands()
IDS = [" ".join([name, *sub]) for name, sub, _ in COMMANDS]


def test_one_vocabulary_for_out_labels_and_device():
    assert set(IDS) >= {"corpus build", "corpus embed", "corpus explain", "corpus report", "corpus doctor", "alt-train",
                        "alt-eval", "alt-explain", "alt-predict", "alt-export", "alt-synthetic", "alt-lists", "alt-data pack"}
    seen = {"--out": [], "--labels": [], "--device": []}
    for (name, sub, command), where in zip(COMMANDS, IDS):
        for param in command.params:
            if "--out" in param.opts:
                seen["--out"].append(where)
                assert "-o" in param.opts, f"{where}: --out has no -o"
            if "--labels" in param.opts:
                seen["--labels"].append(where)
                assert "-l" in param.opts, f"{where}: --labels has no -l"
            if "--device" in param.opts:
                seen["--device"].append(where)
                assert param.default == "auto", f"{where}: --device defaults to {param.default!r}"
                assert param.help.endswith(DEVICE_HELP), f"{where}: --device's help is {param.help!r}"
    assert len(seen["--out"]) == 10 and len(seen["--labels"]) == 5 and len(seen["--device"]) == 8, seen


@pytest.mark.parametrize("script", list(ENTRIES))
def test_version(run_main, script):
    code, stdout, stderr = run_main(ENTRIES[script], "--version")
    assert code == 0, stderr
    assert stdout == f"alt-toolkit {package_version('alt-toolkit')}\n"


@pytest.mark.parametrize(("script", "sub", "command"), COMMANDS, ids=IDS)
def test_help_ends_with_examples_and_a_plain_usage_line(run_main, monkeypatch, script, sub, command):
    monkeypatch.setenv("COLUMNS", "100")
    code, stdout, stderr = run_main(ENTRIES[script], *sub, "--help")
    assert code == 0, stderr
    usage = next(line for line in stdout.splitlines() if line.startswith("Usage:"))
    assert "{" not in usage and "[[" not in usage, usage
    assert "--version" in stdout or sub  # the corpus group's --version, and each single command's
    tail = stdout[stdout.index("Examples:"):].splitlines()[1:]
    invoked = " ".join([script, *sub])
    examples = [line.strip() for line in tail if line.strip()]
    assert examples and all(line == invoked or line.startswith(invoked + " ") for line in examples), stdout
    assert all(len(line) <= 100 for line in tail), tail


def test_help_version_and_a_missing_file_load_no_torch(tmp_path):
    """Each answers at once: torch (2-3 s) loads only where a model runs."""
    runs = [
        ("alt_model.explain_cli", "main", ["--help"]), ("alt_model.explain_cli", "main", ["--version"]),
        ("alt_model.explain_cli", "main", [str(tmp_path / "missing.mp4"), "--corpus", str(tmp_path / "c.pt")]),
        ("alt_model.explain_cli", "main", [__file__, "--corpus", str(tmp_path / "missing.pt")]),
        ("alt_model.synthetic", "main", ["--help"]), ("alt_model.synthetic", "main", ["--out", __file__]),
        ("alt_model.cli", "eval_main", ["--checkpoint", str(tmp_path / "missing.pt")]),
        ("alt_model.predict_cli", "predict_main", [str(tmp_path / "missing.mp4"), "--checkpoint", __file__]),
        ("alt_model.predict_cli", "export_main", [str(tmp_path / "missing.pt"), str(tmp_path / "model")]),
        ("corpus_builder.cli", "main", ["build", "-l", str(tmp_path / "missing.txt")]),
        ("corpus_builder.cli", "main", ["explain", "bat", "--label", "playing cricket", str(tmp_path / "missing.parquet")]),
        ("corpus_builder.cli", "main", ["--version"]),
    ]
    code = f"""import importlib, sys
codes = []
for module, entry, args in {runs!r}:
    sys.argv = [module, *args]
    try:
        getattr(importlib.import_module(module), entry)()
    except SystemExit as exc:
        codes.append(exc.code)
print(codes, sorted(set(sys.modules) & {{'torch', 'open_clip'}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[0, 0, 2, 2, 0, 2, 2, 2, 2, 2, 2, 0] []", done.stdout + done.stderr


def test_corpus_explain_fits_100_columns(run_main, monkeypatch, nlp):
    from corpus_builder.wsd_eval import explain

    monkeypatch.setenv("COLUMNS", "100")
    code, stdout, stderr = run_main(corpus_cli.main, "explain", "bat", "--label", "playing cricket")
    assert code == 0, stderr
    too_long = [line for line in stdout.splitlines() if len(line) > 100]
    assert not too_long, too_long
    text = " ".join(stdout.split())
    candidates = explain("playing cricket", "bat", nlp).item.candidates
    assert len(candidates) >= 4
    for cand in candidates:  # each description whole, its words in order
        assert f"{cand.sense} (" in text and " ".join(cand.description.split()) in text, cand
