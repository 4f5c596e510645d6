#!/usr/bin/env python3
"""Loader throughput three ways on the same JPEG folder, transforms and worker count:
the engine's loader through Python + DLPack (trainer_engine.Loader, each batch taken over by
torch.from_dlpack), the C++ loader alone (bench_loader), and torchvision's DataLoader
(ImageFolder + RandomResizedCrop + RandomHorizontalFlip + PILToTensor, uint8 like ours).
Best epoch of --epochs after a warm-up epoch, images/s of wall time (and, for our two, images
per second of process CPU time, which shows the overhead even when other jobs share the cores).

    PYTHONPATH=build/bindings/python /usr/bin/python3 bench/python/loader_throughput.py \
        --bench-loader build/bench/bench_loader [FOLDER] [--workers 2] [--epochs 2] [--size 128]
FOLDER defaults to $TE_CATDOG_DIR/train or ../shared/data/catdog/train. Needs torch and
torchvision for the DLPack hand-over and the comparison (Debian: python3-torchvision).
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import time


def best_epoch(make_iter, epochs: int) -> tuple[float, float]:
    """Best wall-clock images/s, and images per second of this process's CPU time (all its
    threads) over the measured epochs: what the cores can do when others share them."""
    best, cpu, measured = 0.0, 0.0, 0
    for e in range(epochs + 1):  # epoch 0 warms the page cache
        start, cpu0, images = time.perf_counter(), time.process_time(), 0
        for n in make_iter(e):
            images += n
        rate = images / (time.perf_counter() - start)
        if e > 0:
            best = max(best, rate)
            cpu += time.process_time() - cpu0
            measured += images
    return best, measured / cpu


def engine_python(folder: str, size: int, workers: int, epochs: int) -> tuple[float, float]:
    import torch
    import trainer_engine as te

    loader = te.Loader(folder, 64, size, workers=workers, seed=1)  # random-resized-crop + flip

    def epoch(e):
        loader.set_epoch(e)
        for b in loader:
            x = torch.from_dlpack(b.images)  # zero-copy hand-over, as a training script would
            yield x.shape[0]
    try:
        return best_epoch(epoch, epochs)
    finally:
        loader.close()


def torchvision_loader(folder: str, size: int, workers: int, epochs: int) -> tuple[float, float]:
    import torch
    from torchvision import datasets, transforms

    t = transforms.Compose([transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip(),
                            transforms.PILToTensor()])
    loader = torch.utils.data.DataLoader(datasets.ImageFolder(folder, t), batch_size=64, shuffle=True,
                                         num_workers=workers, persistent_workers=workers > 0)

    def epoch(e):
        for x, _ in loader:
            yield x.shape[0]
    return best_epoch(epoch, epochs)[0], float("nan")  # the work is in worker processes


def cpp_loader(exe: str, folder: str, size: int, workers: int, epochs: int) -> tuple[float, float]:
    out = subprocess.run([exe, folder, "--workers", str(workers), "--epochs", str(epochs),
                          "--size", str(size)], check=True, capture_output=True, text=True).stdout
    m = re.search(r"jpeg folder:\s+([\d.]+) images/s\s+\(([\d.]+) images per CPU-second", out)
    return float(m.group(1)), float(m.group(2))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = os.path.join(os.environ["TE_CATDOG_DIR"], "train") if "TE_CATDOG_DIR" in os.environ \
        else "../shared/data/catdog/train"
    p.add_argument("folder", nargs="?", default=default)
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--bench-loader", default="build/bench/bench_loader")
    p.add_argument("--repeat", type=int, default=1, help="interleaved rounds; the best of each is kept")
    p.add_argument("--skip-torchvision", action="store_true")
    a = p.parse_args()
    n = sum(len(files) for _, _, files in os.walk(a.folder))
    print(f"loader throughput: {n} files in {a.folder}, {a.size} px random-resized-crop + flip, "
          f"batch 64, {a.workers} workers, best of {a.epochs} epochs after a warm-up; "
          f"{platform.node()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    runs = {"C++ loader (bench_loader)": lambda: cpp_loader(a.bench_loader, a.folder, a.size, a.workers, a.epochs),
            "engine loader via Python + DLPack": lambda: engine_python(a.folder, a.size, a.workers, a.epochs)}
    if not a.skip_torchvision:
        runs["torchvision DataLoader (PIL)"] = lambda: torchvision_loader(a.folder, a.size, a.workers, a.epochs)
    rates: dict[str, list[float]] = {name: [0.0, 0.0] for name in runs}
    for _ in range(a.repeat):  # interleaved, so a burst of load from elsewhere hits all alike
        for name, run in runs.items():
            wall, per_cpu = run()
            rates[name] = [max(rates[name][0], wall), per_cpu if per_cpu != per_cpu else max(rates[name][1], per_cpu)]
    base = rates["C++ loader (bench_loader)"]
    for name, (wall, per_cpu) in rates.items():
        cpu = f"{per_cpu:6.0f} per CPU-s ({per_cpu / base[1]:.2f}x)" if per_cpu == per_cpu else "per CPU-s n/a (worker processes)"
        print(f"  {name:36s} {wall:6.0f} images/s ({wall / base[0]:.2f}x the C++ loader); {cpu}")
    if "torchvision DataLoader (PIL)" in rates:
        ratio = rates["engine loader via Python + DLPack"][0] / rates["torchvision DataLoader (PIL)"][0]
        print(f"  Python+DLPack / torchvision DataLoader: {ratio:.2f}x")
    print(f"  load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
