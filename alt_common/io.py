"""Atomic writes and file hashes: readers never see half a file, and artifacts name their inputs."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Sequence

from .errors import Failed, UserError

NO_SPACE = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}  # write errors freeing space fixes


def check_regular(path: str | Path, what: str, fix: str) -> Path:
    """`path` if it is a regular file (or a folder, or missing: the caller's errors); a FIFO, a device or a socket
    is refused in one UserError, before it is opened: a FIFO would block the read forever, a device never end."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return path  # not there, or not reachable: open() raises what the caller reports
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise UserError(f"{path}: {what} is {_kind(mode)}, not a regular file; {fix}")
    return path


def _kind(mode: int) -> str:
    """What a file that is neither a regular file nor a folder is, in words."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "a special file"


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
    `path` as it was and no temporary file behind, and running out of space is `Failed` naming `path` (`writing`)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with writing(path):
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
    and no temporary folder behind (running out of space is `Failed` naming `path`: `writing`). The folder and its
    files get the modes a plain mkdir and open() would give (mkdtemp makes 0700, and some writers 0600)."""
    path = Path(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    aside = tmp.with_suffix(".old")  # where an existing `path` waits until the new folder is in place
    try:
        with writing(path):
            write(tmp)
            for file in tmp.rglob("*"):
                if file.is_file():
                    with open(file, "rb+") as f:
                        os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        for file in tmp.rglob("*"):
            if file.is_file():
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
        with writing(target):
            try:
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Writes to `path` (a file or a folder) inside: running out of space or over a disk quota is `Failed`, one line
    naming `path` ("no space left on device writing PATH"), not a traceback; the caller's cleanup runs as for any error."""
    try:
        yield
    except (Failed, UserError):
        raise
    except Exception as exc:  # noqa: BLE001 - torch, safetensors and Arrow wrap the OSError in their own types
        reason = _no_space(exc, Path(path).parent)
        if reason is None:
            raise
        raise Failed(f"{reason} writing {path}") from None


def _no_space(exc: BaseException, folder: Path) -> str | None:
    """Why a write that raised `exc` in `folder` failed, when it ran out of room: an ENOSPC or EDQUOT OSError in its
    chain, or its filesystem now full (torch.save's C++ writer keeps no errno); else None."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in NO_SPACE:
            return NO_SPACE[seen.errno]
        seen = seen.__cause__ or seen.__context__
    try:
        fs = os.statvfs(folder)
    except OSError:
        return None
    return NO_SPACE[errno.ENOSPC] if fs.f_blocks > 0 and fs.f_bavail == 0 else None


def same_file(path: str | Path, other: str | Path) -> bool:
    """Whether two paths name one file: the same path once links are resolved, or, for files that exist, the same
    device and inode (a hard link, a bind mount)."""
    path, other = Path(path), Path(other)
    if path.resolve() == other.resolve():
        return True
    try:
        return os.path.samefile(path, other)
    except OSError:
        return False


def check_output_file(path: str | Path, inputs: Sequence[str | Path] = (), flag: str = "--out") -> Path:
    """Refuse, before any work, an output file that is one of the command's inputs (`same_file`: by path, symbolic or
    hard link), a folder, or in a
    folder that is missing or cannot be written (UserError naming `flag` and the fix)."""
    path = Path(path)
    for given in inputs:
        if Path(given).exists() and path.exists() and same_file(path, given):
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
