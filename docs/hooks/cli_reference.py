"""MkDocs hook: the command-line reference page, written from molvae's own argparse parsers at build time.

Each verb's usage and options come from ``molvae.cli.main.build_parser()``, the parser the ``molvae``
command runs, so the page cannot drift from the command. The page is generated (``reference/cli.md``);
it is not a file in the repository.
"""

from __future__ import annotations

import os

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

PAGE = "reference/cli.md"
WIDTH = "100"  # argparse wraps help text to $COLUMNS


def _help(parser) -> str:
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        return parser.format_help().rstrip()
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


def cli_reference() -> str:
    """The Markdown text of the CLI reference: the command's help, then each verb's in the order of ``molvae --help``."""
    from molvae.cli.main import build_parser

    parser = build_parser()
    lines = [
        "# Command-line reference",
        "",
        "Every verb of the `molvae` command with its options, as `molvae VERB --help` prints them. "
        "This page is generated from the command's own parsers when the site is built.",
        "",
        "Verbs: " + ", ".join(f"[`{verb}`](#molvae-{verb})" for verb in parser.verbs) + ".",
        "",
        "## molvae",
        "",
        "```text",
        _help(parser),
        "```",
    ]
    for verb, verb_parser in parser.verbs.items():
        lines += ["", f"## molvae {verb}", "", "```text", _help(verb_parser), "```"]
    return "\n".join(lines) + "\n"


@event_priority(100)  # before the plugins read the file list
def on_files(files, config):
    files.append(File.generated(config, PAGE, content=cli_reference()))
    return files
