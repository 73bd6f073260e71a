"""alt_model/precision.py: one precision policy, used by training and by the evaluation of a checkpoint."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
import torch

from alt_model import evaluate as evaluate_module
from alt_model.checkpoint import load_checkpoint
from alt_model.evaluate import evaluate_checkpoint, make_splits
from alt_model.precision import PRECISIONS, autocast, autocast_dtype, fp32_cosines, grad_scaler


@pytest.mark.parametrize("precision", PRECISIONS)
def test_cpus_always_run_in_fp32(precision):
    cpu = torch.device("cpu")
    assert autocast_dtype(precision, cpu) is None
    assert isinstance(autocast(cpu, autocast_dtype(precision, cpu)), nullcontext)
    assert not grad_scaler(autocast_dtype(precision, cpu)).is_enabled()


@pytest.mark.parametrize("capability, dtype", [((7, 0), torch.float16), ((8, 0), torch.bfloat16)])  # V100, A100
def test_auto_is_bf16_only_on_gpus_with_native_bf16(monkeypatch, capability, dtype):
    # torch.cuda.is_bf16_supported() says True on a V100 too, where bf16 is emulated (slowly); natively only from 8.0 on
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: capability >= (8, 0) or including_emulation)
    assert autocast_dtype("auto", torch.device("cuda")) == dtype


def near_tie(width: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """A vector [1, width] and two rows [2, width] at cosines 0.29995 and 0.30000 to it: fp32 tells them apart,
    fp16 and bf16 round both to one number (so an argmax falls on row 0)."""
    cosines = torch.tensor([0.29995, 0.30000], dtype=torch.float64)
    rows = torch.zeros(2, width, dtype=torch.float64)
    rows[:, 0], rows[[0, 1], [1, 2]] = cosines, (1 - cosines**2).sqrt()
    return 3 * torch.eye(width)[:1], rows.float()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cosines_are_fp32_under_autocast(dtype):
    x, rows = near_tie()
    with torch.autocast("cpu", dtype=dtype):
        mixed = fp32_cosines(x, rows)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, fp32_cosines(x, rows))
    torch.testing.assert_close(mixed, torch.tensor([[0.29995, 0.30000]]))


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
