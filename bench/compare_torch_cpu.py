#!/usr/bin/python3
"""One CPU training step of this engine next to PyTorch: same model, batch, input size, thread
count and step (zero grads, forward, softmax cross-entropy, backward, plain SGD update).

Runs bench_step_cpu and an equivalent PyTorch loop in turn, prints images/s and ms/step for both,
the engine/PyTorch ratio, the CPU time per step (all threads) and the load average before and
after each run (other users of the machine skew CPU timings; rerun when the load is high).
--baseline-bench adds a second engine binary (e.g. an older build) to the same table. On a
busy machine PyTorch's OpenMP threads spin-wait and its multi-thread numbers collapse; compare
with --threads 1 as well there.

  /usr/bin/python3 bench/compare_torch_cpu.py --engine-bench build/bench/bench_step_cpu
  /usr/bin/python3 bench/compare_torch_cpu.py --engine-bench build/bench/bench_step_cpu \\
      --model simple_cnn --width 0.5 --channels 1 --size 28 --batch 128 --classes 10 --steps 20

resnet18/34/50 come from compare_torch.py (written out there, so torchvision is not needed);
simple_cnn mirrors engine/graph/presets.cpp.
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_torch import build_resnet  # noqa: E402


def build_simple_cnn(torch, width, channels, num_classes, size):
    nn = torch.nn
    c1, c2 = max(1, round(32 * width)), max(1, round(64 * width))

    def cbr(cin, cout):
        return [nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True)]

    layers = cbr(channels, c1) + cbr(c1, c1) + [nn.MaxPool2d(2, 2)] + cbr(c1, c2) + \
        cbr(c2, c2) + [nn.MaxPool2d(2, 2), nn.Flatten(),
                       nn.Linear(c2 * (size // 4) * (size // 4), num_classes)]
    return nn.Sequential(*layers)


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def torch_bench(args):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.model == "simple_cnn":
        model = build_simple_cnn(torch, args.width, args.channels, args.classes, args.size)
    else:
        if args.channels != 3:
            raise SystemExit("the resnets here take 3 input channels")
        model = build_resnet(torch, args.model, args.classes)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.empty(args.batch, args.channels, args.size, args.size).uniform_(-2, 2)
    y = torch.randint(0, args.classes, (args.batch,))

    def step():
        opt.zero_grad(set_to_none=False)  # the engine zeroes its flat gradient buffer too
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    step()  # warm-up, like bench_step_cpu's step 0
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        step()
    dt = (time.perf_counter() - t0) / args.steps
    cpu = (time.process_time() - c0) / args.steps
    return {"ms": dt * 1e3, "ips": args.batch / dt, "cpu_ms": cpu * 1e3,
            "version": torch.__version__}


def engine_bench(args, binary):
    cmd = [binary, "--model", args.model, "--batch", str(args.batch), "--size",
           str(args.size), "--classes", str(args.classes), "--channels", str(args.channels),
           "--steps", str(args.steps), "--threads", str(args.threads)]
    if args.model == "simple_cnn":
        cmd += ["--width", str(args.width)]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {(p.stderr or p.stdout).strip()[-400:]}")
    last = p.stdout.strip().splitlines()[-1]
    m = re.search(r"([\d.]+) ms/step.*?([\d.]+) images/s", last)
    if not m:
        raise SystemExit(f"cannot parse bench_step_cpu output: {last}")
    c = re.search(r"cpu ([\d.]+) ms/step", last)
    return {"ms": float(m.group(1)), "ips": float(m.group(2)),
            "cpu_ms": float(c.group(1)) if c else float("nan"), "line": last,
            "cmd": " ".join(cmd)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine-bench", help="path to bench_step_cpu (omit: PyTorch only)")
    ap.add_argument("--baseline-bench", help="another bench_step_cpu to run alongside")
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--width", type=float, default=1.0, help="simple_cnn channel scale")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1, help="alternate the two runs this many times")
    args = ap.parse_args()

    rows = []
    for _ in range(args.repeat):
        if args.baseline_bench:
            before = load()
            r = engine_bench(args, args.baseline_bench)
            rows.append(("engine (baseline)", r, before, load()))
        if args.engine_bench:
            before = load()
            r = engine_bench(args, args.engine_bench)
            rows.append(("engine", r, before, load()))
        before = load()
        r = torch_bench(args)
        rows.append((f"torch {r['version']}", r, before, load()))

    print(f"\n{args.model}, batch {args.batch}, {args.channels}x{args.size}x{args.size}, "
          f"{args.threads} threads, {args.steps} timed steps after 1 warm-up")
    print(f"{'':<18} {'images/s':>9} {'ms/step':>9} {'cpu ms':>9}   load average before -> after")
    for name, r, before, after in rows:
        print(f"{name:<18} {r['ips']:9.2f} {r['ms']:9.1f} {r['cpu_ms']:9.1f}   {before} -> {after}")
    te = [r["ips"] for n, r, _, _ in rows if n == "engine"]
    base = [r["ips"] for n, r, _, _ in rows if n == "engine (baseline)"]
    pt = [r["ips"] for n, r, _, _ in rows if n.startswith("torch")]
    if te and pt:
        print(f"ratio engine/PyTorch (best of each): {max(te) / max(pt):.3f}")
    if base and pt:
        print(f"ratio baseline/PyTorch (best of each): {max(base) / max(pt):.3f}")
    for n, r, _, _ in rows[:2]:
        if "cmd" in r:
            print(f"{n} command: {r['cmd']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
