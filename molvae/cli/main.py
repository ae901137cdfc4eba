"""The ``molvae`` command: thin verbs over the Python API.

    molvae train [--config run.toml] [flags]        train a model (flags override the TOML)
    molvae sample -m best.pt -n 1000 -o out.csv     sample the prior
    molvae reconstruct IN.csv -m best.pt -o out.csv encode and decode molecules
    molvae evaluate samples.csv                     the MOSES metrics of generated molecules

Each group of verbs lives in a module of this package with ``add_parsers(sub)``, which registers
its verbs and the function that runs each (``run``).

Exit status: 0 success; 2 a user error (bad input file, flag, config or checkpoint; a path that cannot
be read or written), printed as one line without a traceback; 1 an internal error (a bug), printed
with its traceback; 130 interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import traceback
import warnings

from molvae.version import __version__
from molvae.cli import draw, evaluate, models, optimize, sample, space, train
from molvae.cli.common import check_output, refuse_overwriting_the_input, spelling
from molvae.errors import MolvaeError, spelled_as

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1
GROUPS = (train, sample, evaluate, space, optimize, draw, models)  # the order of the verbs in --help


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="molvae", description="SELFIES GRU VAE for molecules.")
    parser.add_argument("--version", action="version", version=f"molvae {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for group in GROUPS:
        group.add_parsers(sub)
    parser.verbs = dict(sub.choices)  # each verb's parser, by name
    return parser


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C (SIGINT) always stops molvae, even when the shell started it with SIGINT ignored (a
    # background job of a script): it then ends with exit 130 and leaves no partial output.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        refuse_overwriting_the_input(args)
        # messages name what the user can change as this verb's flags
        with warnings.catch_warnings(record=True) as caught, spelled_as(spelling(parser.verbs[args.verb])):
            check_output(args)
            warnings.simplefilter("always", UserWarning)
            code = args.run(args)
        # molvae's own warnings (e.g. too few molecules for the MOSES metrics) as one line each
        for w in caught:
            if issubclass(w.category, UserWarning) and "molvae" in str(w.filename):
                print(f"molvae {args.verb}: warning: {w.message}", file=sys.stderr)
            else:
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        return code
    except MolvaeError as exc:
        print(f"molvae {args.verb}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # a path the user gave cannot be read or written (permissions, full disk, ...)
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"molvae {args.verb}: error:{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"molvae {args.verb}: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug in molvae, not a user mistake: keep the traceback for the report
        traceback.print_exc()
        print(f"molvae {args.verb}: internal error (a bug in molvae {__version__}, not in your input); "
              "please report it with the traceback above", file=sys.stderr)
        return EXIT_INTERNAL_ERROR
