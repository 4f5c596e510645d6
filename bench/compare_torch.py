#!/usr/bin/env python3
"""Training throughput of this engine next to PyTorch, same model, batch, size and settings, on
the same GPU in the same run.

Runs bench_train_throughput (--json) and an equivalent PyTorch loop (resnet18/34/50 written out
here, so torchvision is not needed; synthetic data already on the GPU; SGD with momentum 0.9,
weight decay 5e-4, lr 0.1; cross-entropy), for TF32 off and/or on, and prints images/s,
ms/step, peak device memory and the engine/PyTorch ratios.

  python3 bench/compare_torch.py --engine-bench build/bench/bench_train_throughput --tf32 both
"""
import argparse
import json
import subprocess
import sys
import time


def build_resnet(torch, name, num_classes):
    nn = torch.nn

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, cin, planes, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or cin != planes:
                self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False),
                                                nn.BatchNorm2d(planes))

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + idt)

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, cin, planes, stride):
            super().__init__()
            out = planes * 4
            self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(out)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = None
            if stride != 1 or cin != out:
                self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False),
                                                nn.BatchNorm2d(out))

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
            return self.relu(y + idt)

    layouts = {"resnet18": (BasicBlock, [2, 2, 2, 2]), "resnet34": (BasicBlock, [3, 4, 6, 3]),
               "resnet50": (Bottleneck, [3, 4, 6, 3])}
    if name not in layouts:
        raise SystemExit(f"compare_torch.py knows {sorted(layouts)}, not {name}")
    block, counts = layouts[name]
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
              nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for i, (planes, n) in enumerate(zip([64, 128, 256, 512], counts)):
        for j in range(n):
            stride = 2 if (i > 0 and j == 0) else 1
            layers.append(block(cin, planes, stride))
            cin = planes * block.expansion
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


def torch_bench(args, tf32):
    import torch
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = args.autotune
    dev = torch.device("cuda")
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    torch.manual_seed(0)
    model = build_resnet(torch, args.model, args.classes).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.empty(args.batch, 3, args.size, args.size, device=dev).uniform_(-2, 2)
    y = (torch.arange(args.batch, device=dev) * 7919) % args.classes

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    result = {"engine": "torch", "tf32": tf32, "images_per_s": args.batch * args.steps / dt,
              "ms_per_step": 1000 * dt / args.steps,
              "peak_mib": torch.cuda.max_memory_allocated() / 2**20,
              "peak_reserved_mib": torch.cuda.max_memory_reserved() / 2**20,
              "loss": float(loss), "version": torch.__version__,
              "gpu": torch.cuda.get_device_name(0)}
    del model, opt, x, y
    torch.cuda.empty_cache()
    return result


def engine_bench(args, tf32):
    cmd = [args.engine_bench, "--model", args.model, "--batch", str(args.batch), "--size",
           str(args.size), "--classes", str(args.classes), "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--device", "cuda", "--json"] + (["--tf32"] if tf32 else []) \
        + (["--autotune"] if args.autotune else [])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    if p.returncode != 0:
        return {"engine": "te", "tf32": tf32, "error": (p.stderr or p.stdout).strip()[-300:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def fmt(r, key, spec):
    return format(r[key], spec) if r and key in r else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine-bench", help="path to bench_train_throughput (omit: PyTorch only)")
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--tf32", choices=["off", "on", "both"], default="both")
    ap.add_argument("--autotune", action="store_true",
                    help="time cuDNN algorithms on both sides (engine --autotune, "
                         "torch.backends.cudnn.benchmark); default: heuristics on both")
    ap.add_argument("--timeout", type=int, default=240, help="seconds per engine run")
    ap.add_argument("--json-out", help="also write all results to this file")
    args = ap.parse_args()

    try:
        import torch
        have_torch = torch.cuda.is_available()
        why = "" if have_torch else "torch.cuda.is_available() is False"
    except Exception as e:  # noqa: BLE001 - any import failure means "no PyTorch here"
        have_torch, why = False, f"cannot import torch: {e}"

    settings = {"off": [False], "on": [True], "both": [False, True]}[args.tf32]
    rows = []
    for tf32 in settings:
        te = engine_bench(args, tf32) if args.engine_bench else None
        pt = torch_bench(args, tf32) if have_torch else None
        rows.append((tf32, te, pt))

    print(f"\n{args.model}, batch {args.batch}, {args.size}x{args.size}, fp32, SGD momentum; "
          f"{args.steps} timed steps after {args.warmup} warm-up")
    if not have_torch:
        print(f"PyTorch not measured: {why}")
    else:
        print(f"PyTorch {rows[0][2]['version']} on {rows[0][2]['gpu']} "
              f"(cudnn.benchmark={args.autotune}; engine autotune={args.autotune})")
    print(f"{'TF32':<5} {'engine':<7} {'images/s':>10} {'ms/step':>9} {'peak MiB':>10} "
          f"{'reserved':>10}")
    for tf32, te, pt in rows:
        for name, r in (("te", te), ("torch", pt)):
            if r is None:
                continue
            if "error" in r:
                print(f"{'on' if tf32 else 'off':<5} {name:<7} failed: {r['error']}")
                continue
            print(f"{'on' if tf32 else 'off':<5} {name:<7} {fmt(r, 'images_per_s', '10.1f')} "
                  f"{fmt(r, 'ms_per_step', '9.2f')} {fmt(r, 'peak_mib', '10.0f')} "
                  f"{fmt(r, 'peak_reserved_mib', '10.0f')}")
        if te and pt and "error" not in te:
            print(f"{'on' if tf32 else 'off':<5} {'ratio':<7} {te['images_per_s'] / pt['images_per_s']:10.3f} "
                  f"{'':>9} {te['peak_mib'] / pt['peak_mib']:10.3f}   (engine / PyTorch)")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump([{"tf32": t, "te": a, "torch": b} for t, a, b in rows], f, indent=1)
    failed = any(te and "error" in te for _, te, _ in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
