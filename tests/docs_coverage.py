#!/usr/bin/env python3
"""Every error and warning the components can print has an entry in
docs/troubleshooting.md, and every entry there is a message they print.

The messages are the format strings of these calls in src/ and tools/ (C):
LOG_ERROR, LOG_WARN, CTX_ERROR, CTX_WARN, VGPU_CALL_ERROR (the guest's
LOG_ERROR for a failed call), fprintf(stderr, ...) and gguf-model-maker's
usage_error; and in scripts/*.sh, the argument of `die` and each
`echo "... error: ..." >&2`. A format is read as C reads it: adjacent string
literals joined, macros naming strings (include/apir/names.h and the like,
APIR_LIMIT_KNOBS(...) included) expanded, escapes decoded.

The rule that compares them: each printf conversion (%s, %u, %zu, %.*s,
"%" PRIu64, ...; a stringified macro argument #x; a shell $var, ${...} or
$(...)) is a placeholder, and consecutive placeholders count as one. An
entry is a markdown heading whose code span holds the message with each
placeholder written as <words> or as … (e.g. `cannot listen on <path>:
<reason>`); whitespace runs count as one space. Leading and trailing
whitespace, and the prefix the log adds (`apir-server: error: `, ...), are
not part of a message; text a format holds itself is.

usage: docs_coverage.py [--self-test] REPO_ROOT
Prints each message with no entry, one a line, as `file:line: message` (the
message written as an entry would write it, placeholders as …), then each
entry that matches no message; fails if there is either.
"""
import pathlib
import re
import sys

C_CALLS = {  # the call, and how many arguments come before the format
    "LOG_ERROR": 0, "LOG_WARN": 0, "CTX_ERROR": 1, "CTX_WARN": 1,
    "VGPU_CALL_ERROR": 1, "fprintf": 1, "usage_error": 0,
}
PLACEHOLDER = "\0"  # stands for a placeholder inside a message
DOC_PLACEHOLDER = r"(?:<[^<>`]+>|…)"

TOKEN = re.compile(r'''
    (?P<string>"(?:\\.|[^"\\\n])*")
  | (?P<char>'(?:\\.|[^'\\\n])+')
  | (?P<ident>[A-Za-z_]\w*)
  | (?P<hash>\#\s*[A-Za-z_]\w*)
  | (?P<space>\s+)
  | (?P<other>.)''', re.VERBOSE)
COMMENT = re.compile(r'/\*.*?\*/|//[^\n]*', re.DOTALL)
DEFINE = re.compile(r'^[ \t]*#[ \t]*define[ \t]+(\w+)(\([^)]*\))?[ \t]*((?:[^\n]*\\\n)*[^\n]*)', re.MULTILINE)
CONVERSION = re.compile(r'%[-+ #0]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?:hh|h|ll|l|z|j|t|L)?[diouxXcspfFeEgGaA]')
ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def tokens(text):
    """(kind, text, offset) of C source without comments (offsets kept)."""
    text = COMMENT.sub(lambda m: re.sub(r'[^\n]', ' ', m.group()), text)
    for m in TOKEN.finditer(text):
        if m.lastgroup != "space":
            yield m.lastgroup, m.group(), m.start()


def unescape(literal):
    return re.sub(r'\\(.)', lambda m: ESCAPES.get(m.group(1), m.group(1)), literal[1:-1])


