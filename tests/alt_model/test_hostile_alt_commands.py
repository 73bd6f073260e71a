"""Hostile input and faults against alt-train, alt-eval, alt-explain (issue 22), alt-predict and alt-export (issue 20),
one row per case.

Every row: the command, its arguments (built from the session's synthetic task and trained run), the
exit code and a fragment of the one line it must print, the files that must be unchanged and the
files that must not exist afterwards (and log files that must stay JSON). Faults that are not
arguments (Ctrl-C, a lowered size limit) are injected with monkeypatch. Unwritable folders are made
with `chattr +i` (root, as CI runs, is not stopped by permissions), or with chmod where chattr is not
allowed; a row whose folder stays writable either way is skipped, so no row depends on who runs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import torch
from videos import REPO, interrupt_at_step, tiny_overrides

from alt_model.cli import eval_main, train_main
from alt_model.explain_cli import main as explain_main
from alt_model.predict_cli import export_main, predict_main

ENTRIES = {"train": train_main, "eval": eval_main, "explain": explain_main, "predict": predict_main, "export": export_main}
CONFIG = REPO / "configs" / "tiny_cpu.yaml"


class Ctx:
    """What a row builds its arguments from: the task, the trained run, a fresh folder, and helpers that
    make hostile files in it."""

    def __init__(self, task, trained: Path, tmp: Path) -> None:
        self.task, self.trained, self.tmp = task, trained, tmp
        self.out = tmp / "run"
        self.cleanups: list[Callable[[], None]] = []

    # --- arguments
    def train(self, *extra: str, out: Path | None = None, train_list: Path | None = None, **overrides: object) -> list:
        """alt-train on the tiny config over `train_list` (default: 8 videos, one step an epoch), one epoch, no validation."""
        defaults = {"train__epochs": 1, "eval__every": 0, "data__val_list": "null", "data__train_list": train_list or self.short_list()}
        values = tiny_overrides(self.task, out or self.out, **(defaults | overrides))
        return ["--corpus", self.task.corpus, "--config", CONFIG, *(f"{k}={v}" for k, v in values.items()), *extra]

    def eval(self, *extra: object, checkpoint: Path | None = None, model: tuple = ()) -> list:
        return [*(model or ("--checkpoint", checkpoint or self.trained / "best.pt")), "--val-list", self.short_list(4, self.task.val),
                "--workers", 0, "--out", self.tmp / "eval", *extra]

    def explain(self, *extra: object) -> list:
        return [self.video(), "--checkpoint", self.trained / "last.pt", "--frames", 2, *extra]

    def predict(self, *extra: object, model: tuple = (), source: Path | None = None) -> list:
        """alt-predict of a 3-video list with trained/best.pt (or `model`'s flags) into preds.jsonl."""
        return [source or self.video_list(), *(model or ("--checkpoint", self.trained / "best.pt")), "--workers", 0,
                "--out", self.tmp / "preds.jsonl", *extra]

    def export(self, *extra: object, checkpoint: Path | None = None, folder: Path | None = None) -> list:
        return [checkpoint or self.trained / "best.pt", folder or self.tmp / "model", *extra]

    # --- files
    def video(self) -> Path:
        return sorted(self.task.root.rglob("*.mp4"))[0]

    def short_list(self, n: int = 8, source: Path | None = None) -> Path:
        """The first `n` videos of a list (spread over the classes), as a list of its own."""
        lines = (source or self.task.train).read_text().splitlines()
        rows = lines[1:]
        path = self.tmp / f"short_{n}_{(source or self.task.train).stem}.csv"
        path.write_text("\n".join([lines[0], *rows[:: max(1, len(rows) // n)][:n]]) + "\n")
        return path

    def broken_list(self, n: int = 4) -> Path:
        """A list of `n` videos that exist but cannot be decoded."""
        labels = self.task.labels.read_text().splitlines()
        folder = self.tmp / "broken"
        folder.mkdir(exist_ok=True)
        for i in range(n):
            (folder / f"v{i}.mp4").write_bytes(b"\x00" * 500)
        path = self.tmp / "broken.csv"
        path.write_text("path,label\n" + "".join(f"{folder / f'v{i}.mp4'},{labels[i % len(labels)]}\n" for i in range(n)))
        return path

    def file(self, name: str, data: bytes = b"precious input\n") -> Path:
        path = self.tmp / name
        path.write_bytes(data)
        return path

    def video_list(self, n: int = 3) -> Path:
        """A list of the first `n` synthetic videos, one absolute path per line."""
        path = self.tmp / "videos.txt"
        path.write_text("".join(f"{v}\n" for v in sorted(self.task.root.rglob("*.mp4"))[:n]))
        return path

    def exported(self, edit: Callable[[dict], object] | None = None, config: str | None = None) -> Path:
        """trained/best.pt as an alt-export folder, with `edit` applied to its config.json, or `config` as its text."""
        from alt_model.hub import export_checkpoint

        folder = export_checkpoint(self.trained / "best.pt", self.tmp / "exported")
        if edit is not None:
            meta = json.loads((folder / "config.json").read_text())
            edit(meta)
            config = json.dumps(meta)
        if config is not None:
            (folder / "config.json").write_text(config)
        return folder

    def folder(self, name: str, *files: str) -> Path:
        """A folder holding `files` (each a line of text)."""
        folder = self.tmp / name
        folder.mkdir()
        for file in files:
            (folder / file).write_text("precious\n")
        return folder

    def copy(self, source: Path, name: str) -> Path:
        return self.file(name, source.read_bytes())

    def checkpoint(self, name: str, edit: Callable[[dict], object]) -> Path:
        """trained/last.pt with `edit` applied, saved as `name` in a run folder of its own."""
        state = torch.load(self.trained / "last.pt", weights_only=True)
        edit(state)
        path = self.tmp / name.replace(".pt", "") / "last.pt"
        path.parent.mkdir(parents=True)
        torch.save(state, path)
        return path

    def immutable(self, name: str = "locked") -> Path:
        """A folder nothing can be written in, whoever runs the test."""
        folder = self.tmp / name
        folder.mkdir()
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
            self.cleanups.append(lambda: subprocess.run(["chattr", "-i", str(folder)], check=True))
        else:
            folder.chmod(0o555)
            self.cleanups.append(lambda: folder.chmod(0o755))
        try:
            (folder / ".probe").touch()
        except OSError:
            return folder
        (folder / ".probe").unlink()
        pytest.skip("cannot make a folder unwritable here (neither chattr +i nor permissions bind)")


def _nan_weights(state: dict) -> None:
    for tensor in state["model"].values():
        if tensor.is_floating_point():
            tensor.fill_(float("nan"))


class Boom:
    """A pickle that would run code on load: torch.load(weights_only=True) must refuse it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _crafted(c: Ctx) -> Path:
    path = c.tmp / "evil.pt"
    torch.save({"model": {}, "config": {}, "x": Boom(c.tmp / "pwned")}, path)
    return path


def _interrupt_at(at: int):
    """A fault: Ctrl-C on the `step`-th optimizer step of alt-train."""

    def fault(c: Ctx, monkeypatch) -> None:
        interrupt_at_step(monkeypatch, at)

    return fault


def _ctrl_c_in_eval(c: Ctx, monkeypatch) -> None:
    import alt_model.evaluate as evaluate

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluate, "evaluate", interrupted)


def _ctrl_c_in_explain(c: Ctx, monkeypatch) -> None:
    import alt_model.explain as explain

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(explain, "align_frames", interrupted)


def _ctrl_c_in_predict(after: int):
    """A fault: Ctrl-C while alt-predict works on video `after` + 1 (the first `after` are done)."""

    def fault(c: Ctx, monkeypatch) -> None:
        import alt_model.predict as predict

        real = predict.predict

        def interrupted(*args, **kwargs):
            for n, p in enumerate(real(*args, **kwargs)):
                if n == after:
                    raise KeyboardInterrupt
                yield p

        monkeypatch.setattr(predict, "predict", interrupted)

    return fault


def _ctrl_c_in_export(c: Ctx, monkeypatch) -> None:
    import safetensors.torch

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.torch, "save_file", interrupted)


def _pickled_weights(c: Ctx) -> Path:
    folder = c.exported()
    torch.save({"x": Boom(c.tmp / "pwned")}, folder / "model.safetensors")
    return folder


def _exported_left(c: Ctx) -> list:
    """The folder alt-export was to write and any temporary sibling of it."""
    return [c.tmp / "model", *c.tmp.glob(".model.*")]


def _only_pyav(c: Ctx, monkeypatch) -> None:
    from alt_model import decode

    monkeypatch.setattr(decode, "loads", lambda name: name == "pyav")


def _small_list_limit(c: Ctx, monkeypatch) -> None:
    import alt_model.data as data

    monkeypatch.setattr(data, "LIST_LIMIT", 100)


def _other_clip_corpus(c: Ctx) -> Path:
    from alt_model.synthetic import write_tiny_corpus

    return write_tiny_corpus(c.tmp / "other_clip", model="alt-tiny-clip")


def _wide_corpus(c: Ctx) -> Path:
    import torch.nn.functional as F

    data = torch.load(c.task.corpus, weights_only=True)
    data["embeddings"] = F.normalize(torch.randn(len(data["units"]), 48), dim=-1)
    path = c.tmp / "wide.pt"
    torch.save(data, path)
    return path


RUN_FILES = ("config.yaml", "log.jsonl", "last.pt", "best.pt")


@dataclass
class Case:
    name: str
    entry: str  # train | eval | explain
    args: Callable[[Ctx], list]
    code: int
    message: str
    keep: Callable[[Ctx], list] = lambda c: []  # files whose bytes must not change
    absent: Callable[[Ctx], list] = lambda c: []  # paths that must not exist afterwards
    json_lines: Callable[[Ctx], list] = lambda c: []  # files that must hold strict JSON lines (no NaN)
    fault: Callable[[Ctx, object], None] | None = None
    note: str = field(default="")


def _none_of_run(c: Ctx) -> list:
    return [c.out / name for name in RUN_FILES]


CASES = [
    # 1/2. outputs: refused before any work, nothing left behind, no input overwritten
    Case("train --out is a file (an input)", "train", lambda c: c.train("--out", c.copy(c.task.corpus, "victim.pt")), 2,
         "--out is an existing file, not a folder", keep=lambda c: [c.tmp / "victim.pt"]),
    Case("train --out under a regular file", "train", lambda c: c.train("--out", c.file("plain.txt") / "run"), 2,
         "plain.txt is a file", keep=lambda c: [c.tmp / "plain.txt"]),
    Case("train --out in an immutable folder", "train", lambda c: c.train("--out", c.immutable() / "run"), 2,
         "cannot write in the --out folder", absent=lambda c: [c.tmp / "locked" / "run"]),
    Case("train config out under /proc", "train", lambda c: c.train(out=Path("/proc/alt-hostile-run")), 2,
         "/proc: cannot write in the --out folder"),
    Case("train data.workers=-1 writes nothing", "train", lambda c: c.train(data__workers=-1), 2,
         "data.workers must be at least 0", absent=lambda c: [c.out]),
    Case("eval --out is the checkpoint", "eval", lambda c: c.eval("--out", c.trained / "best.pt"), 2,
         "--out is an existing file, not a folder", keep=lambda c: [c.trained / "best.pt"]),
    Case("eval --out in an immutable folder", "eval", lambda c: c.eval("--out", c.immutable()), 2,
         "cannot write in the --out folder", absent=lambda c: [c.tmp / "locked" / "metrics.json"]),
    Case("eval --out under a regular file", "eval", lambda c: c.eval("--out", c.file("plain.txt") / "eval"), 2,
         "plain.txt is a file", keep=lambda c: [c.tmp / "plain.txt"]),
    Case("explain --out is the video", "explain", lambda c: c.explain("--out", c.copy(c.video(), "clip.mp4")), 2,
         "--out is an existing file, not a folder", keep=lambda c: [c.tmp / "clip.mp4"]),
    Case("explain --out in an immutable folder", "explain", lambda c: c.explain("--out", c.immutable() / "x"), 2,
         "cannot write in the --out folder", absent=lambda c: [c.tmp / "locked" / "x"]),
    Case("explain --out would overwrite an input label file", "explain",
         lambda c: c.explain("--labels", c.file("explanation.json", b"a\nb\n"), "--out", c.tmp), 2,
         "is an input of this command", keep=lambda c: [c.tmp / "explanation.json"]),
    # 3. runs that would succeed on nothing, and values no run can use
    Case("train: every training video unreadable", "train", lambda c: c.train(train_list=c.broken_list()), 1,
         "none of the 4 training videos could be read", absent=lambda c: [c.out / "last.pt", c.out / "best.pt"],
         json_lines=lambda c: [c.out / "log.jsonl"]),
    Case("eval: every video unreadable", "eval", lambda c: c.eval("--val-list", c.broken_list()), 1,
         "could be read", absent=lambda c: [c.tmp / "eval" / "metrics.json"]),
    Case("train: a non-finite loss stops the run", "train",
         lambda c: c.train(train__init=c.checkpoint("nan.pt", _nan_weights)), 1, "a loss or gradient was not finite at step 1",
         absent=lambda c: [c.out / "last.pt", c.out / "best.pt"], json_lines=lambda c: [c.out / "log.jsonl"]),
    Case("train: every validation video unreadable", "train", lambda c: c.train(data__val_list=c.broken_list()), 1,
         "none of the 4 videos of", absent=lambda c: [c.out / "best.pt"], json_lines=lambda c: [c.out / "log.jsonl"]),
    Case("train.lr_adapter=nan", "train", lambda c: c.train(train__lr_adapter="nan"), 2,
         "train.lr_adapter: expected a finite float", absent=lambda c: [c.out]),
    Case("train.lr_vit=inf", "train", lambda c: c.train(train__lr_vit="inf"), 2, "train.lr_vit: expected a finite float",
         absent=lambda c: [c.out]),
    Case("train.lr_vit=-1", "train", lambda c: c.train(train__lr_vit=-1), 2, "train.lr_vit must be a learning rate above 0",
         absent=lambda c: [c.out]),
    Case("train.weight_decay=-5", "train", lambda c: c.train(train__weight_decay=-5), 2, "train.weight_decay must be at least 0"),
    Case("aug.flip=7", "train", lambda c: c.train(aug__flip=7), 2, "aug.flip must be a probability"),
    Case("aug.label_smoothing=3", "train", lambda c: c.train(aug__label_smoothing=3), 2, "aug.label_smoothing must be from 0"),
    Case("aug.mixup=-1", "train", lambda c: c.train(aug__mixup=-1), 2, "aug.mixup must be at least 0"),
    Case("train.warmup_epochs=-2", "train", lambda c: c.train(train__warmup_epochs=-2), 2, "train.warmup_epochs must be at least 0"),
    Case("train.epochs=0 (holds)", "train", lambda c: c.train(train__epochs=0), 2, "train.epochs must be at least 1"),
    Case("train.batch_size=0 (holds)", "train", lambda c: c.train(train__batch_size=0), 2, "train.batch_size must be at least 1"),
    Case("aug.scales=[1, (a broken list)", "train", lambda c: c.train(aug__scales="[1,"), 2, "aug.scales: expected list"),
    Case("seed=-1", "train", lambda c: c.train(seed=-1), 2, "seed must be from 0"),
    Case("data.holdout=1 (all held out)", "train", lambda c: c.train(data__holdout=1), 2,
         "data.holdout must be a fraction of the training videos, from 0 to below 1", absent=lambda c: [c.out]),
    Case("data.backend=ffmpeg (no such backend)", "train", lambda c: c.train(data__backend="ffmpeg"), 2,
         "data.backend must be one of auto, pyav, decord, torchcodec (installed here: pyav", absent=lambda c: [c.out]),
    Case("data.backend=decord where it is not installed", "train", lambda c: c.train(data__backend="decord"), 2,
         "data.backend=decord: decord is not installed here (installed: pyav); pip install 'alt-toolkit[fast-video]'",
         fault=_only_pyav, absent=lambda c: [c.out]),
    # 5. bounded, UTF-8 input
    Case("config is /dev/zero", "train", lambda c: ["--corpus", c.task.corpus, "--config", "/dev/zero"], 2,
         "/dev/zero: a config is a device, not a regular file"),
    Case("config of 2 MiB", "train", lambda c: ["--corpus", c.task.corpus, "--config", c.file("big.yaml", b"# x\n" * (1 << 19))], 2,
         "a config is larger than 1 MiB"),
    Case("config is binary, not UTF-8", "train", lambda c: ["--corpus", c.task.corpus, "--config", c.file("bin.yaml", bytes(range(256)))],
         2, "bin.yaml: a config is not UTF-8 text"),
    Case("video list is not UTF-8", "train", lambda c: c.train(train_list=c.file("bin.csv", b"path,label\n\xff\xfe,x\n")), 2,
         "bin.csv: a video list is not UTF-8 text", absent=lambda c: [c.out]),
    Case("video list over the size limit", "train", lambda c: c.train(), 2, "a video list is larger than 100 bytes", fault=_small_list_limit,
         absent=lambda c: [c.out]),
    # 6. errors that were tracebacks
    Case("eval --corpus embedded by another CLIP model", "eval", lambda c: c.eval("--corpus", _other_clip_corpus(c)), 2,
         "weights do not fit this model"),
    Case("explain --corpus of another width", "explain", lambda c: c.explain("--corpus", _wide_corpus(c)), 2,
         "corpus embeddings are 48-d but the CLIP model's joint space is 32-d"),
    Case("resume: last.pt without its optimizer state", "train",
         lambda c: ["--corpus", c.task.corpus, "--resume", "--out", c.checkpoint("noopt.pt", lambda s: s.update(optimizer={})).parent],
         2, "its optimizer state is missing or does not fit", keep=lambda c: [c.tmp / "noopt" / "last.pt"]),
    Case("resume: last.pt without its RNG state", "train",
         lambda c: ["--corpus", c.task.corpus, "--resume", "--out", c.checkpoint("norng.pt", lambda s: s.update(rng=[{}])).parent],
         2, "its RNG state is missing or malformed", keep=lambda c: [c.tmp / "norng" / "last.pt"]),
    Case("eval: a checkpoint whose config is a string", "eval",
         lambda c: c.eval(checkpoint=c.checkpoint("strcfg.pt", lambda s: s.update(config="hello"))), 2, "its config is a str"),
    Case("eval: a truncated checkpoint", "eval",
         lambda c: c.eval(checkpoint=c.file("cut.pt", (c.trained / "best.pt").read_bytes()[:5000])), 2, "not an alt-train checkpoint"),
    Case("eval --views 0x1 (holds)", "eval", lambda c: c.eval("--views", "0x1"), 2, "CLIPSxCROPS"),
    Case("eval --views 2x2 (holds)", "eval", lambda c: c.eval("--views", "2x2"), 2, "CLIPSxCROPS"),
    Case("eval --views abc (holds)", "eval", lambda c: c.eval("--views", "abc"), 2, "CLIPSxCROPS"),
    Case("config not YAML (holds)", "train", lambda c: ["--corpus", c.task.corpus, "--config", c.file("bad.yaml", b"a: [1,\n")], 2,
         "not valid YAML"),
    # 7. the right words
    Case("eval --device banana blames the device", "eval", lambda c: c.eval("--device", "banana", checkpoint=c.file("junk.pt")), 2,
         "--device banana: not a device name"),
    Case("train --device banana blames the device", "train", lambda c: c.train("--device", "banana"), 2,
         "--device banana: not a device name", absent=lambda c: [c.out]),
    Case("explain --device banana (holds)", "explain", lambda c: c.explain("--device", "banana"), 2, "--device banana"),
    Case("train Ctrl-C after a checkpoint says what was kept", "train", lambda c: c.train(train__epochs=3), 130,
         "interrupted; the run's last checkpoint is", fault=_interrupt_at(2),
         json_lines=lambda c: [c.out / "log.jsonl"], note="best.pt is epoch 1's last.pt: with no data.holdout, the last epoch done"),
    Case("train Ctrl-C before any checkpoint", "train", lambda c: c.train(), 130, "interrupted before the first checkpoint",
         fault=_interrupt_at(1), absent=lambda c: [c.out / "last.pt"]),
    Case("eval Ctrl-C says nothing was written", "eval", lambda c: c.eval(), 130, "interrupted; nothing was written", fault=_ctrl_c_in_eval,
         absent=lambda c: [c.tmp / "eval"]),
    Case("explain Ctrl-C says nothing was written", "explain", lambda c: c.explain("--out", c.tmp / "x"), 130,
         "interrupted; nothing was written", fault=_ctrl_c_in_explain, absent=lambda c: [c.tmp / "x"]),
    # alt-predict (issue 20): outputs checked first, one flag per model, unreadable videos counted, lines kept on Ctrl-C
    Case("predict --out is the video list (an input)", "predict",
         lambda c: c.predict("--out", c.copy(c.video_list(), "list.csv"), source=c.tmp / "list.csv"), 2,
         "--out is also an input of this command", keep=lambda c: [c.tmp / "list.csv"]),
    Case("predict --out in an immutable folder", "predict", lambda c: c.predict("--out", c.immutable() / "p.jsonl"), 2,
         "cannot write in the --out folder", absent=lambda c: [c.tmp / "locked" / "p.jsonl"]),
    Case("predict --out under a regular file", "predict", lambda c: c.predict("--out", c.file("plain.txt") / "p.jsonl"), 2,
         "the --out folder is not a folder", keep=lambda c: [c.tmp / "plain.txt"]),
    Case("predict --out is a folder", "predict", lambda c: c.predict("--out", c.folder("preds.jsonl")), 2,
         "is a folder; pass a file name to --out"),
    Case("predict --out of another kind", "predict", lambda c: c.predict("--out", c.tmp / "preds.txt"), 2,
         "name a .jsonl (a JSON line per video) or .csv file", absent=lambda c: [c.tmp / "preds.txt"]),
    Case("predict --labels /dev/zero", "predict", lambda c: c.predict("--labels", "/dev/zero"), 2,
         "/dev/zero: label file is a device, not a regular file", absent=lambda c: [c.tmp / "preds.jsonl"]),
    Case("predict --checkpoint and --pretrained", "predict",
         lambda c: c.predict(model=("--checkpoint", c.trained / "best.pt", "--pretrained", c.exported())), 2,
         "pass one of --checkpoint CKPT (alt-train) and --pretrained DIR (alt-export), not both", absent=lambda c: [c.tmp / "preds.jsonl"]),
    Case("predict --pretrained a training checkpoint", "predict", lambda c: c.predict(model=("--pretrained", c.trained / "best.pt")), 2,
         "it takes a model folder written by alt-export"),
    Case("predict --device banana", "predict", lambda c: c.predict("--device", "banana"), 2, "--device banana: not a device name",
         absent=lambda c: [c.tmp / "preds.jsonl"]),
    Case("predict: the video list is not UTF-8", "predict", lambda c: c.predict(source=c.file("bin.txt", b"\xff\xfe.mp4\n")), 2,
         "bin.txt: a video list is not UTF-8 text"),
    Case("predict: every video unreadable", "predict", lambda c: c.predict(source=c.broken_list()), 1,
         "no video could be read", absent=lambda c: [c.tmp / "preds.jsonl"], json_lines=lambda c: [c.tmp / "preds.jsonl.partial"],
         note="the lines saying why are in preds.jsonl.partial (issue 32)"),
    Case("predict: a crafted .pt runs no code", "predict", lambda c: c.predict(model=("--checkpoint", _crafted(c))), 2,
         "not an alt-train checkpoint", absent=lambda c: [c.tmp / "pwned", c.tmp / "preds.jsonl"]),
    Case("predict --pretrained: model.safetensors is a pickle", "predict", lambda c: c.predict(model=("--pretrained", _pickled_weights(c))),
         2, "not a readable safetensors file", absent=lambda c: [c.tmp / "pwned", c.tmp / "preds.jsonl"]),
    Case("predict --pretrained: config.json is not JSON", "predict",
         lambda c: c.predict(model=("--pretrained", c.exported(config="{oops"))), 2, "config.json: not valid JSON"),
    Case("predict --pretrained: weights of another model shape", "predict",
         lambda c: c.predict(model=("--pretrained", c.exported(lambda m: m["config"]["model"].update(adapter_width="joint")))), 2,
         "weights do not fit this model (size mismatch for", absent=lambda c: [c.tmp / "preds.jsonl"]),
    Case("predict Ctrl-C keeps the lines written", "predict", lambda c: c.predict(), 130,
         "interrupted after 1 of 3 videos; their predictions are in", fault=_ctrl_c_in_predict(1),
         absent=lambda c: [c.tmp / "preds.jsonl"], json_lines=lambda c: [c.tmp / "preds.jsonl.partial"]),
    Case("predict Ctrl-C before the first video", "predict", lambda c: c.predict(), 130, "interrupted; nothing was written",
         fault=_ctrl_c_in_predict(0), absent=lambda c: [c.tmp / "preds.jsonl", c.tmp / "preds.jsonl.partial"]),
    # alt-export (issue 20): a folder written whole or not at all, never over someone else's files
    Case("export DIR is an existing file (an input)", "export", lambda c: c.export(folder=c.copy(c.trained / "best.pt", "victim.pt")), 2,
         "DIR is an existing file, not a folder", keep=lambda c: [c.tmp / "victim.pt"]),
    Case("export DIR holds other files", "export", lambda c: c.export(folder=c.folder("own", "notes.md")), 2,
         "holds files alt-export did not write (notes.md)", keep=lambda c: [c.tmp / "own" / "notes.md"]),
    Case("export DIR in an immutable folder", "export", lambda c: c.export(folder=c.immutable() / "model"), 2,
         "cannot write in the DIR folder", absent=lambda c: [c.tmp / "locked" / "model"]),
    Case("export DIR under /proc", "export", lambda c: c.export(folder=Path("/proc/alt-hostile-model")), 2, "/proc: cannot write in the DIR folder"),
    Case("export: a crafted .pt runs no code", "export", lambda c: c.export(checkpoint=_crafted(c)), 2, "not an alt-train checkpoint",
         absent=lambda c: [c.tmp / "pwned", *_exported_left(c)]),
    Case("export: the checkpoint's corpus is gone", "export",
         lambda c: c.export(checkpoint=c.checkpoint("moved.pt", lambda s: s.update(corpus=str(c.tmp / "gone.pt")))), 2,
         "its training corpus", absent=_exported_left),
    Case("export Ctrl-C leaves no folder", "export", lambda c: c.export(), 130, "interrupted; nothing was written", fault=_ctrl_c_in_export,
         absent=_exported_left),
    Case("eval --pretrained: weights of another model shape", "eval",
         lambda c: c.eval(model=("--pretrained", c.exported(lambda m: m["config"]["model"].update(adapter_depth=1)))), 2,
         "model.safetensors and config.json describe different models", absent=lambda c: [c.tmp / "eval" / "metrics.json"]),
    Case("eval --checkpoint and --pretrained", "eval", lambda c: c.eval("--pretrained", c.exported()), 2,
         "pass one of --checkpoint CKPT (alt-train) and --pretrained DIR (alt-export), not both"),
    # cases that hold today and must keep holding
    Case("a crafted .pt runs no code (eval)", "eval", lambda c: c.eval(checkpoint=_crafted(c)), 2, "not an alt-train checkpoint",
         absent=lambda c: [c.tmp / "pwned"]),
    Case("a crafted .pt runs no code (train --corpus)", "train", lambda c: ["--corpus", _crafted(c), *c.train()[2:]], 2,
         "not a corpus.pt", absent=lambda c: [c.tmp / "pwned", c.out]),
    Case("unknown config key (holds)", "train", lambda c: c.train("train.lr_vt=1e-3"), 2, "unknown config key 'train.lr_vt'"),
    Case("eval: checkpoint not found (holds)", "eval", lambda c: c.eval(checkpoint=c.tmp / "nope.pt"), 2, "checkpoint not found"),
    # a folder as --checkpoint is a released X-CLIP in Hugging Face's layout (issue 18)
    Case("eval --checkpoint a folder with no config.json", "eval", lambda c: c.eval("--labels", c.task.labels, checkpoint=_hf_folder(c, None)),
         2, "a folder, but not a released X-CLIP"),
    Case("eval --checkpoint a folder of another Hugging Face model", "eval",
         lambda c: c.eval("--labels", c.task.labels, checkpoint=_hf_folder(c, b'{"model_type": "bert"}')), 2, "a folder, but not a released X-CLIP"),
    Case("eval --checkpoint a folder whose config.json is not JSON", "eval",
         lambda c: c.eval("--labels", c.task.labels, checkpoint=_hf_folder(c, b"\xff[1")), 2, "a folder, but not a released X-CLIP"),
    Case("eval --checkpoint a released X-CLIP folder without its weights", "eval",
         lambda c: c.eval("--labels", c.task.labels, checkpoint=_hf_folder(c, b'{"model_type": "xclip"}')), 2,
         "no model.safetensors, model.safetensors.index.json or pytorch_model.bin"),
    Case("train: corpus not found (holds)", "train", lambda c: ["--corpus", c.tmp / "nope.pt", *c.train()[2:]], 2,
         "corpus.pt not found", absent=lambda c: [c.out]),
]


def _hf_folder(c: Ctx, config: bytes | None) -> Path:
    """A folder posing as a released X-CLIP: `config` as its config.json (none when None), no weights."""
    folder = c.tmp / "released"
    folder.mkdir()
    if config is not None:
        (folder / "config.json").write_bytes(config)
    return folder


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def assert_verdict(code: int, out: str, err: str, expected: int, message: str, kept: dict[Path, str], absent: list) -> None:
    """The contract of every row: the exit code, `message` in the last line (stdout's for exit 0, else stderr's, which
    starts with the code's word), one line for bad input, no traceback, `kept` files byte-identical, `absent` paths gone."""
    assert "Traceback" not in err and "Traceback" not in out, err
    assert code == expected, f"exit {code}, expected {expected}: {err}{out}"
    lines = (out if code == 0 else err).strip().splitlines()
    assert lines and message in lines[-1], (err, out)  # the verdict is the last line, in one line
    if code:
        assert lines[-1].startswith({1: "failed: ", 2: "error: ", 130: "interrupted"}[code]), err
    assert code != 2 or len(lines) == 1, f"bad input is one line, before any work: {err}"
    for path, digest in kept.items():
        assert path.is_file() and _digest(path) == digest, f"{path} changed"
    for path in absent:
        assert not Path(path).exists(), f"{path} was left behind"


def _strict_json(line: str) -> object:
    def refuse(name):
        raise ValueError(f"bare {name} in log.jsonl")

    return json.loads(line, parse_constant=refuse)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile(case: Case, task, trained, tmp_path, run_main, monkeypatch):
    c = Ctx(task, trained, tmp_path)
    try:
        args = case.args(c)
        kept = {p: _digest(p) for p in case.keep(c)}
        if case.fault is not None:
            case.fault(c, monkeypatch)
        code, out, err = run_main(ENTRIES[case.entry], *args)
        assert_verdict(code, out, err, case.code, case.message, kept, case.absent(c))
        for path in case.json_lines(c):
            if Path(path).exists():
                for line in Path(path).read_text().splitlines():
                    _strict_json(line)
    finally:
        for cleanup in reversed(c.cleanups):
            cleanup()


def test_the_table_covers_every_class():
    assert len(CASES) >= 25
    assert {c.entry for c in CASES} == set(ENTRIES) and {c.code for c in CASES} == {1, 2, 130}
