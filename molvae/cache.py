"""The on-disk cache of results fully determined by their settings (preprocessed sets, properties,
canonical training sets), and the atomic writes and hashes it rests on."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np


def default_cache_dir() -> Path:
    """``$MOLVAE_CACHE`` or ``~/.cache/molvae``."""
    return Path(os.environ.get("MOLVAE_CACHE") or Path.home() / ".cache" / "molvae")


def cache_file(settings: dict, cache_dir: str | os.PathLike | None, prefix: str = "") -> Path | None:
    """The cache file for a result fully determined by `settings` (plain data); ``None`` when
    caching is off (``cache_dir=""``). ``cache_dir=None`` means :func:`default_cache_dir`."""
    if cache_dir == "":
        return None
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:32]
    return Path(cache_dir or default_cache_dir()) / f"{prefix}{key}.npz"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """A temporary path beside `path` to write into: renamed to `path` when the block ends, removed
    when it fails or is interrupted, so readers never see a half-written file and nothing is left
    behind. An error about the temporary file is reported as being about `path`, the name the user gave."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        if exc.filename is not None and Path(exc.filename) == tmp:
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


def save_npz_atomic(path: Path, compress: bool = False, **arrays: np.ndarray) -> None:
    """Write an ``.npz`` so that readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, ".npz") as tmp:  # numpy adds .npz to a name without it
        (np.savez_compressed if compress else np.savez)(tmp, **arrays)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pack_strings(strings: Sequence[str]) -> np.ndarray:
    # Newline separates the strings; one inside a string (a quoted multi-line CSV cell) becomes a space.
    return np.frombuffer("\n".join(s.replace("\n", " ") for s in strings).encode("utf-8"), dtype=np.uint8)


def unpack_strings(packed: np.ndarray, n: int) -> list[str]:
    if n == 0:
        return []
    return packed.tobytes().decode("utf-8").split("\n")
