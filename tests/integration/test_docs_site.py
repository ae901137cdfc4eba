"""The documentation site builds with ``mkdocs build --strict``: a broken link or anchor, a page left
out of the navigation, or an API reference to a name the package no longer has fails the build, and
so the suite."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

from molvae.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's notice about its successor, on every build


def _build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=ENV)


def test_the_site_builds_strictly(tmp_path):
    site = tmp_path / "site"
    done = _build(ROOT / "mkdocs.yml", site)
    assert done.returncode == 0, done.stderr[-4000:]
    # the CLI reference is generated from the parsers: every verb has its section
    cli = (site / "reference" / "cli" / "index.html").read_text()
    for verb in build_parser().verbs:
        assert f'id="molvae-{verb}"' in cli, f"the CLI reference has no section for molvae {verb}"
    # every notebook is a page, with its committed outputs
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        page = site / "notebooks" / notebook.stem / "index.html"
        assert page.is_file(), f"{notebook.name} is not on the site"
        assert "data:image/png" in page.read_text(), f"{notebook.name} is rendered without its pictures"
    # the API reference is rendered from the docstrings
    assert "sample_to_csv" in (site / "reference" / "api" / "molvae" / "index.html").read_text()


def test_the_site_settings_fail_on_a_broken_link_or_anchor(tmp_path):
    """The link checks of mkdocs.yml (not mkdocs' defaults, under which a missing anchor passes) on a
    two-page site with one broken link and one broken anchor."""
    settings = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[a page](missing.md) and [a section](other.md#no-such-section)\n")
    (docs / "other.md").write_text("# Other\n\n## A section\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text(yaml.safe_dump({
        "site_name": "check", "docs_dir": str(docs), "strict": True,
        "validation": settings["validation"], "markdown_extensions": settings["markdown_extensions"],
    }))
    done = _build(config, tmp_path / "site")
    assert done.returncode != 0
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING")]  # INFO lines do not fail
    for target in ("missing.md", "no-such-section"):
        assert any(target in line for line in warnings), f"no warning for the link to {target}:\n{done.stderr[-2000:]}"
