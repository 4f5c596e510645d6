#!/usr/bin/env python3
"""A short summary of a bench_kernels log for scripts/gpu_check.sh: the copy-bandwidth
reference, per storage type the number of rows and the median / lowest share of that bandwidth,
and the slowest rows (where to look first). The full table stays in the log."""
import statistics
import sys


def rows(lines):
    in_table = False
    for line in lines:
        if line.startswith("kernel ") and "% memcpy" in line:
            in_table = True
            continue
        if not in_table or len(line) < 41:
            continue
        fields = line[40:].split()
        try:
            pct = float(fields[-1])
        except (ValueError, IndexError):
            continue
        name = line[:40].rstrip()
        dtype = "bf16" if "bf16" in name else "f16" if "f16" in name else "f32"
        yield dtype, pct, name, fields[0]


def main(path, slowest=8):
    with open(path) as f:
        lines = f.read().splitlines()
    for line in lines:
        if line.startswith("reference:"):
            print(line)
    table = list(rows(lines))
    for dtype in ("f32", "bf16", "f16"):
        pcts = [p for d, p, _, _ in table if d == dtype]
        if pcts:
            print(f"{dtype}: {len(pcts)} kernels, median {statistics.median(pcts):.0f}% of the copy "
                  f"bandwidth, lowest {min(pcts):.0f}%")
    print(f"slowest {slowest} (share of the copy bandwidth):")
    for dtype, pct, name, shape in sorted(table, key=lambda r: r[1])[:slowest]:
        print(f"  {pct:5.1f}%  {name}  {shape}")


if __name__ == "__main__":
    main(sys.argv[1])
