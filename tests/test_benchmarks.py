"""The benchmarks a GPU machine runs by hand start here, on the CPU: `benchmarks/gpu_smoke.py` runs the same code on
the tiny test models and prints its two tables (its numbers are not checked: timings belong to benchmarks)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_gpu_smoke_starts_on_a_cpu_and_prints_both_tables():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, BENCHMARKS / "gpu_smoke.py", "--steps", "1", "--seconds", "0.2", "--workers", "0", "1"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("CPU") and "precision auto -> fp32" in lines[0] and "alt-tiny-vit, 8 frames at 64²" in lines[0]
    models = [line for line in lines if line.startswith(("ALT ", "X-CLIP "))]
    assert [line[:10].strip() for line in models] == ["ALT r=8", "ALT r=0", "X-CLIP"]
    assert models[0].split()[4] == "1.00x" and all(float(line.split()[2]) > 0 for line in models)  # r=8 against itself
    workers = [line.split() for line in lines[lines.index(next(line for line in lines if line.startswith("workers"))) + 1 :]]
    assert [row[0] for row in workers] == ["0", "1"] and all(float(row[1]) > 0 for row in workers)
