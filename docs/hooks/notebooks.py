"""MkDocs hook: the notebooks in notebooks/ as pages of the site, rendered by mkdocs-jupyter.

The notebooks stay where users open them (notebooks/, outside docs/); this adds each one to the
site's files under ``notebooks/`` as it is, with its committed outputs (nothing is executed).
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]


@event_priority(100)  # before mkdocs-jupyter turns .ipynb files into pages
def on_files(files, config):
    # a File read from the repository root (not a generated one: mkdocs-jupyter reads the source path)
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        files.append(File(f"notebooks/{path.name}", src_dir=str(ROOT), dest_dir=config.site_dir,
                          use_directory_urls=config.use_directory_urls))
    return files
