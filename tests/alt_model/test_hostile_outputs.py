"""Hostile outputs and faults, round 2 (issue 32), one row per case, as test_hostile_alt_commands.py checks them.

- an output that is an input by a hard link (same device and inode), not only by path or symbolic link;
- a failed or interrupted alt-predict leaves an existing --out as it was, its lines in PATH.partial;
- alt-eval writing into a model folder, alt-export over a corpus of another CLIP model;
- alt-predict --top-k far above the number of labels;
- file names with a line break, ESC or BEL printed to the terminal;
- a full disk (a small tmpfs mounted in the test's folder, as root; the rows skip where mount is not allowed), for
  every command that writes: exit 1, `failed: no space left on device writing PATH`, old outputs unchanged, no
  temporary file left.

Rows that succeed (exit 0) are checked on stdout's last line instead of stderr's.
"""

from __future__ import annotations

import csv
import errno
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from test_hostile_alt_commands import ENTRIES, Ctx, _ctrl_c_in_predict, _digest, _other_clip_corpus, _strict_json, assert_verdict

from alt_model.guard import RUN_LOCK
from alt_model.synthetic import main as synthetic_main
from corpus_builder.cli import main as corpus_main

COMMANDS = {**ENTRIES, "corpus": corpus_main, "synthetic": synthetic_main}

NO_SPACE = "no space left on device writing"
ODD_NAME = "odd\nname\x1b[31m\x07.mp4"  # a line break, a terminal escape and a bell in a file name


