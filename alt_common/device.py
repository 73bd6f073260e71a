"""`--device`: the one check every command that runs a model makes of the device it is given (`resolve_device`),
and what `auto` picks (`auto_device`): a GPU torch can use, else the CPU, said in one warning line when an
NVIDIA GPU is here but this torch cannot use it. A GPU this torch build has no kernels for is refused."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import torch

from .errors import UserError

log = logging.getLogger(__name__)

DRIVER_FLOOR = {12: 525, 13: 580}  # the oldest NVIDIA driver branch each CUDA major version runs on
SETUP = "TORCH_CUDA={} bash scripts/setup.sh"
CHOOSE_BUILD = (f"run {SETUP.format('cu130')} (driver R580 or newer; Turing and newer GPUs) or "
                f"{SETUP.format('cu126')} (driver R525 or newer; also V100 and older)")


def nvidia_gpu() -> bool:
    """Whether the NVIDIA kernel driver shows a GPU here, whether or not torch can use it."""
    return Path("/dev/nvidia0").exists() or any(Path("/proc/driver/nvidia/gpus").glob("*"))


def nvidia_driver() -> str | None:
    """The loaded NVIDIA driver's version (e.g. 535.104.05); None where it cannot be read."""
    try:
        found = re.search(r"Kernel Module.*?\s(\d+\.\d+(?:\.\d+)?)\s", Path("/proc/driver/nvidia/version").read_text())
    except OSError:
        return None
    return found.group(1) if found else None


def unusable_gpu() -> str | None:
    """Why torch cannot use the NVIDIA GPU that is here, and the fix; None where there is none, where torch can
    use it, and where CUDA_VISIBLE_DEVICES hides the GPUs on purpose."""
    if torch.cuda.is_available() or os.environ.get("CUDA_VISIBLE_DEVICES", "0").strip() in ("", "-1") or not nvidia_gpu():
        return None
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is a CPU-only build; {CHOOSE_BUILD}"
    driver, needs = nvidia_driver(), DRIVER_FLOOR.get(int(torch.version.cuda.split(".")[0]))
    if driver is not None and needs is not None and int(driver.split(".")[0]) < needs:
        return (f"torch's CUDA {torch.version.cuda} build needs driver R{needs} or newer, this one is {driver}; "
                f"update the driver, or run {SETUP.format('cu126')} (R{DRIVER_FLOOR[12]} or newer)")
    return f"torch's CUDA {torch.version.cuda} build cannot use it (driver {driver or 'unknown'}; see torch's warning); {CHOOSE_BUILD}"


def auto_device() -> str:
    """`--device auto`: `cuda` where torch can use a GPU, else `cpu`, with one warning line when the CPU was
    chosen although an NVIDIA GPU is here."""
    if torch.cuda.is_available():
        return "cuda"
    problem = unusable_gpu()
    if problem is not None:
        log.warning("--device auto runs on the CPU: an NVIDIA GPU is here, but %s", problem)
    return "cpu"


def runs_on(arch: str, capability: tuple[int, int]) -> bool:
    """Whether code torch was built for (`sm_86`: a binary, runs on 8.6 up to 8.9; `compute_90`: PTX, compiled
    for any newer GPU too) runs on a GPU of this compute capability."""
    kind, _, number = arch.partition("_")
    built = divmod(int(re.sub(r"\D", "", number)), 10)
    return capability >= built and (kind == "compute" or capability[0] == built[0])


def check_arch(index: int) -> None:
    """Refuse GPU `index` when this torch build has no kernels for its compute capability (a V100 under CUDA 13)."""
    capability = torch.cuda.get_device_capability(index)
    archs = torch.cuda.get_arch_list()
    if archs and not any(runs_on(arch, capability) for arch in archs):
        major, minor = capability
        build = "cu126" if capability < (7, 5) else "cu130"
        raise UserError(f"GPU {index} ({torch.cuda.get_device_name(index)}, sm_{major}{minor}) has no kernels in "
                        f"this torch's CUDA {torch.version.cuda} build ({' '.join(archs)}); run {SETUP.format(build)}")


def resolve_device(name: str) -> torch.device:
    """A torch device from `cpu`, `cuda`, `cuda:N` (or any name torch knows), refused in one line
    when it is malformed, not present on this machine, or a GPU this torch build cannot run on."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise UserError(f"--device {name}: not a device name; use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA device is available here; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UserError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s); use one of cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    if device.type == "cuda" and torch.version.cuda is not None:  # ROCm's archs are gfx names
        for index in [device.index] if device.index is not None else range(torch.cuda.device_count()):
            check_arch(index)
    if device.type not in ("cpu", "cuda"):
        raise UserError(f"--device {name}: only cpu and cuda devices are supported; use one of them")
    return device
