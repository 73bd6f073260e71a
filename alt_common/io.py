"""Atomic writes and file hashes: readers never see half a file, and artifacts name their inputs."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from .errors import UserError


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write(path: str | Path, write: Callable[[str], object]) -> None:
    """Call write(tmp_path) on a temporary file beside `path`, fsync it, then rename it over `path`.

    The result gets the mode a plain open() would give (mkstemp makes 0600); a failure leaves
    `path` as it was and no temporary file behind."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_folder(path: str | Path, write: Callable[[Path], object]) -> None:
    """Call write(tmp_folder) on a new temporary folder beside `path`, fsync its files, then rename it to `path`:
    a reader sees the whole folder or none of it. An existing `path` is moved aside first and removed once the
    new folder is in place (the caller decides whether it may be replaced); a failure leaves `path` as it was
    and no temporary folder behind. The folder and its files get the modes a plain mkdir and open() would give
    (mkdtemp makes 0700, and some writers 0600)."""
    path = Path(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    aside = tmp.with_suffix(".old")  # where an existing `path` waits until the new folder is in place
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        for file in tmp.rglob("*"):
            if file.is_file():
                with open(file, "rb+") as f:
                    os.fsync(f.fileno())
                os.chmod(file, 0o666 & ~umask)
        os.chmod(tmp, 0o777 & ~umask)
        if path.exists():
            os.replace(path, aside)
        try:
            os.replace(tmp, path)
        except OSError:
            if aside.exists():
                os.replace(aside, path)
            raise
        _fsync_folder(path.parent)
    finally:
        for left in (tmp, aside):
            if left.exists():
                shutil.rmtree(left)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (where the platform lets a folder be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def link_atomic(source: Path, target: Path) -> None:
    """`target` becomes another name of `source`'s current content (a hard link, atomically; a copy where links fail)."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def check_output_file(path: str | Path, inputs: Sequence[str | Path] = (), flag: str = "--out") -> Path:
    """Refuse, before any work, an output file that is one of the command's inputs, a folder, or in a
    folder that is missing or cannot be written (UserError naming `flag` and the fix)."""
    path = Path(path)
    for given in inputs:
        if Path(given).exists() and path.exists() and path.resolve() == Path(given).resolve():
            raise UserError(f"{path}: {flag} is also an input of this command and would be overwritten; choose another {flag}")
    if path.is_dir():
        raise UserError(f"{path}: is a folder; pass a file name to {flag}")
    check_output_folder(path.parent, flag)
    return path


def check_output_folder(folder: str | Path, flag: str = "--out") -> Path:
    """Make sure files can be written in the existing `folder` before any work, creating nothing: a
    missing folder, a path through a file, a read-only or immutable folder are one-line UserErrors."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise UserError(f"{folder}: the {flag} folder {what}; create it or choose another {flag}")
    try:  # permissions alone do not tell (root, immutable flags, read-only mounts): try a file
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".alt-write-check-", delete=True)
        probe.close()
    except OSError as exc:
        raise UserError(f"{folder}: cannot write in the {flag} folder ({exc.strerror}); choose another {flag}") from None
    return folder
