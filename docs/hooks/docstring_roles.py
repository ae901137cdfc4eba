"""MkDocs hook: Sphinx roles in molvae's docstrings (``:class:`Oracle```) shown as plain code on API pages.

mkdocstrings renders docstrings as Markdown, where a role would print as ``:class:Oracle``; this
drops the role and keeps the name as code.
"""

from __future__ import annotations

import re

ROLE = re.compile(r":(?:class|meth|func|mod|attr|data|exc|obj):(<code>)")


def on_page_content(html, page, config, files):
    if page.file.src_uri.startswith("reference/api/"):
        return ROLE.sub(r"\1", html)
    return html
