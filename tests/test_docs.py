"""The documentation: README links resolve inside the repository; the MkDocs site builds
strictly (broken references fail)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_readme_and_docs_links_resolve_inside_the_repository():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)", page.read_text()):
            if re.match(r"[a-z]+://", target):
                continue
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


def test_mkdocs_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    # no -q: with it mkdocs 1.6 drops the warnings that --strict counts
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d",
                          str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "site" / "api" / "index.html").read_text().count("MatrixCompletion") > 3
    from lowranklab.experiments import load_all

    page = (tmp_path / "site" / "experiments" / "index.html").read_text()
    assert page.count("<table") == len(load_all())  # one generated table per experiment
    assert all(name in page for name in load_all())
