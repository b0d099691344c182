"""Atomic file writes: the one way lowranklab writes a file.

`atomic_write(path)` yields a file object on a temporary file in the same directory as `path`;
when the block ends without an exception the data is flushed, fsync'ed and renamed over `path`
with `os.replace` (atomic on POSIX and Windows within one file system), and the directory entry
is fsync'ed. If anything fails — a full disk, an exception while writing, Ctrl-C — the
temporary file is removed and an existing `path` is left exactly as it was: a reader sees the
old file or the complete new one, never a torn write.

Symlinks: `os.replace` replaces the *link* at `path` by the new file; the link's target is never
written through. (The CLI refuses a symlink as `--out` before any work starts.)

Every writer in the library goes through `atomic_write`: `write_text`, `write_npz`,
`write_parquet` and `save_figure` below are the thin wrappers the modules use.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "check_npz", "save_figure", "write_npz", "write_parquet",
           "write_text"]


def _new_file_mode(path: Path) -> int:
    """The permission bits the new file gets: those of the file it replaces, else 0o666 minus
    the umask (what a plain open(path, 'w') would give; mkstemp's 0o600 would not)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", *,
                 encoding: str | None = None) -> Iterator[IO[Any]]:
    """Write `path` atomically: `with atomic_write(p, "w") as fh: fh.write(...)`.

    mode: "wb" (default) or "w" (text, UTF-8 unless `encoding`). The path is written exactly as
    given (no suffix is added). Raises OSError if the directory does not exist or is not
    writable; an existing file at `path` is replaced only when the whole write succeeded."""
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, _new_file_mode(path))
        kwargs = {"encoding": encoding or "utf-8", "newline": ""} if mode == "w" else {}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_write(path, "w") as fh:
        fh.write(text)


def write_npz(path: str | os.PathLike[str], arrays: Mapping[str, Any]) -> None:
    """np.savez of `arrays` to exactly `path` (np.savez(path) would append ".npz" to a bare
    name), atomically. Object arrays are refused: files are read with allow_pickle=False."""
    import numpy as np

    data = {k: np.asarray(v) for k, v in arrays.items()}
    for k, v in data.items():
        if v.dtype.hasobject:
            raise TypeError(f"{k!r}: object arrays cannot be stored (no pickle)")
    with atomic_write(path) as fh:
        np.savez(fh, **data)


def write_parquet(df, path: str | os.PathLike[str], **kwargs: Any) -> None:
    """df.to_parquet(path, index=False, **kwargs), atomically."""
    kwargs.setdefault("index", False)
    with atomic_write(path) as fh:
        df.to_parquet(fh, **kwargs)


def save_figure(fig, path: str | os.PathLike[str], **kwargs: Any) -> None:
    """fig.savefig(path, **kwargs), atomically; the format comes from the suffix (png default)."""
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    kwargs.setdefault("format", fmt)
    with atomic_write(path) as fh:
        fig.savefig(fh, **kwargs)


def check_npz(path: str | os.PathLike[str], what: str) -> None:
    """ValueError unless `path` starts like a zip archive (what np.savez writes). np.load on
    anything else tries to unpickle it and says so, which would be the wrong message."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as e:
        raise ValueError(f"cannot read {what} {path}: {e.strerror or e}") from None
    if head not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ValueError(f"cannot read {what} {path}: not an .npz archive"
                         + (" (the file is empty)" if not head else ""))
