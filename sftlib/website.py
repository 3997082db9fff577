"""The course as a website: the mkdocs hook that assembles it, and a check of its links.

``make site`` runs ``mkdocs build --strict`` (``mkdocs.yml`` names this file under ``hooks:``) and
then ``python -m sftlib.website site``. The hook lays the site out like the repository, so a
relative link written for GitHub also works on the site:

* ``index.md``: the README;
* ``notebooks/*.ipynb``: the lessons with their committed outputs (rendered, never executed);
* ``notebooks/solutions/*.ipynb``: the exercise solutions, rendered the same way;
* ``docs/*.md``: the guides (mkdocs' ``docs_dir``);
* ``api/sftlib.<module>.md``: one API reference page per module, from the docstrings.

The navigation is built from the same lists, so a new lesson or ``docs/`` page needs no edit of
``mkdocs.yml``. A relative link to ``README.md`` leads to the home page; one to a repository file
that is not a page (``../sftlib/train.py``, ``data/qa/README.md``) to that file on GitHub. mkdocs validates the links of Markdown
pages; notebooks are rendered to HTML by mkdocs-jupyter and escape that validation, so
:func:`broken_links` checks every ``href`` and ``src`` of the built HTML.
"""

from __future__ import annotations

import argparse
import posixpath
import re
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import griffe
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from sftlib.colab import BRANCH, REPO_URL

_EXTERNAL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*:|//|#)")  # a scheme, protocol-relative, anchor
_MD_LINK = re.compile(r"(\]\()([^)\s]+)")  # the target of an inline Markdown link or image
_HTML_LINK = re.compile(r'((?:href|src)=")([^"]*)(")')
_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)
_SPHINX_ROLE = re.compile(r":(?:mod|func|class|meth|data|attr|obj):`")


def _root(config: MkDocsConfig) -> Path:
    """The repository: the folder of mkdocs.yml."""
    return Path(config.config_file_path).resolve().parent


def api_modules(root: Path) -> list[str]:
    """The modules that get an API reference page: the package, then each module by name.

    Args:
        root: the repository's root folder.

    Returns:
        Dotted names, ``"sftlib"`` first.
    """
    return ["sftlib"] + [f"sftlib.{p.stem}" for p in sorted((root / "sftlib").glob("*.py"))
                         if p.stem != "__init__"]


def repo_target(link: str, page_src: str) -> str | None:
    """The repository path a relative link points to, read from the page's place in the repository.

    Args:
        link: an ``href``, ``src`` or Markdown link target as written.
        page_src: the page's path in the site's source layout, e.g. ``"docs/guide.md"``.

    Returns:
        A POSIX path relative to the repository root (``"notebooks/00_tour.ipynb"``), or ``None``
        for an external link, an anchor, or a path that leaves the repository.

    Example:
        >>> repo_target("../sftlib/train.py#L10", "docs/guide.md")
        'sftlib/train.py'
    """
    path = unquote(urlsplit(link).path)
    if not link or _EXTERNAL.match(link) or not path or path.startswith("/"):
        return None
    parts: list[str] = []
    for part in (PurePosixPath(page_src).parent / path).parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts) or None


def github_url(path: str, root: Path) -> str:
    """The GitHub address of a repository file or folder on :data:`sftlib.colab.BRANCH`.

    Args:
        path: a POSIX path relative to the repository root, e.g. ``"data/qa"``.
        root: the repository's root folder (to tell a folder from a file).

    Returns:
        ``{REPO_URL}/tree/{BRANCH}/{path}`` for a folder, ``.../blob/...`` for a file.
    """
    kind = "tree" if (root / path).is_dir() else "blob"
    return f"{REPO_URL}/{kind}/{BRANCH}/{path}"


def _map(link: str, page: Page, files: Files, root: Path, to_pages: bool) -> str:
    """A link as the site needs it: to a file of the site (if ``to_pages``), to GitHub, or as is."""
    target = repo_target(link, page.file.src_uri)
    if target is None:
        return link
    fragment = "#" + urlsplit(link).fragment if urlsplit(link).fragment else ""
    if target == "README.md":  # the home page
        target = "index.md"
        if not to_pages:
            return posixpath.relpath(target, posixpath.dirname(page.file.src_uri)) + fragment
    if (site_file := files.get_file_from_path(target)) is not None:
        return site_file.url_relative_to(page.file) + fragment if to_pages else link
    if (root / target).exists():
        return github_url(target, root) + fragment
    return link


# mkdocs hooks ------------------------------------------------------------------------------------

