#!/usr/bin/env python3
"""Every relative link of the repository's Markdown files leads somewhere
inside the repository: the file (or folder) it names exists there, and its
#fragment, if any, names a heading of the target.

The files checked are the tracked *.md files (`git ls-files '*.md'`; every
*.md under REPO_ROOT outside hidden and build folders when REPO_ROOT is not
a git work tree). A link is an inline link or image, [text](target) or
![alt](target), or a reference definition, [label]: target, outside code
blocks and code spans. Links with a scheme (https:, mailto:, ...) are left
alone. A relative target is resolved against the linking file's folder and
must stay under REPO_ROOT, exist, and (in a git work tree) be tracked or be
a folder holding tracked files: a clone has nothing else. A fragment is
compared with the target's headings as GitHub names them: the heading's
text, lower-cased, with every character other than letters, digits, '_',
'-' and spaces dropped and spaces turned into '-'; a repeated name gets
-1, -2, ... Fragments of other files than Markdown are accepted only as
GitHub's line anchors (#L12, #L12-L20).

usage: doc_links.py [--self-test] REPO_ROOT
Prints each bad link as `file:line: target: why`; fails if there is one.
--self-test first checks a made-up tree whose bad links must be reported.
"""
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import check_main

FENCE = re.compile(r'^ {0,3}(`{3,}|~{3,})')
CODE_SPAN = re.compile(r'(`+)(.+?)\1')
INLINE_LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+"[^"]*")?\s*\)')
REFERENCE = re.compile(r'^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)')
ATX = re.compile(r'^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$')
SETEXT = re.compile(r'^ {0,3}(=+|-+)[ \t]*$')
SCHEME = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:')
HTML_ANCHOR = re.compile(r'<a\s[^>]*(?:name|id)\s*=\s*"([^"]+)"', re.IGNORECASE)
LINE_ANCHOR = re.compile(r'^L\d+(?:-L\d+)?$')


def prose_lines(text):
    """(line number, line) of the lines outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
        elif fence is not None and m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
            fence = None
        elif fence is None:
            yield number, line


def heading_text(raw):
    """A heading's text as it renders: code spans' content kept verbatim,
    links reduced to their text, HTML tags and emphasis marks dropped."""
    spans = []

    def keep(m):
        spans.append(m.group(2).strip())
        return f"\0{len(spans) - 1}\0"

    text = CODE_SPAN.sub(keep, raw)
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', text)
    text = re.sub(r'<[^>]+>', '', text)
    text = re.sub(r'(\*+|(?<!\w)_+|_+(?!\w))', '', text)
    return re.sub(r'\0(\d+)\0', lambda m: spans[int(m.group(1))], text)


def slug(text):
    """GitHub's anchor name for a heading's text."""
    return re.sub(r'[^\w\- ]', '', text.strip().lower()).replace(' ', '-')


def anchors(text):
    """The fragments a Markdown file answers: its headings' slugs (repeats
    numbered as GitHub numbers them) and its HTML anchors' names."""
    names = set()
    seen = {}
    previous = None
    for _, line in prose_lines(text):
        names.update(HTML_ANCHOR.findall(line))
        title = None
        m = ATX.match(line)
        if m:
            title = m.group(2) or ""
        elif previous and previous.strip() and SETEXT.match(line) and not ATX.match(previous):
            title = previous.strip()
        previous = line
        if title is None:
            continue
        base = slug(heading_text(title))
        count = seen.get(base, 0)
        seen[base] = count + 1
        names.add(base if count == 0 else f"{base}-{count}")
    return names


def links(text):
    """(line number, target) of every link of a Markdown text."""
    for number, line in prose_lines(text):
        without_code = CODE_SPAN.sub(lambda m: ' ' * len(m.group()), line)
        m = REFERENCE.match(without_code)
        if m:
            yield number, m.group(1).strip('<>')
            continue
        for m in INLINE_LINK.finditer(without_code):
            yield number, m.group(1).strip('<>')


