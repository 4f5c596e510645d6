#!/usr/bin/env python3
"""Fails unless every TE_LAUNCH site in kernels/cuda/*.cu ran in the emulated test suite.

Usage: check_launch_coverage.py <source dir> <launch log> <test_cuda_emu executable>
The log is what test_cuda_emu's processes appended under TE_EMU_LAUNCH_LOG: "process" when one
starts, then each launch site it ran ("kernels/cuda/x.cu:123 kernel"). ctest runs one process
per test; when fewer processes than tests ran (`ctest -R` picked a subset), the check is
skipped (exit 77): only the whole suite (`ctest -L emu`) must cover every launcher.
"""
import pathlib
import re
import subprocess
import sys

SKIPPED = 77


def launch_sites(source_dir):
    sites = {}
    for cu in sorted(pathlib.Path(source_dir, "kernels", "cuda").glob("*.cu")):
        for number, line in enumerate(cu.read_text().splitlines(), start=1):
            if re.search(r"\bTE_LAUNCH\(", line) and not line.lstrip().startswith("//"):
                sites[f"kernels/cuda/{cu.name}:{number}"] = line.strip()
    return sites


def main():
    source_dir, log, executable = sys.argv[1], sys.argv[2], sys.argv[3]
    sites = launch_sites(source_dir)
    try:
        lines = [line for line in pathlib.Path(log).read_text().splitlines() if line]
    except FileNotFoundError:
        lines = []
    listing = subprocess.run([executable, "--gtest_list_tests"], capture_output=True, text=True, check=True)
    tests = sum(1 for line in listing.stdout.splitlines() if line.startswith("  "))
    processes = lines.count("process")
    if processes < tests:
        print(f"only {processes} of the {tests} emulated tests ran: coverage is checked on a whole run (ctest -L emu)")
        return SKIPPED
    ran = {line.split(" ", 1)[0] for line in lines if line != "process"}
    missing = sorted(set(sites) - ran, key=lambda s: (s.split(":")[0], int(s.split(":")[1])))
    print(f"{len(sites) - len(missing)} of {len(sites)} launch sites in kernels/cuda/*.cu ran in emulation")
    for site in missing:
        print(f"  never launched: {site}: {sites[site]}")
    return 1 if missing or not sites else 0


if __name__ == "__main__":
    sys.exit(main())
