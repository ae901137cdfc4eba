"""The ``molvae`` command line (see :mod:`molvae.cli.main`)."""

from molvae.cli.main import EXIT_INTERNAL_ERROR, EXIT_USER_ERROR, build_parser, main

__all__ = ["main", "build_parser", "EXIT_USER_ERROR", "EXIT_INTERNAL_ERROR"]
