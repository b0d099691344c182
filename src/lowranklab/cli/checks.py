"""Checks every command runs before any work starts: input files, output locations, numbers.

Each raises `ValueError` with one line naming the option; the commands turn it into
`error: ...` and exit status 2.

Output policy (README "Files"):
- an output file is written atomically (`lowranklab.atomic`): a failed run never leaves a
  torn or half-written file, and an existing file stays as it was;
- an existing output file is replaced only with `--force`; an output that *is* one of the
  command's inputs (same file, also through a link) is refused even with `--force`;
- a symbolic link as output is refused (it would be replaced, not written through, and the
  user probably meant its target); pass the real path;
- an output directory (`run`, `reproduce`, `figure`) is created if its parent exists; results
  inside it are replaced, as documented for `run`.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def input_file(path: Path, option: str) -> Path:
    """`path` exists, is a regular file and is readable."""
    if not path.exists():
        raise ValueError(f"{option}: {path} does not exist")
    if not path.is_file():
        raise ValueError(f"{option}: {path} is not a regular file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{option}: {path} is not readable")
    return path


def _probe_writable(directory: Path, option: str, target: Path) -> None:
    """Create and remove a temporary file in `directory`: the only reliable writability test
    (os.access says yes to root on read-only mounts and to /sys)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".lowranklab-probe-", dir=directory)
    except OSError as e:
        raise ValueError(f"{option}: cannot write in {directory} ({e.strerror or e}); "
                         f"{target} would fail after the work") from None
    os.close(fd)
    os.unlink(tmp)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def output_file(out: Path, *, inputs: Iterable[Path | None] = (), force: bool = False,
                option: str = "--out") -> Path:
    """`out` can be written: its directory exists and is writable, it is not a directory, not
    a symlink, not one of `inputs`, and does not exist unless `force`."""
    if str(out) in ("", "."):
        raise ValueError(f"{option}: give a file name")
    if out.is_symlink():
        raise ValueError(f"{option}: {out} is a symbolic link; give the real path "
                         "(links are not written through)")
    for inp in inputs:
        if inp is not None and inp.exists() and out.exists() and _same_file(out, inp):
            raise ValueError(f"{option}: {out} is an input of this command; refusing to "
                             "overwrite it")
    if out.exists():
        if out.is_dir():
            raise ValueError(f"{option}: {out} is a directory; give a file name")
        if not force:
            raise ValueError(f"{option}: {out} exists; pass --force to overwrite it")
        if not out.is_file():
            raise ValueError(f"{option}: {out} is not a regular file")
    parent = out.parent
    if not parent.exists():
        raise ValueError(f"{option}: directory {parent} does not exist")
    if not parent.is_dir():
        raise ValueError(f"{option}: {parent} is not a directory")
    _probe_writable(parent, option, out)
    return out


def output_dir(out: Path, *, option: str = "--out", must_exist: bool = False) -> Path:
    """`out` is (or can be created as) a writable directory; nothing is created here."""
    if out.is_symlink() and not out.is_dir():
        raise ValueError(f"{option}: {out} is a dangling symbolic link")
    if out.exists():
        if not out.is_dir():
            raise ValueError(f"{option}: {out} exists and is not a directory")
        _probe_writable(out, option, out)
        return out
    if must_exist:
        raise ValueError(f"{option}: directory {out} does not exist")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{option}: {parent} is not a directory; cannot create {out}")
    _probe_writable(parent, option, out)
    return out


def number(option: str, value: float | None, *, low: float | None = None,
           low_open: bool = False, high: float | None = None, high_open: bool = False
           ) -> float | None:
    """A finite number in the stated range (None passes: the option was not given)."""
    if value is None:
        return None
    if not math.isfinite(value):
        raise ValueError(f"{option} must be a finite number, got {value}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{option} must be {'>' if low_open else '>='} {low:g}, got {value:g}")
    if high is not None and (value >= high if high_open else value > high):
        raise ValueError(f"{option} must be {'<' if high_open else '<='} {high:g}, "
                         f"got {value:g}")
    return value


def not_given(options: dict[str, object], why: str) -> None:
    """Refuse options that do not apply: {"--mu": mu, ...} with None meaning not given."""
    given = [name for name, v in options.items() if v is not None and v is not False]
    if given:
        raise ValueError(f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply "
                         f"{why}")
