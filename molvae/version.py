"""molvae's version (also in pyproject.toml; every checkpoint records it)."""

__version__ = "0.1.0"
