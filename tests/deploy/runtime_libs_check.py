"""runtime_libs_check.py - the runtime stage of a Dockerfile must install
the Debian package of every shared library the service binaries need
directly (their DT_NEEDED entries, read with objdump; the package found with
dpkg -S on this Debian bookworm machine, the image's base). Libraries of
the base image itself (libc6, libgcc-s1, libstdc++6: apt depends on them)
and the sanitizer runtimes of an ASan build are not asked for.

usage: runtime_libs_check.py --dockerfile FILE [--expect-error TEXT] BINARY...
"""
import os
import re
import subprocess

import checklib
from dockerfile_check import installed_packages, logical_lines, stages

BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}
SANITIZER = re.compile(r"^lib(asan|ubsan|lsan|tsan)\.so")


def needed(binary):
    """(soname, resolved path or None) of each direct DT_NEEDED entry."""
    out = subprocess.run(["objdump", "-p", binary], capture_output=True, text=True,
                         check=True).stdout
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M))
    return [(so, paths.get(so)) for so in re.findall(r"^\s*NEEDED\s+(\S+)$", out, re.M)]


def spellings(path):
    real = os.path.realpath(path)
    return {path, real, "/usr" + path, real.removeprefix("/usr")}


def packages_of(paths):
    """{path: owning package} in one dpkg call (dpkg tells /lib and /usr/lib apart)."""
    asked = sorted({s for p in paths for s in spellings(p)})
    r = subprocess.run(["dpkg", "-S"] + asked, capture_output=True, text=True, check=False)
    owner = {}
    for line in r.stdout.splitlines():
        pkgs, _, file = line.partition(": ")
        owner[file] = pkgs.split(",")[0].split(":")[0].strip()
    return {p: next((owner[s] for s in spellings(p) if s in owner), None) for p in paths}


def check(args):
    with open(args.dockerfile, encoding="utf-8") as f:
        st = stages(logical_lines(f.read()))
    if not st:
        return [f"{args.dockerfile}: no stage"]
    runtime = set()
    for line in st[-1]["lines"]:
        if line.upper().startswith("RUN "):
            runtime.update(installed_packages(line))
    libs = {}
    for b in args.paths:
        for so, path in needed(b):
            if not SANITIZER.match(so):
                libs.setdefault(so, (b, path))
    owners = packages_of([path for _, path in libs.values() if path])
    problems = []
    for so, (b, path) in sorted(libs.items()):
        pkg = owners.get(path) if path else None
        if pkg is None:
            problems.append(f"{b}: {so}: not found, or no Debian package owns it")
        elif pkg not in runtime and pkg not in BASE_PACKAGES:
            problems.append(f"{so} ({pkg}) is not installed in the runtime stage "
                            f"of {args.dockerfile}")
    if not libs:
        problems.append("no shared library found: wrong binaries?")
    return problems


def describe(ap):
    ap.add_argument("--dockerfile", required=True)


if __name__ == "__main__":
    checklib.main("runtime_libs_check", check, describe)
