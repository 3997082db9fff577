"""The course builds into a website, offline and strict, with no broken internal link."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest
from mkdocs.structure.files import File, Files
from mkdocs_jupyter.plugin import NotebookFile

from sftlib import ROOT, website
from sftlib.colab import REPO_URL


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    """The site as ``make site`` builds it, in a temporary folder."""
    site = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(site)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, f"mkdocs build failed:\n{done.stderr[-3000:]}"
    return site


def test_site_has_home_lessons_guides_and_api_pages(built_site):
    pages = {p.relative_to(built_site).as_posix() for p in built_site.rglob("*.html")}
    lessons = {f"notebooks/{p.stem}.html" for p in (ROOT / "notebooks").glob("*.ipynb")}
    lessons |= {f"notebooks/solutions/{p.stem}.html"
                for p in (ROOT / "notebooks" / "solutions").glob("*.ipynb")}
    guides = {f"docs/{p.stem}.html" for p in (ROOT / "docs").glob("*.md")}
    api = {f"api/{m}.html" for m in website.api_modules(ROOT)}
    assert {"index.html", "api/sftlib.models.html"} | lessons | guides | api <= pages
    tour = (built_site / "notebooks" / "00_tour.html").read_text(encoding="utf-8")
    assert "NBVAL_IGNORE_OUTPUT" in tour and "Open In Colab" in tour  # a lesson, with its cells
    api_page = (built_site / "api" / "sftlib.models.html").read_text(encoding="utf-8")
    assert "load_model" in api_page and "Look up a profile by name" in api_page  # from docstrings


def test_site_has_no_broken_internal_link(built_site):
    assert website.broken_links(built_site) == []
    home = (built_site / "index.html").read_text(encoding="utf-8")
    assert 'href="notebooks/00_tour.html"' in home  # the README's link to a lesson, as a page


def test_link_check_finds_a_planted_broken_link(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "index.html").write_text("<p>folder page</p>")
    (tmp_path / "b.html").write_text("<p>b</p>")
    (tmp_path / "a.html").write_text(
        '<a href="b.html#top">ok</a> <a href="sub/">ok</a> <a href="#here">ok</a>'
        '<a href="https://example.org/x.html">external</a> <img src="data:image/png;base64,AA">'
        '<a href="/b.html">root</a> <a href="missing.ipynb">planted</a>'
        '<script src="../outside.js"></script>')
    assert website.broken_links(tmp_path) == [website.BrokenLink("a.html", "missing.ipynb"),
                                              website.BrokenLink("a.html", "../outside.js")]
    assert website.main([str(tmp_path)]) == 1


@pytest.mark.parametrize("link, page, expected", [
    ("../sftlib/train.py#L10", "docs/guide.md", "sftlib/train.py"),
    ("02_templating.ipynb", "notebooks/03_full_finetuning.ipynb", "notebooks/02_templating.ipynb"),
    ("notebooks/00_tour.ipynb", "index.md", "notebooks/00_tour.ipynb"),
    ("../../etc/passwd", "docs/guide.md", None),
    ("https://example.org", "index.md", None),
    ("#anchor", "index.md", None),
])
def test_repo_target(link, page, expected):
    assert website.repo_target(link, page) == expected


def test_markdown_links_to_readme_and_repository_files_are_mapped(tmp_path):
    guide, lesson = (File(path, src_dir=str(ROOT), dest_dir=str(tmp_path), use_directory_urls=False)
                     for path in ("docs/guide.md", "notebooks/00_tour.ipynb"))
    page = types.SimpleNamespace(file=guide)
    config = types.SimpleNamespace(config_file_path=str(ROOT / "mkdocs.yml"))
    markdown = ("[home](../README.md#licence), [data](../data/qa/), "
                "[lesson](../notebooks/00_tour.ipynb), [missing](../nothing.md)")
    assert website.on_page_markdown(markdown, page, config, Files([guide, lesson])) == (
        f"[home](../index.md#licence), [data]({REPO_URL}/tree/main/data/qa), "
        "[lesson](../notebooks/00_tour.ipynb), [missing](../nothing.md)")


def test_notebook_links_point_at_site_pages_or_github(tmp_path):
    def notebook(name: str) -> NotebookFile:
        file = File(f"notebooks/{name}", src_dir=str(ROOT), dest_dir=str(tmp_path),
                    use_directory_urls=False)
        return NotebookFile(file, use_directory_urls=False, site_dir=str(tmp_path))

    page_file = notebook("03_full_finetuning.ipynb")
    files = Files([page_file, notebook("02_templating.ipynb")])
    page = types.SimpleNamespace(file=page_file)
    config = types.SimpleNamespace(config_file_path=str(ROOT / "mkdocs.yml"))
    html = ('<a href="02_templating.ipynb#masks">a</a><a href="../sftlib/train.py">b</a>'
            '<a href="nowhere.ipynb">c</a>')
    assert website.on_page_content(html, page, config, files) == (
        '<a href="02_templating.html#masks">a</a>'
        f'<a href="{REPO_URL}/blob/main/sftlib/train.py">b</a><a href="nowhere.ipynb">c</a>')
