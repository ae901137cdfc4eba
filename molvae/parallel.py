"""Worker processes for per-molecule work: spawn only where it is safe, chunks in order, a progress bar."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm.auto import tqdm


PARALLEL_MIN_ROWS = 20_000


def spawn_is_safe() -> bool:
    """Whether worker processes can be started with the ``spawn`` method from this process.

    A spawned worker re-imports the main script. A script without an
    ``if __name__ == "__main__":`` guard would run again in every worker (and multiprocessing
    refuses, respawning workers forever); a main module read from stdin cannot be re-imported at
    all. In those cases molvae works in this process instead, after a one-line warning.
    Interactive sessions, notebooks and ``python -m`` entry points are safe.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if mp.parent_process() is not None:
        return False  # never start workers from a worker
    if path is None or getattr(main, "__spec__", None) is not None:
        return True  # interactive, notebook, or python -m
    source = Path(path)
    if not source.is_file():
        safe = False
    else:
        try:
            text = source.read_text(errors="replace")
        except OSError:
            text = ""
        safe = "__main__" in text
    if not safe:
        warn_once(f"{path} has no `if __name__ == \"__main__\":` guard (or cannot be re-imported), so molvae "
                   "runs in one process; add the guard to use all cores")
    return safe


_WARNED: set[str] = set()


def warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        print(f"molvae: warning: {message}", file=sys.stderr)


def ignore_interrupts() -> None:
    """Worker-process initializer: Ctrl-C reaches the whole process group, and only the parent should
    act on it (it terminates its pool); a worker dying of KeyboardInterrupt could leave the parent
    waiting for a result that never comes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def worker_pool(workers: int):
    """A ``spawn`` pool of `workers` processes that leave Ctrl-C to the parent (spawn, not fork: forking
    a process that holds torch threads can deadlock)."""
    return mp.get_context("spawn").Pool(workers, initializer=ignore_interrupts)


def map_chunks(fn: Callable[[list], list], items: Sequence, workers: int | None = None, desc: str = "",
               progress: bool = True, chunk: int = 1000) -> list:
    """``fn`` applied to chunks of `items`, results concatenated in order, with a progress bar.

    Inputs of at least ``PARALLEL_MIN_ROWS`` items run in `workers` processes (default: all cores).
    `fn` must be a module-level function (or a partial of one) that takes and returns a list.
    """
    items = list(items)
    chunks = [items[i : i + chunk] for i in range(0, len(items), chunk)]
    workers = workers or os.cpu_count() or 1
    out: list = []
    with tqdm(total=len(items), desc=desc, unit="mol", disable=not progress, leave=False) as bar:
        if workers > 1 and len(items) >= PARALLEL_MIN_ROWS and spawn_is_safe():
            with worker_pool(workers) as pool:
                for part, piece in zip(pool.imap(fn, chunks), chunks):
                    out.extend(part)
                    bar.update(len(piece))
        else:
            for piece in chunks:
                out.extend(fn(piece))
                bar.update(len(piece))
    return out
