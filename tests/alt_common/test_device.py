"""`--device` names are checked once, in the shared layer, with one-line errors."""

import pytest
import torch

from alt_common.device import resolve_device
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
