"""Why a file cannot be read or written, in plain words (one place for every command's files).

    path = input_file(path)     # or WarehouseError: "PATH is a directory, not a file"
    with writing(out):          # or OutputError: "cannot write OUT: its folder … does not exist"
        out.write_text(text)
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError, WarehouseError

__all__ = ["input_file", "os_reason", "writing"]

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
