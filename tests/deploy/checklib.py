"""checklib.py - the driver shared by the deployment checks in tests/deploy.

Each check is a function taking its paths and returning a list of problems
(strings). run() prints them and sets the exit status: 0 when there is none,
1 otherwise; with --expect-error TEXT the meaning flips for a negative case:
0 only when some problem contains TEXT (so a broken fixture must be rejected
for the stated reason, and a check that accepts everything fails).
"""
import argparse
import sys


def run(name, check, describe_args=None):
    ap = argparse.ArgumentParser(prog=name)
    ap.add_argument("--expect-error", metavar="TEXT",
                    help="negative case: pass only if a problem contains TEXT")
    if describe_args:
        describe_args(ap)
    ap.add_argument("paths", nargs="+")
    args = ap.parse_args()
    problems = check(args)
    for p in problems:
        print(f"{name}: {p}")
    if args.expect_error is None:
        if problems:
            print(f"{name}: FAILED, {len(problems)} problem(s)")
            return 1
        print(f"{name}: ok ({', '.join(args.paths)})")
        return 0
    if any(args.expect_error in p for p in problems):
        print(f"{name}: rejected as expected ({args.expect_error!r})")
        return 0
    print(f"{name}: FAILED, expected a problem containing {args.expect_error!r}, "
          f"got {len(problems)} other(s)")
    return 1


def main(name, check, describe_args=None):
    sys.exit(run(name, check, describe_args))
