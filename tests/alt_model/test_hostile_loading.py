"""Hostile input and faults, round 2 (issue 32): what reading a file or a model may meet, one row per case.

Non-regular files (a FIFO never opened, /dev/zero never read), a YAML alias bomb, model folders whose config.json asks
for sizes their weights do not have, safetensors headers that lie, Hugging Face X-CLIP folders with random weights,
shard paths leaving the folder or sizes that are not numbers, two alt-train runs into one folder, alt-synthetic's
--out. Every row is checked as test_hostile_alt_commands checks its own: the exit code, the verdict in the last stderr
line (the only one for exit 2), no traceback, kept files unchanged, absent files absent. Ctrl-C while a console
script's modules import, and two real alt-train processes at once, are plain tests that run the scripts.

A FIFO row also opens the FIFO's writing end in a thread and closes it at once: a command that opened the FIFO would
read an empty file and fail with another message, not hang the test.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_hostile_alt_commands import ENTRIES, Case, Ctx, _digest, assert_verdict

from alt_model.guard import RUN_LOCK
from alt_model.synthetic import main as synthetic_main

SCRIPTS = Path(sys.executable).parent  # the venv's console scripts
COMMANDS = {**ENTRIES, "synthetic": synthetic_main}


class LoadCtx(Ctx):
    """Ctx with a released X-CLIP folder (Hugging Face's layout) to copy, and makers of FIFOs and lying files."""

    def __init__(self, task, trained: Path, tmp: Path, released: Path) -> None:
        super().__init__(task, trained, tmp)
        self.released_source = released

    def fifo(self, name: str) -> Path:
        """A FIFO whose writing end a thread opens and closes at once: a reader that opens it reads nothing."""
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        writer = threading.Thread(target=lambda: os.close(os.open(path, os.O_WRONLY)), daemon=True)
        writer.start()
        self.cleanups.append(lambda: _release_writer(path, writer))
        return path

    def released(self, edit=None, weights: bytes | None = None) -> Path:
        """A copy of the released X-CLIP folder (weights hard-linked), `edit` applied to its config.json, `weights` as
        its model.safetensors."""
        folder = self.tmp / "released"
        shutil.copytree(self.released_source, folder, copy_function=os.link)
        if edit is not None:
            config = json.loads((folder / "config.json").read_text())
            edit(config)
            _replace(folder / "config.json", json.dumps(config).encode())
        if weights is not None:
            _replace(folder / "model.safetensors", weights)
        return folder

    def shards(self, *names: str) -> Path:
        """A released X-CLIP folder whose weights are an index naming `names` as its shards."""
        folder = self.released()
        (folder / "model.safetensors").unlink()
        index = {"metadata": {}, "weight_map": {f"w{i}": name for i, name in enumerate(names)}}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))
        return folder

    def exported_weights(self, data: bytes) -> Path:
        """trained/best.pt as an alt-export folder whose model.safetensors is `data`."""
        folder = self.exported()
        _replace(folder / "model.safetensors", data)
        return folder

    def config_fifo(self, folder: Path) -> Path:
        """`folder` with a FIFO as its config.json."""
        (folder / "config.json").unlink(missing_ok=True)
        self.fifo(str((folder / "config.json").relative_to(self.tmp)))
        return folder

    def yaml(self, text: str) -> Path:
        return self.file("bomb.yaml", text.encode())

    def lock_held(self, monkeypatch) -> None:
        """Another alt-train writing in the run folder: its lock held by this process."""
        self.out.mkdir()
        fd = os.open(self.out / RUN_LOCK, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.cleanups.append(lambda: os.close(fd))


def _release_writer(path: Path, writer: threading.Thread) -> None:
    """Let a FIFO's writer thread, still waiting for a reader, go: open the reading end once."""
    if writer.is_alive():
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    writer.join(5)


def _replace(path: Path, data: bytes) -> None:
    """`path` as a new file holding `data` (never through a hard link shared with the source folder)."""
    path.unlink()
    path.write_bytes(data)


def safetensors_claiming(shape: list[int]) -> bytes:
    """A safetensors file whose header claims one float32 tensor of `shape`, holding 64 bytes of data."""
    count = 4
    for n in shape:
        count *= n
    header = json.dumps({"x": {"dtype": "F32", "shape": shape, "data_offsets": [0, count]}}).encode()
    return struct.pack("<Q", len(header)) + header + bytes(64)


def random_bytes() -> bytes:
    return bytes((i * 7919 + 13) % 251 for i in range(100_000))


BOMB = """model:
  a: &a {x: 1, y: 1, z: 1}
  b: &b {x: *a, y: *a, z: *a}
  c: &c {x: *b, y: *b, z: *b}
  d: {x: *c, y: *c, z: *c}
"""


def _vision(key: str, value: object):
    return lambda config: config["vision_config"].update({key: value})


def _hf_eval(c: LoadCtx, folder: Path) -> list:
    return c.eval("--labels", c.task.labels, checkpoint=folder)


def _hf_predict(c: LoadCtx, folder: Path, flag: str = "--checkpoint") -> list:
    return c.predict("--labels", c.task.labels, model=(flag, folder))


def _resume_from(c: LoadCtx, last: Path) -> list:
    return ["--corpus", c.task.corpus, "--resume", "--out", last.parent]


def _frames(n: int):
    return lambda meta: meta["config"]["model"].update(frames=n)


CASES = [
    # 1. non-regular files are refused before they are opened: a FIFO never blocks, /dev/zero is never read
    Case("train --config a FIFO", "train", lambda c: ["--corpus", c.task.corpus, "--config", c.fifo("cfg.yaml")], 2,
         "cfg.yaml: a config is a FIFO (named pipe), not a regular file"),
    Case("train data.labels a FIFO", "train", lambda c: c.train(data__labels=c.fifo("labels.txt")), 2,
         "labels.txt: label file is a FIFO (named pipe), not a regular file", absent=lambda c: [c.out]),
    Case("train data.train_list a FIFO", "train", lambda c: c.train(train_list=c.fifo("train.csv")), 2,
         "train.csv: a video list is a FIFO (named pipe), not a regular file", absent=lambda c: [c.out]),
    Case("predict --labels a FIFO", "predict", lambda c: c.predict("--labels", c.fifo("labels.txt")), 2,
         "labels.txt: label file is a FIFO (named pipe)", absent=lambda c: [c.tmp / "preds.jsonl"]),
    Case("predict: the video list a FIFO", "predict", lambda c: c.predict(source=c.fifo("videos.txt")), 2,
         "videos.txt: VIDEO|FOLDER|LIST is a FIFO (named pipe)", absent=lambda c: [c.tmp / "preds.jsonl"]),
    Case("predict: the video a FIFO", "predict", lambda c: c.predict(source=c.fifo("clip.mp4")), 2,
         "clip.mp4: VIDEO|FOLDER|LIST is a FIFO (named pipe)", absent=lambda c: [c.tmp / "preds.jsonl"]),
    Case("eval --val-list a FIFO", "eval",
         lambda c: ["--checkpoint", c.trained / "best.pt", "--val-list", c.fifo("val.csv"), "--workers", 0, "--out", c.tmp / "eval"], 2,
         "val.csv: a video list is a FIFO (named pipe)", absent=lambda c: [c.tmp / "eval" / "metrics.json"]),
    Case("predict --pretrained: config.json a FIFO", "predict", lambda c: c.predict(model=("--pretrained", c.config_fifo(c.exported()))), 2,
         "config.json: config.json is a FIFO (named pipe)", absent=lambda c: [c.tmp / "preds.jsonl"]),
    Case("eval --checkpoint a released X-CLIP whose config.json is a FIFO", "eval",
         lambda c: _hf_eval(c, c.config_fifo(c.folder("hf"))), 2, "config.json: config.json is a FIFO"),
    Case("train --corpus a FIFO", "train", lambda c: ["--corpus", c.fifo("corpus.pt"), *c.train()[2:]], 2,
         "corpus.pt: corpus.pt is a FIFO (named pipe), not a regular file", absent=lambda c: [c.out]),
    Case("eval --checkpoint a FIFO", "eval", lambda c: c.eval(checkpoint=c.fifo("best.pt")), 2,
         "best.pt: a checkpoint is a FIFO (named pipe), not a regular file", absent=lambda c: [c.tmp / "eval"]),
    Case("explain --corpus a FIFO", "explain", lambda c: c.explain("--corpus", c.fifo("corpus.pt"), "--out", c.tmp / "x"), 2,
         "corpus.pt: corpus.pt is a FIFO (named pipe)", absent=lambda c: [c.tmp / "x"]),
    Case("train --resume: the run's last.pt a FIFO", "train", lambda c: _resume_from(c, c.fifo("run/last.pt")), 2,
         "last.pt: a checkpoint is a FIFO (named pipe)"),
    Case("train --config /dev/null", "train", lambda c: ["--corpus", c.task.corpus, "--config", "/dev/null"], 2,
         "/dev/null: a config is a device, not a regular file"),
    # 2. YAML aliases: a kilobyte that expands to gigabytes (billion laughs) is refused at its first alias
    Case("train --config an alias bomb", "train", lambda c: ["--corpus", c.task.corpus, "--config", c.yaml(BOMB)], 2,
         "bomb.yaml:3: a YAML alias (*a); configs take no anchors and aliases", absent=lambda c: [c.out]),
    Case("train: an alias in a command-line list", "train", lambda c: c.train(aug__scales="[&a 1, *a]"), 2,
         "aug.scales: expected list", absent=lambda c: [c.out]),
    # 3. sizes a model folder's config.json asks for, checked before anything is allocated
    Case("predict --pretrained: config.json asks for 100000 frames", "predict",
         lambda c: c.predict(model=("--pretrained", c.exported(_frames(100000)))), 2,
         "config.json: model.frames must be at most 256", absent=lambda c: [c.tmp / "preds.jsonl"]),
    Case("eval --pretrained: config.json asks for 100000 adapter blocks", "eval",
         lambda c: c.eval(model=("--pretrained", c.exported(lambda m: m["config"]["model"].update(adapter_depth=100000)))), 2,
         "config.json: model.adapter_depth must be at most 64 blocks"),
    Case("train: model.frames=100000", "train", lambda c: c.train(model__frames=100000), 2, "model.frames must be at most 256",
         absent=lambda c: [c.out]),
    Case("predict: a released X-CLIP asking for an 81,920-wide tower", "predict",
         lambda c: _hf_predict(c, c.released(_vision("hidden_size", 81920))), 2,
         "weights do not fit this model (size mismatch for", absent=lambda c: [c.tmp / "preds.jsonl"]),
    Case("eval: a released X-CLIP asking for 100000 frames", "eval", lambda c: _hf_eval(c, c.released(_vision("num_frames", 100000))),
         2, "vision_config.num_frames must be a whole number from 1 to 256"),
    Case("eval: a released X-CLIP asking for 10000 layers", "eval", lambda c: _hf_eval(c, c.released(_vision("num_hidden_layers", 10000))),
         2, "vision_config.num_hidden_layers must be a whole number from 1 to 64"),
    # 4. a safetensors header claiming a 10^6 x 10^6 tensor
    Case("predict --pretrained: model.safetensors claims a 10^6 x 10^6 tensor", "predict",
         lambda c: c.predict(model=("--pretrained", c.exported_weights(safetensors_claiming([10**6, 10**6])))), 2,
         "model.safetensors: not a readable safetensors file (tensor 'x' of shape [1000000, 1000000] does not fit",
         absent=lambda c: [c.tmp / "preds.jsonl"]),
    Case("eval: a released X-CLIP whose weights claim a 10^6 x 10^6 tensor", "eval",
         lambda c: _hf_eval(c, c.released(weights=safetensors_claiming([10**6, 10**6]))), 2, "not a readable safetensors file (tensor 'x'"),
    # 5. released X-CLIP folders, through --checkpoint and --pretrained
    Case("predict --checkpoint: a released X-CLIP of random bytes", "predict", lambda c: _hf_predict(c, c.released(weights=random_bytes())),
         2, "model.safetensors: not a readable safetensors file (its header claims", absent=lambda c: [c.tmp / "preds.jsonl"]),
    Case("eval --pretrained: a released X-CLIP of random bytes", "eval",
         lambda c: c.eval("--labels", c.task.labels, model=("--pretrained", c.released(weights=random_bytes()))), 2,
         "not a readable safetensors file (its header claims"),
    Case("predict --pretrained: a shard path leaving the folder", "predict",
         lambda c: _hf_predict(c, c.shards("../../../../etc/passwd"), "--pretrained"), 2,
         "shard '../../../../etc/passwd' lies outside", absent=lambda c: [c.tmp / "preds.jsonl"]),
    Case("eval --checkpoint: an absolute shard path", "eval", lambda c: _hf_eval(c, c.shards("/etc/passwd")), 2,
         "shard '/etc/passwd' lies outside"),
    Case("eval --checkpoint: hidden_size 'wide'", "eval", lambda c: _hf_eval(c, c.released(_vision("hidden_size", "wide"))), 2,
         "hidden_size"),
    Case("predict --pretrained: hidden_size 'wide'", "predict",
         lambda c: _hf_predict(c, c.released(_vision("hidden_size", "wide")), "--pretrained"), 2, "hidden_size",
         absent=lambda c: [c.tmp / "preds.jsonl"]),
    # 7. one alt-train per run folder
    Case("train into a folder another alt-train is writing", "train", lambda c: c.train(), 2,
         "another alt-train is writing there", fault=lambda c, m: c.lock_held(m),
         absent=lambda c: [c.out / "config.yaml", c.out / "log.jsonl", c.out / "last.pt"]),
    # 8. alt-synthetic's --out
    Case("synthetic --out a regular file", "synthetic", lambda c: ["--out", c.file("plain.txt")], 2,
         "--out is an existing file, not a folder", keep=lambda c: [c.tmp / "plain.txt"]),
    Case("synthetic --out under a regular file", "synthetic", lambda c: ["--out", c.file("plain.txt") / "task"], 2,
         "plain.txt is a file", keep=lambda c: [c.tmp / "plain.txt"]),
    Case("synthetic --out under /proc", "synthetic", lambda c: ["--out", "/proc/alt-hostile-synthetic"], 2,
         "/proc: cannot write in the --out folder"),
    Case("synthetic --out in an immutable folder", "synthetic", lambda c: ["--out", c.immutable() / "task"], 2,
         "cannot write in the --out folder", absent=lambda c: [c.tmp / "locked" / "task"]),
]


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    """A tiny released X-CLIP in Hugging Face's layout (test_xclip_official's config, random weights)."""
    from test_xclip_official import hf_config

    from alt_model.hf_xclip import save_hf_xclip, xclip_from_config

    return save_hf_xclip(xclip_from_config(hf_config()), tmp_path_factory.mktemp("released") / "xclip")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_loading(case: Case, task, trained, released, tmp_path, run_main, monkeypatch):
    c = LoadCtx(task, trained, tmp_path, released)
    try:
        args = case.args(c)
        kept = {p: _digest(p) for p in case.keep(c)}
        if case.fault is not None:
            case.fault(c, monkeypatch)
        code, out, err = run_main(COMMANDS[case.entry], *args)
        assert_verdict(code, out, err, case.code, case.message, kept, case.absent(c))
    finally:
        for cleanup in reversed(c.cleanups):
            cleanup()


# 6. Ctrl-C while the console script's modules import: the interrupt is sent from inside the import of `module`
INTERRUPT_IN_IMPORT = """
import os, runpy, signal, sys

module, script = sys.argv[1:3]

class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == module:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, Interrupt())
sys.argv = sys.argv[2:]
runpy.run_path(script, run_name="__main__")
"""


def _train_args(task, out: Path) -> list[str]:
    from videos import tiny_overrides

    values = tiny_overrides(task, out, train__epochs=1, eval__every=0, data__val_list="null")
    return ["--corpus", str(task.corpus), "--config", "tiny_cpu", *(f"{k}={v}" for k, v in values.items())]


def _assert_interrupted(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 130, (done.returncode, done.stderr)
    assert done.stderr.strip().splitlines()[-1] == "interrupted; nothing was written", done.stderr


@pytest.mark.parametrize("module", ["rich.console", "torch"], ids=["entry module", "command body"])
@pytest.mark.parametrize("script", ["alt-train", "alt-predict"])
def test_ctrl_c_while_importing(script, module, task, trained, tmp_path):
    args = _train_args(task, tmp_path / "run") if script == "alt-train" else [str(task.root), "--checkpoint", str(trained / "best.pt")]
    done = subprocess.run([sys.executable, "-c", INTERRUPT_IN_IMPORT, module, str(SCRIPTS / script), *args],
                          capture_output=True, text=True, timeout=120)
    _assert_interrupted(done)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("script", ["alt-eval", "alt-explain", "alt-export", "alt-synthetic", "alt-lists", "alt-data", "corpus"])
def test_ctrl_c_while_every_script_imports(script):
    done = subprocess.run([sys.executable, "-c", INTERRUPT_IN_IMPORT, "rich.console", str(SCRIPTS / script), "--help"],
                          capture_output=True, text=True, timeout=60)
    _assert_interrupted(done)


@pytest.mark.parametrize("script", ["alt-train", "alt-predict"])
def test_ctrl_c_in_the_first_second(script, task, trained, tmp_path):
    """The real script, a real SIGINT 0.3 s in (while torch imports, or its own modules on a busy machine)."""
    args = _train_args(task, tmp_path / "run") if script == "alt-train" else [str(task.root), "--checkpoint", str(trained / "best.pt")]
    process = subprocess.Popen([str(SCRIPTS / script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        process.wait(0.3)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    _assert_interrupted(subprocess.CompletedProcess(process.args, process.returncode, out, err))


def test_two_trains_into_one_folder(task, tmp_path):
    """Two real alt-train processes started at once into the same new --out: one trains, the other is refused."""
    out = tmp_path / "run"
    runs = [subprocess.Popen([str(SCRIPTS / "alt-train"), *_train_args(task, out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    results = sorted((p.returncode, err) for p in runs for _, err in [p.communicate(timeout=300)])
    (ok, _), (refused, err) = results
    assert (ok, refused) == (0, 2), results
    assert err.strip().splitlines() == [f"error: {out}: another alt-train is writing there (it holds {out / RUN_LOCK}); "
                                        "wait for it to end, or choose another --out"], err
    assert (out / "last.pt").is_file() and len((out / "log.jsonl").read_text().splitlines()) >= 1
