#!/usr/bin/env python3
"""Checks ptxas's resource report for every kernel of te_cuda (what the SIMT emulation cannot
see): fails on register spills, on a stack frame (local memory), and on static shared memory
above the 48 KiB a block may use without opting in.

Usage: check_kernel_resources.py <directory with *.ptxas.txt reports> [--list]
The reports are written by cmake/ptxas_report.sh while te_cuda builds (-Xptxas -v).
A kernel that needs local memory on purpose goes into ALLOWED with the reason.
"""
import pathlib
import re
import subprocess
import sys

MAX_STATIC_SHARED = 48 * 1024
# Demangled-name fragment -> why its stack frame is expected. Empty: none is.
ALLOWED = {}


def demangle(names):
    try:
        out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True)
        return dict(zip(names, out.stdout.splitlines()))
    except (OSError, subprocess.CalledProcessError):
        return {n: n for n in names}


def parse(report):
    kernels = {}
    current = None
    for line in report.read_text().splitlines():
        m = re.search(r"Function properties for (\S+)", line)
        if m:
            current = kernels.setdefault(m.group(1), {"file": report.name.split(".")[0] + ".cu"})
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m and current is not None:
            current["stack"], current["spill_stores"], current["spill_loads"] = map(int, m.groups())
            continue
        m = re.search(r"Used (\d+) registers.*?(?:(\d+) bytes smem)?(?:,|$)", line)
        if m and current is not None:
            current["registers"] = int(m.group(1))
            smem = re.search(r"(\d+) bytes smem", line)
            current["smem"] = int(smem.group(1)) if smem else 0
    return kernels


def main():
    directory = pathlib.Path(sys.argv[1])
    reports = sorted(directory.rglob("*.ptxas.txt"))
    if not reports:
        print(f"no ptxas reports under {directory}: build te_cuda first")
        return 1
    kernels = {}
    for r in reports:
        kernels.update(parse(r))
    names = demangle(sorted(kernels))
    problems = []
    for mangled, k in sorted(kernels.items(), key=lambda kv: names[kv[0]]):
        name = names[mangled]
        allowed = next((why for frag, why in ALLOWED.items() if frag in name), None)
        if k.get("spill_stores", 0) or k.get("spill_loads", 0):
            problems.append(f"{k['file']}: {name}: {k['spill_stores']} bytes of spill stores, {k['spill_loads']} of spill loads")
        if k.get("stack", 0) and not allowed:
            problems.append(f"{k['file']}: {name}: {k['stack']}-byte stack frame (local memory)")
        if k.get("smem", 0) > MAX_STATIC_SHARED:
            problems.append(f"{k['file']}: {name}: {k['smem']} bytes of static shared memory (at most {MAX_STATIC_SHARED})")
        if "--list" in sys.argv:
            print(f"{k.get('registers', '?'):>4} regs {k.get('stack', 0):>4} B stack {k.get('smem', 0):>6} B smem  {name}")
    print(f"{len(kernels)} kernels in {len(reports)} ptxas reports; {len(problems)} problems")
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
