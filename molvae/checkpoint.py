"""Checkpoint files: one ``torch.save`` of plain data that loads with ``weights_only=True``.

Layout (format version 1)::

    {
      "format": "molvae-checkpoint", "format_version": 1,
      "meta": {...},            # plain data: model config, vocabulary, SELFIES version and
                                # constraints, run config, data provenance, molvae version, time
      "state_dict": {...},      # model weights (tensors)
      "training": {...} | None, # optimizer state, progress, history, RNG state: resume only
    }

No pickled code objects: a checkpoint from an untrusted source cannot run code when loaded.
"""

from __future__ import annotations

import numbers
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from molvae.cache import atomic_path

from molvae.errors import CheckpointError

FORMAT = "molvae-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(path: str | os.PathLike, meta: dict, state_dict: dict, training: dict | None = None) -> Path:
    """Write a checkpoint atomically (a crash mid-write leaves the old file in place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "meta": plain(meta),
               "state_dict": state_dict, "training": training}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def plain(obj: Any) -> Any:
    """`obj` as built-in types only (str subclasses, numpy scalars and paths become str/int/float),
    so that ``weights_only`` loading accepts it."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if obj is None or isinstance(obj, torch.Tensor) or type(obj) in (bool, int, float, str):
        return obj
    if isinstance(obj, bool):
        return bool(obj)
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    return str(obj)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a checkpoint on the CPU. Raises :class:`CheckpointError` with the reason."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise CheckpointError(f"{path} is not a regular file, so not a checkpoint")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty, so not a checkpoint")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError, ValueError) as exc:
        refused = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if refused:
            raise CheckpointError(
                f"{path} is not a readable molvae checkpoint: it holds a Python object (the global {refused.group(1)}) "
                "besides tensors and plain data, which molvae refuses to load: unpickling an object from an untrusted "
                "file can run code") from None
        lines = str(exc).splitlines()
        raise CheckpointError(f"{path} is not a readable molvae checkpoint: {lines[0] if lines else exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a molvae checkpoint")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {payload.get('format_version')}; this molvae reads {FORMAT_VERSION}"
        )
    for key in ("meta", "state_dict"):
        if not isinstance(payload.get(key), dict):
            raise CheckpointError(f"{path} is missing its {key!r} section")
    return payload
