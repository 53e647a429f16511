"""The command line the repository checks share: NAME.py [--self-test] REPO_ROOT.

Each check hands run() its self-tests and a function that lists what is wrong
under REPO_ROOT, one line each; run() prints those lines and gives the exit
status. Standard library only.
"""
import sys


def run(argv, usage, self_tests, problems, summary):
    """Runs the self-tests when --self-test is given (stops at the first that
    fails), then problems(REPO_ROOT), printing each line it returns, then
    summary(lines). The exit status: 0 with no line, 1 with some or when a
    self-test failed, 2 for a wrong command line (usage printed)."""
    args = argv[1:]
    roots = [a for a in args if a != "--self-test"]
    if len(roots) != 1:
        print(usage, file=sys.stderr)
        return 2
    if "--self-test" in args and not all(test() for test in self_tests):
        return 1
    found = problems(roots[0])
    for line in found:
        print(line)
    print(summary(found))
    return 1 if found else 0
