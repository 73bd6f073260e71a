"""Two CPU processes under torchrun (gloo): training gives the single-process losses and metrics, the
sharded evaluation, summed over processes, equals one process evaluating the same weights, and best.pt
is the epoch the summed holdout evaluation picks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from videos import REPO, tiny_overrides

from alt_model.checkpoint import load_checkpoint
from alt_model.config import load_config
from alt_model.evaluate import evaluate_checkpoint, make_splits
from alt_model.train import train

ENTRY = "import sys; from alt_model.cli import {0}; sys.argv[0] = 'alt'; {0}()\n"


def _torchrun(tmp_path, entry: str, *args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    script = tmp_path / f"{entry}.py"
    script.write_text(ENTRY.format(entry))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script), *map(str, args)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True) as p:
        try:
            stdout, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)  # torchrun's workers too: a hung run must not outlive its test
            stdout, stderr = p.communicate()
            pytest.fail(f"torchrun still running after {timeout} s (hung?):\n{stderr[-3000:]}")
    done = subprocess.CompletedProcess(command, p.returncode, stdout, stderr)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _epochs(run) -> list[dict]:
    return [r for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if r["kind"] == "epoch"]


def test_two_process_training_matches_one_process(task, tmp_path):
    # No Gumbel noise (align=false): the only difference left is the order of float sums, so the two
    # trainings agree in their (continuous) losses; their accuracies, argmaxes of slightly different
    # weights, are not compared. Evaluation runs one video per forward pass, so the sharded evaluation
    # does per video exactly the arithmetic one process does, and its counts must be equal. data.holdout
    # keeps 2 of each class's 6 training videos out (both runs draw the same) to pick best.pt on.
    extra = dict(train__epochs=2, eval__every=1, eval__batch_size=1, model__align="false", train__batch_size=2, data__holdout=0.25)
    single = train(load_config(REPO / "configs/tiny_cpu.yaml", tiny_overrides(task, tmp_path / "one", **{**extra, "train__batch_size": 4})),
                   task.corpus)
    overrides = [f"{k}={v}" for k, v in tiny_overrides(task, tmp_path / "two", **extra).items()]
    _torchrun(tmp_path, "train_main", "--corpus", task.corpus, "--config", REPO / "configs/tiny_cpu.yaml", *overrides)
    one, two = _epochs(tmp_path / "one"), _epochs(tmp_path / "two")
    assert [r["videos"] for r in two] == [16, 16] and [r["step"] for r in two] == [2, 4]  # 2 processes × 2 videos × 2 accumulation
    assert [r["train_loss"] for r in two] == pytest.approx([r["train_loss"] for r in one], rel=1e-3)
    assert two[-1]["val"]["videos"] == one[-1]["val"]["videos"] == single.metrics.count == 12
    assert two[-1]["select"]["videos"] == one[-1]["select"]["videos"] == 8
    assert sorted(p.name for p in (tmp_path / "two").iterdir() if p.suffix == ".pt") == ["best.pt", "last.pt"]
    select = [r["select"]["top1"] for r in two]
    assert load_checkpoint(tmp_path / "two/best.pt")["epoch"] == max(range(2), key=lambda i: (select[i], i)) + 1
    # the two processes' sharded, summed evaluation equals one process evaluating the same weights
    again = evaluate_checkpoint(tmp_path / "two/last.pt", make_splits([task.val], [task.labels], []), batch_size=1)[0]
    assert two[-1]["val"] == again.summary()


@pytest.mark.parametrize("global_batch", [2, 4], ids=["no-accumulation", "accumulation-2"])
def test_a_process_whose_micro_batch_is_all_unreadable_keeps_in_step(task, tmp_path, global_batch):
    # batch_size 1 on 2 processes: the micro-batch that holds the broken file has no readable video. That process
    # must still run DDP's forward and backward, or the gradient all-reduces of the two never match and both wait
    # forever. 23 good videos and the broken one: 24, so DistributedSampler pads nothing and it is read once.
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(range(256)) * 64)
    rows = task.train.read_text().splitlines()
    (tmp_path / "train.csv").write_text("\n".join([*rows[:-1], f"{broken},{rows[-1].split(',')[1]}"]) + "\n")
    overrides = tiny_overrides(task, tmp_path / "run", data__train_list=tmp_path / "train.csv", data__val_list="null", train__epochs=1,
                               eval__every=0, train__batch_size=1, train__global_batch=global_batch)
    done = _torchrun(tmp_path, "train_main", "--corpus", task.corpus, "--config", REPO / "configs/tiny_cpu.yaml",
                     *[f"{k}={v}" for k, v in overrides.items()], timeout=120)
    epoch = _epochs(tmp_path / "run")[0]
    assert (epoch["videos"], epoch["skipped"]) == (23, 1)
    assert epoch["step"] == 24 // global_batch
    assert f"skipped:{broken}:cannotdecode" in "".join(done.stderr.split())  # reported (rich wraps the log line)