class Macros:
    """The string-valued macros of the sources: NAME "text" and
    NAME(params) "text" param "text"; PRIx64-like macros are conversions."""

    def __init__(self, files):
        self.defs = {}
        for path in files:
            for m in DEFINE.finditer(path.read_text(errors="replace")):
                params = [p.strip() for p in m.group(2)[1:-1].split(",")] if m.group(2) else None
                body = list(tokens(m.group(3).replace("\\\n", " ")))
                if body and all(kind in ("string", "ident") for kind, _, _ in body):
                    self.defs.setdefault(m.group(1), (params, body))

    def expand(self, toks, i, args=None):
        """The text of the format starting at toks[i] (string literals and
        macros up to a ',' or ')' at depth 0), and the index after it."""
        out = []
        while i < len(toks):
            kind, text, _ = toks[i]
            if kind == "string":
                out.append(CONVERSION.sub(PLACEHOLDER, unescape(text).replace("%%", "\1")).replace("\1", "%"))
            elif kind == "hash":
                out.append(PLACEHOLDER)
            elif kind == "ident" and args is not None and text in args:
                out.append(args[text])
            elif kind == "ident" and re.fullmatch(r'PRI[diouxX](?:8|16|32|64|PTR|MAX)', text):
                if out and out[-1].endswith("%"):
                    out[-1] = out[-1][:-1] + PLACEHOLDER
            elif kind == "ident" and text in self.defs:
                params, body = self.defs[text]
                if params is None:
                    out.append(self.expand(body, 0)[0])
                else:
                    actual, i = self.call_args(toks, i + 1)
                    out.append(self.expand(body, 0, dict(zip(params, actual)))[0])
                    continue
            else:
                break
            i += 1
        return "".join(out), i

    def call_args(self, toks, i):
        """The arguments (each expanded) of a function-like macro whose '('
        is toks[i], and the index after its ')'."""
        actual, depth, start = [], 0, i + 1
        for j in range(i, len(toks)):
            if toks[j][1] == "(":
                depth += 1
            elif toks[j][1] in ",)" and depth == 1:
                actual.append(self.expand(toks[start:j], 0)[0])
                start = j + 1
            if toks[j][1] == ")":
                depth -= 1
                if depth == 0:
                    return actual, j + 1
        raise ValueError("unterminated macro call")


def skip_args(toks, i, n):
    """The index after n comma-separated arguments starting at toks[i]."""
    depth = 0
    while n > 0 and i < len(toks):
        if toks[i][1] in "([{":
            depth += 1
        elif toks[i][1] in ")]}":
            depth -= 1
        elif toks[i][1] == "," and depth == 0:
            n -= 1
        i += 1
    return i


def end_of_definition(toks, i):
    """The index after the body of a function defined at toks[i] (its
    parameter list), or after the parameter list of a macro or a
    declaration."""
    depth = 0
    for j in range(i, len(toks)):
        depth += {"(": 1, ")": -1}.get(toks[j][1], 0)
        if depth == 0:
            break
    if j + 1 >= len(toks) or toks[j + 1][1] != "{":
        return j + 1
    depth = 0
    for k in range(j + 1, len(toks)):
        depth += {"{": 1, "}": -1}.get(toks[k][1], 0)
        if depth == 0:
            return k + 1
    return len(toks)


def c_messages(path, macros, root):
    """(where, message) of each error/warning call in a C file."""
    text = path.read_text(errors="replace")
    toks = list(tokens(text))
    i = 0
    while i < len(toks):
        kind, name, offset = toks[i]
        i += 1
        if kind != "ident" or name not in C_CALLS or i >= len(toks) or toks[i][1] != "(":
            continue
        before = toks[i - 2]
        if before[1].startswith("#") or (before[0] == "ident" and before[1] != "return"):
            # the definition of a macro or function of C_CALLS: its body
            # passes its caller's format on (the caller's call is the message)
            i = end_of_definition(toks, i)
            continue
        if name == "fprintf" and toks[i + 1][1] != "stderr":
            continue
        start = skip_args(toks, i + 1, C_CALLS[name])
        if toks[start][1] == "__VA_ARGS__":
            continue  # a macro's body passing its caller's format on
        where = f"{path.relative_to(root)}:{text.count(chr(10), 0, offset) + 1}"
        message, _ = macros.expand(toks, start)
        yield where, message if message.strip(PLACEHOLDER + " \n") else None


SHELL_DIE = re.compile(r'\bdie\s+"((?:\\.|[^"\\])*)"')
SHELL_ECHO = re.compile(r'\becho\s+"((?:\\.|[^"\\])*error:(?:\\.|[^"\\])*)"\s*>&2')
SHELL_EXPANSION = re.compile(r'\$(?:\{[^}]*\}|\([^)]*\)|\w+)')


def shell_messages(path, root):
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        for pattern in (SHELL_DIE, SHELL_ECHO):
            for m in pattern.finditer(line):
                yield f"{path.relative_to(root)}:{n}", SHELL_EXPANSION.sub(PLACEHOLDER, m.group(1))


