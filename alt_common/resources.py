"""Files the toolkit ships inside its packages: the paper's prompts, the label templates, the tiny
open_clip model configs and the demo labels.

In the repository they live in the top-level `prompts/` and `data/` folders, where users edit them;
pyproject's `package-dir` installs those folders as the packages `alt_common.prompts` and
`alt_common.data`, so a wheel carries them and an editable install reads the repository's own files.
pip installs packages unzipped, so each resource is a real path on disk.
"""

from __future__ import annotations

import importlib.metadata
from importlib.resources import files
from pathlib import Path


def prompts_dir() -> Path:
    """The folder of the paper's LLM prompts and the label templates (`prompts/` in the repository)."""
    return Path(str(files("alt_common.prompts")))


def data_dir() -> Path:
    """The packaged data folder (`data/` in the repository)."""
    return Path(str(files("alt_common.data")))


def model_configs_dir() -> Path:
    """open_clip JSON configs of the tiny models the tests and the synthetic task build."""
    return data_dir() / "models"


def label_templates_file() -> Path:
    """The prompt-ensembling templates of the text head (Eq. 10), one per line with `{}`."""
    return prompts_dir() / "label_templates.txt"


def package_version(name: str) -> str:
    """An installed distribution's version, or "unknown"."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
