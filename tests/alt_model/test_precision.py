"""alt_model/precision.py: one precision policy, used by training and by the evaluation of a checkpoint."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
import torch

from alt_model import evaluate as evaluate_module
from alt_model.checkpoint import load_checkpoint
from alt_model.evaluate import evaluate_checkpoint, make_splits
from alt_model.precision import PRECISIONS, autocast, autocast_dtype, grad_scaler


@pytest.mark.parametrize("precision", PRECISIONS)
def test_cpus_always_run_in_fp32(precision):
    cpu = torch.device("cpu")
    assert autocast_dtype(precision, cpu) is None
    assert isinstance(autocast(cpu, autocast_dtype(precision, cpu)), nullcontext)
    assert not grad_scaler(autocast_dtype(precision, cpu)).is_enabled()


def test_only_fp16_scales_the_loss():
    assert not grad_scaler(torch.bfloat16).is_enabled() and not grad_scaler(None).is_enabled()


def test_a_checkpoint_is_evaluated_in_the_precision_its_run_configured(trained, task, tmp_path, monkeypatch):
    state = load_checkpoint(trained / "last.pt")
    state["config"]["train"]["precision"] = "bf16"
    torch.save(state, tmp_path / "bf16.pt")
    asked = []
    monkeypatch.setattr(evaluate_module, "autocast_dtype", lambda precision, device: asked.append(precision))
    evaluate_checkpoint(tmp_path / "bf16.pt", make_splits([task.val], [task.labels], []))
    assert asked == ["bf16"]
