"""Why a file cannot be read or written, in plain words (one place for every command's files),
and files that only their owner may read.

    path = input_file(path)     # or WarehouseError: "PATH is a directory, not a file"
    with writing(out):          # or OutputError: "cannot write OUT: its folder … does not exist"
        out.write_text(text)
    private_file(path)          # create it (and its folder) readable by its owner only: 0600 (0700)
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError, WarehouseError

__all__ = ["PRIVATE_DIR_MODE", "PRIVATE_FILE_MODE", "input_file", "os_reason", "private_file", "writing"]

#: The ledger, the warehouse, exports and the report folders hold personal data (docs/privacy.md).
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700

_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
)


def os_reason(exc: OSError, path: Path) -> str:
    """What ``exc`` (raised for ``path``) means, for a message such as "cannot write PATH: REASON"."""
    if exc.errno == errno.ENOENT:
        return f"its folder {path.parent} does not exist"
    if exc.errno == errno.EISDIR:
        return "it is a directory"
    if exc.errno == errno.ENOTDIR:
        return "a part of the path is not a directory"
    if exc.errno == errno.EEXIST:  # making a folder where a file is
        return "it exists and is not a directory"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on the device"
    return os.strerror(exc.errno) if exc.errno else str(exc)


def input_file(path: Path) -> Path:
    """``path`` if it is a regular file; else a WarehouseError saying what it is instead."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise WarehouseError(f"no such file: {path}", path=path) from None
    except OSError as exc:
        raise WarehouseError(f"cannot read {path}: {os_reason(exc, path)}", path=path) from None
    if stat.S_ISDIR(mode):
        raise WarehouseError(f"{path} is a directory, not a file", path=path)
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "of an unknown kind")
        raise WarehouseError(f"{path} is not a regular file ({kind})", path=path)
    return path


@contextmanager
def writing(path: Path | None) -> Iterator[None]:
    """Turn an OSError raised while writing ``path`` into an OutputError saying why (``None``:
    writing to stdout, where errors pass unchanged)."""
    try:
        yield
    except OSError as exc:
        if path is None:
            raise
        raise OutputError(path, reason=os_reason(exc, path)) from None


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (an existing file keeps its mode),
    and its missing folder with mode 0700, so that a database opened on it next is never
    readable by other users, not even for the moment before its first write."""
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    except FileExistsError:
        pass  # another process created it first; nothing to do either way
