#!/usr/bin/env python3
"""Reads a TensorBoard event file (or a log directory) with TensorBoard's own loader and prints
its scalars as JSON: {"tag": [[step, value], ...], ...}. Used by tests/io/tensorboard_test.cpp
to check that our hand-encoded event files are what TensorBoard reads (CRCs included).
Needs `pip install tensorboard` (scripts/requirements-test.txt)."""
import json
import sys

from tensorboard.backend.event_processing import event_accumulator


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: read_tensorboard.py EVENT_FILE_OR_DIR", file=sys.stderr)
        return 2
    # size_guidance 0 = keep every scalar (the default samples down to 10000).
    acc = event_accumulator.EventAccumulator(sys.argv[1], size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    out = {tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