class Out(Ctx):
    """`Ctx` with what these rows need: a small filesystem to fill, a corpus table, oddly named videos."""

    def mounted(self, name: str = "disk", size: str = "32m") -> Path:
        """A tmpfs of `size` at `name` in the test's folder, unmounted after the row; the row skips where mount is refused."""
        folder = self.tmp / name
        folder.mkdir()
        if shutil.which("mount") is None:
            pytest.skip("no mount command here: the full-disk rows need it (and root)")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}): the full-disk rows need root")
        self.cleanups.append(lambda: _umount(folder))
        return folder

    def fill(self, folder: Path, leave: int = 0) -> Path:
        """Fill `folder`'s filesystem but `leave` bytes, and remember what it holds: anything else afterwards was left behind."""
        fd = os.open(folder / ".filler", os.O_WRONLY | os.O_CREAT)
        block = b"\0" * (1 << 16)
        try:
            while True:
                os.write(fd, block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
        os.close(fd)
        self.held = set(folder.rglob("*"))
        return folder

    def left_behind(self, folder: Path) -> list[Path]:
        """Files in `folder` the row's command created and left (temporary files, half outputs); alt-train's lock file
        stays in its run folder by design."""
        return sorted(p for p in set(folder.rglob("*")) - self.held if p.name != RUN_LOCK)

    def parquet(self) -> Path:
        """A two-label corpus.parquet (`corpus build --label-entities`: no WordNet, spaCy or LLM)."""
        from corpus_builder.build import build_corpus
        from corpus_builder.corpus import write_corpus

        path = self.tmp / "corpus.parquet"
        write_corpus(build_corpus(["waving a hand", "jumping"], label_entities=True), path)
        return path

    def odd_videos(self, readable: bool = True) -> Path:
        """A folder holding one video whose name has a line break, ESC and BEL (a real one, or 500 zero bytes)."""
        folder = self.tmp / "odd"
        folder.mkdir()
        data = self.video().read_bytes() if readable else b"\0" * 500
        (folder / ODD_NAME).write_bytes(data)
        return folder


def _umount(folder: Path) -> None:
    """Detach a row's tmpfs at once; it goes when the last file a failed command left open in garbage is closed."""
    subprocess.run(["umount", "--lazy", str(folder)], check=True)


@dataclass
class Row:
    name: str
    entry: str  # a COMMANDS name: an ENTRIES name, corpus or synthetic
    args: Callable[[Out], list]
    code: int
    message: str  # in the last line of stderr (stdout for exit 0)
    keep: Callable[[Out], list] = lambda c: []  # files whose bytes must not change
    absent: Callable[[Out], list] = lambda c: []  # paths that must not exist afterwards
    json_lines: Callable[[Out], list] = lambda c: []  # files that must exist and hold strict JSON lines
    check: Callable[[Out, str, str], None] | None = None  # more checks on (ctx, stdout, stderr)
    fault: Callable[[Out, object], None] | None = None


# ------------------------------------------------------------------ arguments and setups


def _hard_link(c: Out, source: Path, name: str) -> Path:
    link = c.tmp / name
    os.link(source, link)
    return link


def _eval_out_with_linked_metrics(c: Out) -> list:
    """alt-eval whose --out folder holds metrics.json as a hard link of the validation list it reads."""
    listed = c.short_list(4, c.task.val)
    (c.tmp / "eval").mkdir()
    os.link(listed, c.tmp / "eval" / "metrics.json")
    return c.eval("--val-list", listed)


def _old(path: Path, data: bytes = b"the old output\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _with_old_preds(c: Out, *args: object, **kwargs: object) -> list:
    _old(c.tmp / "preds.jsonl", b'{"video": "an earlier run"}\n')
    return c.predict(*args, **kwargs)


def _eval_into_model(c: Out) -> list:
    """alt-eval of an alt-export folder with the folder itself as --out."""
    folder = c.exported()
    return c.eval("--out", folder, model=("--pretrained", folder))


def _export_over_other_clip(c: Out) -> list:
    folder = c.exported()  # an earlier export, to be left as it is
    return c.export("--corpus", _other_clip_corpus(c), folder=folder)


def _exported_files(c: Out) -> list:
    return sorted(p for p in (c.tmp / "exported").iterdir())


def _csv_ranks(c: Out, out: str, err: str) -> None:
    """preds.csv has a label and a probability column per label, no more."""
    labels = len(c.task.labels.read_text().splitlines())
    with open(c.tmp / "preds.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header[-2:] == ["error", "random_weights"] and len(header) == 1 + 2 * labels + 2, header


def _escaped(c: Out, out: str, err: str) -> None:
    """No control character reaches the terminal; the file name shows escaped."""
    assert not any(ch in out + err for ch in "\x1b\x07"), (out, err)
    assert "odd\\nname\\x1b[31m\\x07.mp4" in out + err, (out, err)


def _partial_lines(n: int) -> Callable[[Out, str, str], None]:
    def check(c: Out, out: str, err: str) -> None:
        assert len((c.tmp / "preds.jsonl.partial").read_text().splitlines()) == n
    return check


# full disk: the old outputs in a filled tmpfs


def _embed_full(c: Out) -> list:
    parquet = c.parquet()
    disk = c.mounted()
    _old(disk / "corpus.pt"), _old(disk / "corpus.embeddings.parquet")
    c.fill(disk)
    return ["embed", parquet, "--model", "alt-tiny-vit", "--pretrained", c.task.root / "clip.pt", "--out", disk / "corpus.pt",
            "--device", "cpu"]


def _build_full(c: Out) -> list:
    labels = c.file("labels.txt", b"waving a hand\njumping\n")
    disk = c.mounted()
    _old(disk / "corpus.parquet")
    c.fill(disk)
    return ["build", "--labels", labels, "--label-entities", "--out", disk / "corpus.parquet"]


def _predict_full(c: Out) -> list:
    disk = c.mounted()
    _old(disk / "preds.jsonl")
    c.fill(disk)
    return c.predict("--out", disk / "preds.jsonl")


def _eval_full(c: Out) -> list:
    disk = c.mounted()
    _old(disk / "eval" / "metrics.json"), _old(disk / "eval" / "confusion.csv")
    c.fill(disk)
    return c.eval("--out", disk / "eval")


def _export_full(c: Out) -> list:
    disk = c.mounted()
    shutil.copytree(c.exported(), disk / "model")
    c.fill(disk)
    return c.export(folder=disk / "model")


def _train_full(c: Out) -> list:
    """alt-train --resume of the session's run, copied to a tmpfs left 256 KiB: its log lines fit, its next last.pt not."""
    disk = c.mounted()
    shutil.copytree(c.trained, disk / "run")
    c.fill(disk, leave=256 << 10)
    return ["--corpus", c.task.corpus, "--resume", "--out", disk / "run", "train.epochs=9", "data.workers=0"]


EXPLAINED = ("explanation.json", "contact_sheet.png", "frame_00.png", "frame_00_regions.png", "frame_01.png", "frame_01_regions.png")


def _explain_full(c: Out) -> list:
    """alt-explain into a folder holding an earlier explanation, on a filled tmpfs."""
    disk = c.mounted()
    for name in EXPLAINED:
        _old(disk / "explain" / name)
    c.fill(disk)
    return c.explain("--out", disk / "explain")


def _synthetic_full(c: Out) -> list:
    disk = c.fill(c.mounted())
    return ["--out", disk / "task", "--train-per-class", 1, "--val-per-class", 1, "--frames", 2, "--device", "cpu"]


def _llm_cache_full(c: Out, earlier: bool = True) -> list:
    """corpus build asking the scripted LLM server, its --llm-cache (one answer in it, `earlier`; else none yet) on a filled tmpfs."""
    from llm_server import LLMServer, ScriptedLLM

    from corpus_builder.llm import LLMCache

    server = LLMServer(ScriptedLLM()).__enter__()
    c.cleanups.append(lambda: server.__exit__(None, None, None))
    disk = c.mounted()
    if earlier:
        cache = LLMCache(disk / "cache.sqlite")
        cache.put("an earlier prompt", "test-model", [], {}, "an earlier answer", {}, 0.1)
        cache.close()
    c.fill(disk)
    return ["build", "-l", c.file("labels.txt", b"dancing\n"), "-o", c.tmp / "corpus.parquet", "--no-body-parts",
            "--llm-model", "test-model", "--llm-base-url", server.url, "--llm-cache", disk / "cache.sqlite"]


def _cache_whole(c: Out, out: str, err: str) -> None:
    """The cache keeps its answer, whole, once there is room again; SQLite's log beside it holds nothing."""
    import sqlite3

    disk = c.tmp / "disk"
    assert (disk / "cache.sqlite-wal").stat().st_size == 0
    (disk / ".filler").unlink()
    db = sqlite3.connect(disk / "cache.sqlite")
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("SELECT key, answer FROM answers").fetchall() == [("an earlier prompt", "an earlier answer")]
    finally:
        db.close()


def _disk(*names: str) -> Callable[[Out], list]:
    return lambda c: [c.tmp / "disk" / name for name in names]


def _left(c: Out) -> list:
    return c.left_behind(c.tmp / "disk")


def _left_but_wal_index(c: Out) -> list:
    """What was left on the disk but SQLite's -wal and -shm files, which opening a WAL cache makes (and SQLite recovers)."""
    return [p for p in _left(c) if p.name not in ("cache.sqlite-wal", "cache.sqlite-shm")] + [c.tmp / "corpus.parquet"]


ROWS = [
    # 1. an output that is an input by a hard link
    Row("predict --out is a hard link of the video list", "predict",
        lambda c: c.predict("--out", _hard_link(c, c.video_list(), "preds.jsonl")), 2, "--out is also an input of this command",
        keep=lambda c: [c.tmp / "videos.txt"]),
    Row("eval --out holds a hard link of the val list as metrics.json", "eval", _eval_out_with_linked_metrics, 2,
        "is an input of this command and --out would overwrite it", keep=lambda c: [c.tmp / "short_4_val.csv"]),
    Row("corpus embed --out is a hard link of the corpus table", "corpus",
        lambda c: ["embed", c.parquet(), "--model", "alt-tiny-vit", "--pretrained", c.task.root / "clip.pt",
                   "--out", _hard_link(c, c.tmp / "corpus.parquet", "corpus.pt")], 2, "--out is also an input of this command",
        keep=lambda c: [c.tmp / "corpus.parquet"], absent=lambda c: [c.tmp / "corpus.embeddings.parquet"]),
    # 2. a run that does not finish leaves an existing --out as it was; its lines are in PATH.partial
    Row("predict: every video unreadable keeps the old --out", "predict", lambda c: _with_old_preds(c, source=c.broken_list()), 1,
        "their errors are in", keep=lambda c: [c.tmp / "preds.jsonl"], json_lines=lambda c: [c.tmp / "preds.jsonl.partial"],
        check=_partial_lines(4)),
    Row("predict Ctrl-C keeps the old --out", "predict", _with_old_preds, 130, "preds.jsonl.partial (",
        keep=lambda c: [c.tmp / "preds.jsonl"], json_lines=lambda c: [c.tmp / "preds.jsonl.partial"], check=_partial_lines(1),
        fault=_ctrl_c_in_predict(1)),
    # 3. a model folder is not an output; a corpus of another CLIP model is not exported
    Row("eval --pretrained DIR --out DIR", "eval", _eval_into_model, 2,
        "would write into the model folder", keep=_exported_files, absent=lambda c: [c.tmp / "exported" / "metrics.json"]),
    Row("export --corpus embedded by another CLIP model", "export", _export_over_other_clip, 2, "weights do not fit",
        keep=_exported_files, absent=lambda c: [*c.tmp.glob(".exported.*")]),
    # 4. a top-k beyond the labels
    Row("predict --top-k 100000000", "predict", lambda c: c.predict("--top-k", 100_000_000, "--out", c.tmp / "preds.csv"), 0,
        "predictions in", check=_csv_ranks),
    # 5. file names that would drive the terminal
    Row("predict prints an odd file name escaped", "predict",
        lambda c: [c.odd_videos(), "--checkpoint", c.trained / "best.pt", "--workers", 0], 0, "", check=_escaped),
    Row("predict: an unreadable odd file name fails in one line", "predict",
        lambda c: [c.odd_videos(readable=False), "--checkpoint", c.trained / "best.pt", "--workers", 0], 1, "no video could be read",
        check=_escaped),
    # 6. a full disk: one line, old outputs whole, nothing left behind
    Row("corpus build on a full disk", "corpus", _build_full, 1, NO_SPACE, keep=_disk("corpus.parquet"), absent=_left),
    Row("corpus embed on a full disk", "corpus", _embed_full, 1, NO_SPACE, keep=_disk("corpus.pt", "corpus.embeddings.parquet"),
        absent=_left),
    Row("train on a full disk", "train", _train_full, 1, NO_SPACE, keep=_disk("run/last.pt", "run/best.pt"), absent=_left),
    Row("eval on a full disk", "eval", _eval_full, 1, NO_SPACE, keep=_disk("eval/metrics.json", "eval/confusion.csv"), absent=_left),
    Row("predict on a full disk", "predict", _predict_full, 1, NO_SPACE, keep=_disk("preds.jsonl"), absent=_left),
    Row("export on a full disk", "export", _export_full, 1, NO_SPACE,
        keep=_disk(*(f"model/{name}" for name in ("config.json", "model.safetensors", "corpus.safetensors", "clip.safetensors"))),
        absent=_left),
    Row("explain on a full disk", "explain", _explain_full, 1, NO_SPACE, keep=_disk(*(f"explain/{name}" for name in EXPLAINED)),
        absent=_left),
    Row("synthetic on a full disk", "synthetic", _synthetic_full, 1, NO_SPACE, absent=_left),
    Row("corpus build: the LLM cache on a full disk", "corpus", _llm_cache_full, 1, NO_SPACE, keep=_disk("cache.sqlite"),
        absent=_left_but_wal_index, check=_cache_whole),
    Row("corpus build: a new LLM cache on a full disk", "corpus", lambda c: _llm_cache_full(c, earlier=False), 1, NO_SPACE,
        absent=lambda c: [*_left(c), c.tmp / "corpus.parquet"]),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_hostile_output(row: Row, task, trained, tmp_path, run_main, monkeypatch):
    c = Out(task, trained, tmp_path)
    try:
        args = row.args(c)
        kept = {p: _digest(p) for p in row.keep(c)}
        if row.fault is not None:
            row.fault(c, monkeypatch)
        code, out, err = run_main(COMMANDS[row.entry], *args)
        assert_verdict(code, out, err, row.code, row.message, kept, row.absent(c))
        if row.message == NO_SPACE:
            assert str(tmp_path / "disk") in err.strip().splitlines()[-1], err  # names the file it could not write
        for path in row.json_lines(c):
            for line in Path(path).read_text().splitlines():
                _strict_json(line)
        if row.check is not None:
            row.check(c, out, err)
    finally:
        for cleanup in reversed(c.cleanups):
            cleanup()