def normalise(message):
    """One space for whitespace runs, one placeholder for placeholder runs."""
    message = re.sub(PLACEHOLDER + r'+', PLACEHOLDER, message.strip())
    return re.sub(r'\s+', ' ', message)


def source_messages(root):
    c_files = sorted(p for d in ("src", "tools") for p in (root / d).rglob("*.[ch]"))
    macros = Macros(sorted((root / "include").rglob("*.h")) + c_files)
    found = []
    for path in c_files:
        found += c_messages(path, macros, root)
    for path in sorted((root / "scripts").glob("*.sh")):
        found += shell_messages(path, root)
    return [(where, normalise(m) if m is not None else None) for where, m in found]


def doc_entries(doc_text):
    """The code span of each heading of the doc, whitespace normalised."""
    entries = []
    for m in re.finditer(r'^#{2,6}\s.*?`([^`]+)`', doc_text, re.MULTILINE):
        entries.append(re.sub(r'\s+', ' ', m.group(1).strip()))
    return entries


def entry_pattern(message):
    parts = [re.escape(p) for p in message.split(PLACEHOLDER)]
    return re.compile(DOC_PLACEHOLDER.join(parts))


def check(root, doc_path):
    messages = source_messages(root)
    entries = doc_entries(doc_path.read_text())
    problems = 0
    matched = set()
    for where, message in messages:
        if message is None:
            print(f"{where}: the format of an error or warning is not a string literal; write one")
            problems += 1
            continue
        pattern = entry_pattern(message)
        hits = [e for e in entries if pattern.fullmatch(e)]
        matched.update(hits)
        if not hits:
            print(f"{where}: {message.replace(PLACEHOLDER, '…')}")
            problems += 1
    for entry in entries:
        if entry not in matched:
            print(f"{doc_path.name}: the entry `{entry}` matches no message in the sources")
            problems += 1
    print(f"{len(messages)} messages, {len(entries)} entries, {problems} problems", file=sys.stderr)
    return problems == 0


SELF_TEST_SOURCE = r'''
#define ENV_X "ENV_X_VALUE"
#define KNOBS(opt, env) "raise " opt " (env " env ")"
void f(void) {
    LOG_ERROR("cannot open %s: %s", path, strerror(errno));
    CTX_WARN(ctx->id, "over the %" PRIu64 "-byte limit; " KNOBS("--max", ENV_X), n);
    fprintf(stderr, "tool: bad '%s'\n", arg);
    fprintf(stdout, "not an error %d\n", 1);
    LOG_INFO("not an error either");
    VGPU_CALL_ERROR(r, "undocumented %zu", n);
}
'''
SELF_TEST_DOC = '''
### `cannot open <path>: <reason>`
### `over the …-byte limit; raise --max (env ENV_X_VALUE)`
### `tool: bad '<arg>'`
### `a message nobody prints`
'''


def self_test():
    """The check sees a missing message and a stale entry, and no more."""
    import contextlib
    import io
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        for d in ("src", "tools", "include", "scripts"):
            (root / d).mkdir()
        (root / "src" / "a.c").write_text(SELF_TEST_SOURCE)
        (root / "scripts" / "s.sh").write_text('die "cannot fetch $PKG; check ${NET}"\n')
        doc = root / "doc.md"
        doc.write_text(SELF_TEST_DOC)
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            ok = check(root, doc)
        report = out.getvalue().splitlines()
        expected = ["src/a.c:10: undocumented …", "scripts/s.sh:1: cannot fetch …; check …",
                    "doc.md: the entry `a message nobody prints` matches no message in the sources"]
        if ok or report != expected:
            print("self-test failed: the check reported", report, "instead of", expected)
            return False
    return True


def main(argv):
    args = [a for a in argv[1:] if a != "--self-test"]
    if len(args) != 1:
        print(__doc__)
        return 2
    if "--self-test" in argv and not self_test():
        return 1
    root = pathlib.Path(args[0]).resolve()
    if not check(root, root / "docs" / "troubleshooting.md"):
        print("add an entry to docs/troubleshooting.md for each message above (the rule is at the top of "
              "tests/docs_coverage.py and of the doc), or remove the stale entries")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