def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Hook: the repository link in the header comes from :data:`sftlib.colab.REPO_URL`."""
    config.repo_url = REPO_URL
    config.repo_name = REPO_URL.rstrip("/").rsplit("/", 1)[-1]
    return config


@event_priority(100)  # before mkdocs-jupyter's on_files, which turns .ipynb files into pages
def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Hook: lay the site out like the repository, and build the navigation from it.

    Args:
        files: what mkdocs found in ``docs_dir`` (``docs/``) and the theme's assets.
        config: the mkdocs configuration; its ``nav`` is replaced.

    Returns:
        README as ``index.md``, ``notebooks/*.ipynb``, ``notebooks/solutions/*.ipynb``,
        ``docs/...``, ``api/*.md`` and the theme's assets.
    """
    root = _root(config)

    def repo_file(path: str) -> File:  # a file of the repository, at its repository path
        return File(path, src_dir=str(root), dest_dir=config.site_dir,
                    use_directory_urls=config.use_directory_urls)

    site = [File.generated(config, "index.md", abs_src_path=str(root / "README.md"))]
    lessons = sorted((root / "notebooks").glob("*.ipynb"))
    solutions = sorted((root / "notebooks" / "solutions").glob("*.ipynb"))
    site += [repo_file(p.relative_to(root).as_posix()) for p in lessons + solutions]
    docs_dir = Path(config.docs_dir).resolve()
    guides = [repo_file(f"docs/{f.src_uri}") for f in files
              if f.src_dir and Path(f.src_dir).resolve() == docs_dir]
    theme = [f for f in files if not (f.src_dir and Path(f.src_dir).resolve() == docs_dir)]
    modules = api_modules(root)
    site += guides + theme + [
        File.generated(config, f"api/{m}.md", content=f"# `{m}`\n\n::: {m}\n") for m in modules]
    config.nav = [
        {"Home": "index.md"},
        {"Lessons": [f"notebooks/{p.name}" for p in lessons]},
        {"Solutions": [f"notebooks/solutions/{p.name}" for p in solutions]},
        {"Guides": [f.src_uri for f in guides if f.src_uri.endswith(".md")]},
        {"API reference": [f"api/{m}.md" for m in modules]},
    ]
    return Files(site)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Hook: point links to repository files that are not in the site at GitHub (mkdocs then
    converts and validates the rest)."""
    root = _root(config)
    return _MD_LINK.sub(lambda m: m[1] + _map(m[2], page, files, root, False), markdown)


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Hook: in a rendered notebook, point links at the site's pages or at GitHub."""
    if not page.file.src_uri.endswith(".ipynb"):
        return html
    root = _root(config)
    return _HTML_LINK.sub(lambda m: m[1] + _map(m[2], page, files, root, True) + m[3], html)


class CourseDocstrings(griffe.Extension):
    """Griffe extension: read sftlib's docstrings as the API pages need them.

    The course writes ``Example:`` (as TRL does), which griffe would render as prose, not as a
    Google ``Examples:`` section of code; and Sphinx roles (``:func:`x```), which Markdown would
    show verbatim. mkdocs.yml loads this under the python handler's ``extensions``.
    """

    def on_instance(self, *, obj: griffe.Object, **kwargs: object) -> None:
        """Rewrite the object's docstring before griffe parses it."""
        if obj.docstring is not None:
            text = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
            obj.docstring.value = _SPHINX_ROLE.sub("`", text)


# the link check ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class BrokenLink:
    """A relative ``href`` or ``src`` in the built site that names no file of the build."""

    page: str  # the HTML file, relative to the site folder
    link: str  # the link as written


class _Links(HTMLParser):
    """Collects the href and src attributes of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [value for name, value in attrs if name in ("href", "src") and value]


def broken_links(site_dir: Path) -> list[BrokenLink]:
    """Every relative link of a built site that does not resolve to a file in it.

    Anchors are not checked (``page.html#x`` counts as ``page.html``); external links (``https:``,
    ``mailto:``, ``data:``) and pure anchors are skipped. A link to a folder needs its
    ``index.html``; a link starting with ``/`` is read from the site's root.

    Args:
        site_dir: the folder mkdocs built.

    Returns:
        The broken links, by page, in file order; empty when every link resolves.

    Example:
        >>> broken_links(Path("site"))  # doctest: +SKIP
        [BrokenLink(page='notebooks/03_full_finetuning.html', link='02_templating.ipynb')]
    """
    site_dir = site_dir.resolve()
    broken = []
    for page in sorted(site_dir.rglob("*.html")):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        for link in parser.links:
            if _EXTERNAL.match(link):
                continue
            path = unquote(urlsplit(link).path)
            if not path:
                continue
            target = (site_dir / path.lstrip("/")) if path.startswith("/") else page.parent / path
            target = target.resolve()
            inside = target == site_dir or site_dir in target.parents
            if not inside or not (target.is_file() or (target / "index.html").is_file()):
                broken.append(BrokenLink(page.relative_to(site_dir).as_posix(), link))
    return broken


def main(argv: list[str] | None = None) -> int:
    """Check a built site's links; print the broken ones. Returns 1 if any, else 0."""
    parser = argparse.ArgumentParser(prog="python -m sftlib.website", description=main.__doc__)
    parser.add_argument("site_dir", type=Path, nargs="?", default=Path("site"))
    args = parser.parse_args(argv)
    broken = broken_links(args.site_dir)
    for item in broken:
        print(f"{args.site_dir / item.page}: broken link {item.link!r}")
    pages = sum(1 for _ in args.site_dir.rglob("*.html"))
    print(f"{len(broken)} broken links in {pages} pages of {args.site_dir}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
