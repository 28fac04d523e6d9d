"""A byte search of files for a subject: the proof an erasure gives, and how report files naming a
customer are found. Files are read in chunks (a warehouse may be large); gzip files are searched
decompressed and zip archives member by member. DuckDB and Parquet files compress some strings, so
this search cannot see into them: their stores are checked by query instead."""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from ._subject import Subject

__all__ = ["files_naming", "walk"]

_CHUNK = 8 << 20
#: Libraries copied next to published pages: never personal data, and large.
SKIPPED_NAMES = frozenset({"plotly.min.js"})


def walk(roots: Iterable[Path]) -> Iterator[Path]:
    """Every regular file below ``roots`` (each once, sorted), library files aside."""
    seen: set[Path] = set()
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            resolved = path.resolve()
            if path.is_file() and not path.is_symlink() and path.name not in SKIPPED_NAMES and resolved not in seen:
                seen.add(resolved)
                yield path


def files_naming(paths: Iterable[Path], subject: Subject) -> list[Path]:
    """Those of ``paths`` whose bytes hold the subject's id or one of its terms (see
    :meth:`Subject.byte_patterns`)."""
    exact, folded = subject.byte_patterns()
    return [p for p in paths if _names(p, exact, folded)]


def _names(path: Path, exact: list[bytes], folded: list[bytes]) -> bool:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                return _stream_names(stream, exact, folded)
        if path.suffix == ".zip" and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return any(_stream_names(archive.open(info), exact, folded) for info in archive.infolist())
        with open(path, "rb") as stream:
            return _stream_names(stream, exact, folded)
    except (OSError, EOFError, zipfile.BadZipFile):
        with open(path, "rb") as stream:  # not what its name says: searched as it is
            return _stream_names(stream, exact, folded)


def _stream_names(stream: BinaryIO, exact: list[bytes], folded: list[bytes]) -> bool:
    overlap = max((len(p) for p in (*exact, *folded)), default=1) - 1
    tail = b""
    while chunk := stream.read(_CHUNK):
        window = tail + chunk
        if any(p in window for p in exact):
            return True
        lowered = window.lower()
        if any(p in lowered for p in folded):
            return True
        tail = window[-overlap:] if overlap else b""
    return False
