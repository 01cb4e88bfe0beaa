"""The release, in one place (pyproject.toml says the same; tests/test_docs.py checks the changelog has it)."""

__version__ = "0.1.0"
