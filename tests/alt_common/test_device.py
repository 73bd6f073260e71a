"""`--device` names are checked once, in the shared layer, with one-line errors; `auto` says why it does not
use an NVIDIA GPU that is here, and a GPU the torch build has no kernels for is refused."""

import logging

import pytest
import torch

from alt_common.device import auto_device, resolve_device
from alt_common.errors import UserError


def test_cpu_is_always_there():
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name, message", [("banana", "not a device name"), ("cuda:x", "not a device name"),
                                           ("meta", "only cpu and cuda devices")])
def test_bad_names_are_refused(name, message):
    with pytest.raises(UserError, match=message):
        resolve_device(name)


def test_cuda_is_refused_where_there_is_none_and_accepted_where_there_is():
    if torch.cuda.is_available():
        assert resolve_device("cuda:0").type == "cuda"
        with pytest.raises(UserError, match="CUDA device"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
    else:
        with pytest.raises(UserError, match="no CUDA device is available here"):
            resolve_device("cuda")


def test_alt_synthetic_refuses_a_bad_device_before_writing(run_main, tmp_path):
    from alt_model.synthetic import main

    code, _, stderr = run_main(main, "--out", tmp_path / "s", "--device", "banana")
    assert code == 2 and stderr.strip() == "error: --device banana: not a device name; use cpu, cuda or cuda:N"
    assert not (tmp_path / "s").exists()


CHOOSE = ("run TORCH_CUDA=cu130 bash scripts/setup.sh (driver R580 or newer; Turing and newer GPUs) or "
          "TORCH_CUDA=cu126 bash scripts/setup.sh (driver R525 or newer; also V100 and older)")


@pytest.fixture
def gpu_here(monkeypatch):
    """An NVIDIA GPU the kernel driver (535.104.05) shows, which torch cannot use (is_available is False)."""
    from alt_common import device

    monkeypatch.setattr(device, "nvidia_gpu", lambda: True)
    monkeypatch.setattr(device, "nvidia_driver", lambda: "535.104.05")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return monkeypatch


@pytest.mark.parametrize("build, version, problem", [
    (None, "2.14.1+cpu", f"torch 2.14.1+cpu is a CPU-only build; {CHOOSE}"),
    ("13.0", "2.14.1+cu130", "torch's CUDA 13.0 build needs driver R580 or newer, this one is 535.104.05; "
                             "update the driver, or run TORCH_CUDA=cu126 bash scripts/setup.sh (R525 or newer)"),
    ("12.6", "2.14.1+cu126", f"torch's CUDA 12.6 build cannot use it (driver 535.104.05; see torch's warning); {CHOOSE}"),
])
def test_auto_says_in_one_line_why_a_gpu_that_is_here_is_not_used(gpu_here, caplog, build, version, problem):
    from alt_model.distributed import setup

    gpu_here.setattr(torch.version, "cuda", build)
    gpu_here.setattr(torch, "__version__", version)
    caplog.set_level(logging.WARNING, logger="alt_common.device")
    assert setup("auto").device == torch.device("cpu")
    assert caplog.messages == [f"--device auto runs on the CPU: an NVIDIA GPU is here, but {problem}"]


@pytest.mark.parametrize("gpu, hidden", [(False, None), (True, ""), (True, "-1")])
def test_auto_is_quiet_without_a_gpu_and_where_cuda_visible_devices_hides_them(gpu_here, caplog, gpu, hidden):
    from alt_common import device

    gpu_here.setattr(device, "nvidia_gpu", lambda: gpu)
    if hidden is not None:
        gpu_here.setenv("CUDA_VISIBLE_DEVICES", hidden)
    caplog.set_level(logging.WARNING, logger="alt_common.device")
    assert auto_device() == "cpu" and caplog.messages == []


CU130 = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]  # torch 2.14.1+cu130's get_arch_list()
CU126 = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]


def _usable_gpu(monkeypatch, name: str, capability: tuple[int, int], archs: list[str], cuda: str) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=None: name)
    monkeypatch.setattr(torch.cuda, "get_arch_list", lambda: archs)
    monkeypatch.setattr(torch.version, "cuda", cuda)


@pytest.mark.parametrize("name, capability, archs, cuda, build", [
    ("Tesla V100-SXM2-32GB", (7, 0), CU130, "13.0", "cu126"),
    ("NVIDIA GeForce RTX 5090", (12, 0), CU126, "12.6", "cu130"),
])
def test_a_gpu_the_torch_build_has_no_kernels_for_is_refused_naming_the_build_to_install(monkeypatch, name, capability,
                                                                                          archs, cuda, build):
    from alt_model.distributed import setup

    _usable_gpu(monkeypatch, name, capability, archs, cuda)
    sm = f"sm_{capability[0]}{capability[1]}"
    with pytest.raises(UserError) as refused:
        setup("auto")
    assert str(refused.value) == (f"GPU 0 ({name}, {sm}) has no kernels in this torch's CUDA {cuda} build ({' '.join(archs)}); "
                                  f"run TORCH_CUDA={build} bash scripts/setup.sh")


@pytest.mark.parametrize("capability, archs", [((7, 0), CU126), ((8, 0), CU130), ((8, 9), ["sm_80", "sm_86"]),
                                               ((12, 1), ["sm_90", "compute_120"])])
def test_a_gpu_with_kernels_in_the_build_is_accepted(monkeypatch, capability, archs):
    _usable_gpu(monkeypatch, "GPU", capability, archs, "13.0")
    assert auto_device() == "cuda" and resolve_device("cuda") == torch.device("cuda")
