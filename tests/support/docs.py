"""The README and docs/ as the docs tests read them: each document's text, and one section of it."""

from __future__ import annotations

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
README = PROJECT / "README.md"
DOCUMENTS = [README, *sorted((PROJECT / "docs").glob("*.md"))]


def section(text: str, title: str) -> str:
    """The `## title` section of a document, up to the next `## ` heading."""
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]