class Repo:
    def __init__(self, root):
        self.root = pathlib.Path(root).resolve()
        self.tracked = None
        try:
            out = subprocess.run(["git", "-C", str(self.root), "ls-files", "-z"], capture_output=True,
                                 check=True).stdout.decode()
            if (self.root / ".git").exists():
                self.tracked = {p for p in out.split("\0") if p}
        except (OSError, subprocess.CalledProcessError):
            pass
        if self.tracked is not None:
            self.dirs = {str(pathlib.PurePosixPath(p).parent) for p in self.tracked}
            for d in list(self.dirs):
                while d not in (".", ""):
                    d = str(pathlib.PurePosixPath(d).parent)
                    self.dirs.add(d)

    def markdown_files(self):
        if self.tracked is not None:
            return sorted(p for p in self.tracked if p.endswith(".md"))
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith((".", "build"))]
            found += [os.path.relpath(os.path.join(dirpath, f), self.root) for f in filenames if f.endswith(".md")]
        return sorted(found)

    def exists(self, relative):
        """Whether a clone has this path (relative to the root)."""
        if self.tracked is None:
            return (self.root / relative).exists()
        return relative in self.tracked or relative in self.dirs or relative == "."


def check_link(repo, source, target, cache):
    """Why the link target of source (relative to the root) is bad, or None."""
    if SCHEME.match(target) or target.startswith("//"):
        return None
    path, _, fragment = target.partition("#")
    if path:
        joined = os.path.normpath(os.path.join(os.path.dirname(source), path))
        if joined == ".." or joined.startswith("../") or os.path.isabs(path):
            return "leaves the repository"
        if not repo.exists(joined):
            return "no such file in the repository"
        if not (repo.root / joined).resolve().is_relative_to(repo.root):
            return "leaves the repository (through a symbolic link)"
    else:
        joined = source
    if not fragment:
        return None
    if not joined.endswith(".md"):
        return None if LINE_ANCHOR.match(fragment) else f"#{fragment} is not a line anchor of a file that is not Markdown"
    if joined not in cache:
        file = repo.root / joined
        cache[joined] = anchors(file.read_text(errors="replace")) if file.is_file() else set()
    if fragment not in cache[joined]:
        return f"no heading of {joined} is named #{fragment}"
    return None


def bad_links(root):
    repo = Repo(root)
    cache = {}
    found = []
    for source in repo.markdown_files():
        text = (repo.root / source).read_text(errors="replace")
        for number, target in links(text):
            why = check_link(repo, source, target, cache)
            if why:
                found.append(f"{source}:{number}: {target}: {why}")
    return found


def self_test():
    """A made-up tree, with a link of each kind that must pass and of each
    kind that must fail, checked file by file."""
    with tempfile.TemporaryDirectory() as tmp:
        outside = pathlib.Path(tmp, "outside.md")
        outside.write_text("# Outside\n")
        root = pathlib.Path(tmp, "repo")
        (root / "docs").mkdir(parents=True)
        (root / "README.md").write_text(
            "# Title\n\n"
            "[ok](docs/guide.md) [ok](docs/guide.md#every-variable) [ok](#title) [ok](docs/)\n"
            "[ok](https://example.org/x.md) ![ok](docs/guide.md \"a title\")\n"
            "[broken](docs/missing.md)\n"
            "[outside](../outside.md)\n"
            "`[in a code span](nowhere.md)`\n"
            "```\n[in a code block](nowhere.md)\n```\n"
            "[ref]: docs/gone.md\n")
        (root / "docs" / "guide.md").write_text(
            "# Guide\n\n## Every variable\n\n## Every variable\n\n### `apir-server --status <socket>`: the *report*\n\n"
            "Setext heading\n---\n\n"
            "[ok](#every-variable-1) [ok](#apir-server---status-socket-the-report) [ok](#setext-heading)\n"
            "[ok](../README.md#title) [bad anchor](#no-such-heading) [bad anchor](../README.md#guide)\n"
            "[outside](../../outside.md#outside) [ok](guide.md#guide)\n")
        expected = [
            "README.md:5: docs/missing.md: no such file in the repository",
            "README.md:6: ../outside.md: leaves the repository",
            "README.md:11: docs/gone.md: no such file in the repository",
            "docs/guide.md:13: #no-such-heading: no heading of docs/guide.md is named #no-such-heading",
            "docs/guide.md:13: ../README.md#guide: no heading of README.md is named #guide",
            "docs/guide.md:14: ../../outside.md#outside: leaves the repository",
        ]
        found = bad_links(root)
    ok = found == expected
    print("self-test: " + ("a missing file, a missing heading and a link leaving the tree are reported"
                           if ok else "wrong report:\n  " + "\n  ".join(found)))
    return ok


def main(argv):
    return check_main.run(argv, __doc__.strip().split("\n\n")[-2], [self_test], bad_links,
                          lambda found: f"{len(found)} bad links" if found
                          else "every relative link resolves inside the repository")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
