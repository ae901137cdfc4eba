"""molvae train: a run from the defaults, a TOML file and flags (flags win), the resolved config printed and saved."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import pandas as pd

from molvae.version import __version__
from molvae.cli.common import add_verb
from molvae.errors import MolvaeError

# CLI flag names that differ from the config field name.
FLAG_NAMES = {("data", "train"): "data", ("data", "val"): "val-data"}


def add_config_flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """One flag per config field, grouped by section; returns {argparse dest: 'section.field'}."""
    from molvae.config import SECTIONS

    dests = {}
    for section, kind in SECTIONS.items():
        group = parser.add_argument_group(f"[{section}] settings (also settable in the TOML config)")
        for f in dataclasses.fields(kind):
            flag = FLAG_NAMES.get((section, f.name), f.name.replace("_", "-"))
            dest = f"cfg_{section}_{f.name}"
            # a true/false setting is also a bare switch: --compile means --compile true
            switch = {"nargs": "?", "const": "true"} if isinstance(f.default, bool) else {}
            group.add_argument(f"--{flag}", dest=dest, default=None, metavar=type(f.default).__name__.upper()
                               if f.default is not None else "STR",
                               help=f"{f.metadata.get('help', '')} (default: {f.default!r})", **switch)
            dests[dest] = f"{section}.{f.name}"
    return dests


def add_parsers(sub) -> None:
    p = add_verb(sub, "train", run_train, help="train a model", description=(
        "Train a VAE. Settings come from the defaults, then --config FILE (TOML with [data], [model], "
        "[anneal], [train] tables), then the flags below. The resolved config is printed and saved as "
        "OUT/config.toml; OUT also gets log.csv, rejects.csv, last.pt (resume) and best.pt."))
    p.add_argument("--config", metavar="TOML", help="TOML run file")
    p.add_argument("-o", "--out", metavar="DIR", help="output folder (default: runs/<date-time>)")
    p.add_argument("--resume", metavar="LAST_PT", help=(
        "continue a run from its last.pt, in its own folder and with its own settings (flags may change only "
        "epochs, the time limit, threads, device, precision and the like)"))
    p.add_argument("--overwrite", action="store_true", help="replace a run already in the output folder")
    p.set_defaults(config_dests=add_config_flags(p))


def run_train(args) -> int:
    from molvae.checkpoint import load_checkpoint
    from molvae.config import load_config, resumed_config
    from molvae.device import distributed_rank
    from molvae.training import StartingPoint, train

    dests = args.config_dests
    overrides = {dests[d]: v for d, v in vars(args).items() if d in dests and v is not None}
    if args.resume:
        saved = load_checkpoint(args.resume)["meta"].get("run_config")
        if saved is None:
            raise MolvaeError(f"{args.resume} does not record its run's settings, so it cannot be resumed")
        config = resumed_config(saved, args.config, overrides)
        out = Path(args.out or Path(args.resume).parent)
    else:
        # with init_from the checkpoint decides the model's sizes (grown by train.grow): print those
        config = StartingPoint.of(load_config(args.config, overrides), None).config
        out = Path(args.out or f"runs/{time.strftime('%Y%m%d-%H%M%S')}")
    rank, world, _ = distributed_rank()
    if rank == 0:
        print(f"# molvae {__version__} train -> {out}" + (f" ({world} processes)" if world > 1 else ""))
        print(f"# resolved config (saved as {out / 'config.toml'}):\n{config.to_toml()}")
    best = train(config, out, resume=args.resume, progress=not args.quiet, overwrite=args.overwrite)
    if rank == 0:
        from molvae.data import few_molecules_warning

        rejects = len(pd.read_csv(out / "rejects.csv"))
        print(f"best model: {best}\nlog: {out / 'log.csv'}\nrejected training rows: {rejects} (see {out / 'rejects.csv'})")
        meta = load_checkpoint(best)["meta"]
        warning = few_molecules_warning(meta["data"]["n_train"] + meta["data"]["n_val"], "init_from" in meta)
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
    return 0
