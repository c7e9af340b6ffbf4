"""MkDocs hooks (mkdocs.yml ``hooks:``): pages made at build time, and links that leave
docs/ made to work on the site.

* ``index.md`` is README.md (the repository's front page is the site's), ``changelog.md``
  is CHANGELOG.md, and ``cli.md`` is every ``keras-resnet`` command's ``--help``, read
  from the argument parser itself, so the site never disagrees with the CLI.
* The Markdown under docs/ is also read on the repository's own pages (GitHub), where a
  link such as ``../../examples/finetune_folder.py`` reaches the file. On the site such a
  link would point above the site's root: every link that leaves docs/ is rewritten to a
  copy of its file under ``repo/`` in the site (a folder: to a page listing its files;
  README's ``docs/...`` links to the page itself).

MkDocs' ``File.generated`` and the ``on_files``/``on_page_markdown`` events are the
documented ways to add pages and to change their Markdown; no plugin does this
rewriting for files outside docs_dir, hence this file.
"""

from __future__ import annotations

import argparse
import os
import posixpath
import re

from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# pages made here: site path -> the repository file whose text they are (None: made)
PAGES = {"index.md": "README.md", "changelog.md": "CHANGELOG.md", "cli.md": None}
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")
REPO_PREFIX = "repo"


def _cli_page() -> str:
    from keras_resnet.cli.main import make_parser

    parser = make_parser()
    parser.prog = "keras-resnet"
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    parts = ["# Command line", "",
             "`keras-resnet` is installed with the package (`pip install .`). Each command's "
             "`--help`, as the installed version prints it (this page is generated from "
             "the argument parser when the site is built):", "",
             "```text", parser.format_help().rstrip(), "```", ""]
    for name, command in sub.choices.items():
        parts += [f"## keras-resnet {name}", "", "```text",
                  command.format_help().rstrip(), "```", ""]
    return "\n".join(parts)


def _source_of(file) -> str:
    """The repository file a page's Markdown was written in."""
    if file.src_uri in PAGES and PAGES[file.src_uri]:
        return os.path.join(ROOT, PAGES[file.src_uri])
    return file.abs_src_path or os.path.join(ROOT, "docs", file.src_uri)


def _outside_targets(docs_dir):
    """Repository files (relative paths) that Markdown under docs/ and the README link
    to outside docs/."""
    sources = [os.path.join(ROOT, p) for p in PAGES.values() if p]
    for folder, _, names in os.walk(docs_dir):
        sources += [os.path.join(folder, n) for n in names if n.endswith(".md")]
    found = set()
    for source in sources:
        for _, target, _ in LINK.findall(open(source, encoding="utf-8").read()):
            path = _resolve(source, target)
            if path is None or _inside(path, docs_dir) \
                    or os.path.relpath(path, ROOT) in PAGES.values():
                continue
            if os.path.isdir(path):  # a folder: its files, and a page listing them
                found |= {os.path.relpath(os.path.join(path, n), ROOT)
                          for n in sorted(os.listdir(path))
                          if os.path.isfile(os.path.join(path, n)) and not n.startswith(".")}
                found.add(os.path.relpath(path, ROOT) + os.sep)
            elif os.path.isfile(path):
                found.add(os.path.relpath(path, ROOT))
    return found


def _folder_page(rel: str) -> str:
    """A page listing a repository folder's files (what a link to the folder shows)."""
    folder = os.path.join(ROOT, rel)
    names = [n for n in sorted(os.listdir(folder))
             if os.path.isfile(os.path.join(folder, n)) and not n.startswith(".")]
    return "\n".join([f"# {rel.rstrip('/')}/", ""] + [f"- [{n}]({n})" for n in names]) + "\n"


def _resolve(source, target):
    if re.match(r"^[a-z]+:", target) or target.startswith(("#", "/")):
        return None
    return os.path.normpath(os.path.join(os.path.dirname(source), target.split("#")[0]))


def _inside(path, folder):
    return os.path.commonpath([os.path.abspath(path), os.path.abspath(folder)]) == \
        os.path.abspath(folder)


def on_files(files, config):
    docs_dir = config["docs_dir"]
    for uri, source in PAGES.items():
        content = (_cli_page() if source is None
                   else open(os.path.join(ROOT, source), encoding="utf-8").read())
        files.append(File.generated(config, uri, content=content))
    for rel in sorted(_outside_targets(docs_dir)):
        uri = posixpath.join(REPO_PREFIX, rel.replace(os.sep, "/"))
        if rel.endswith(os.sep):
            files.append(File.generated(config, uri + "index.md", content=_folder_page(rel)))
        else:
            files.append(File.generated(config, uri, abs_src_path=os.path.join(ROOT, rel)))
    return files


def on_page_markdown(markdown, page, config, files):
    docs_dir = config["docs_dir"]
    source = _source_of(page.file)
    here = posixpath.dirname(page.file.src_uri)

    def fix(match):
        before, target, after = match.groups()
        path = _resolve(source, target)
        if path is None:
            return match.group(0)
        anchor = target[len(target.split("#")[0]):]
        if _inside(path, docs_dir):
            uri = os.path.relpath(path, docs_dir).replace(os.sep, "/")
        else:
            rel = os.path.relpath(path, ROOT).replace(os.sep, "/")
            uri = next((u for u, s in PAGES.items() if s == rel),
                       posixpath.join(REPO_PREFIX, rel))
            if os.path.isdir(path):
                uri = posixpath.join(uri, "index.md")
        return before + posixpath.relpath(uri, here or ".") + anchor + after

    return LINK.sub(fix, markdown)
