"""The training-step benchmark's GPU path, run over the SIMT emulation (bench_train_throughput_emu).

Nothing is timed: this runs the code a GPU session measures first, so that a crash or a wrong
loss shows on every commit rather than in the session's few minutes. Checks:
  - fp32: the first two steps' losses equal the CPU benchmark's (the emulated convolutions are
    the CPU reference; our kernels sum in other orders: 1e-4 relative);
  - fp32 with and without CUDA graphs over 6 steps (captured at the third, then replayed): the
    same loss, exactly (the CPU is not compared there: this little model's loss at lr 0.1
    wanders off chaotically after a few steps, so any rounding difference grows);
  - bf16 and fp16 (its fixed loss scale) with CUDA graphs: runs, finite loss, peak memory
    reported. (simple_cnn flattens its feature maps, so channels-last is refused for it: the
    resnet steps of test_cuda_emu and the trainer tests run channels-last.)
Usage: bench_smoke.py BENCH_CPU BENCH_EMU
"""
import json
import math
import subprocess
import sys


def run(binary, *args, warmup=1, steps=1):
    cmd = [binary, "--model", "simple_cnn", "--size", "32", "--batch", "4", "--classes", "10",
           "--warmup", str(warmup), "--steps", str(steps), "--json", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    cpu_bench, emu_bench = sys.argv[1], sys.argv[2]
    cpu = run(cpu_bench, "--device", "cpu")
    gpu = run(emu_bench, "--device", "cuda")
    graphs = run(emu_bench, "--device", "cuda", warmup=3, steps=3)
    eager = run(emu_bench, "--device", "cuda", "--no-cuda-graphs", warmup=3, steps=3)
    lows = [run(emu_bench, "--device", "cuda", "--precision", p, warmup=3, steps=2) for p in ("bf16", "fp16")]
    print("losses after 2 steps: cpu", cpu["loss"], "emulated gpu", gpu["loss"],
          "| after 6 steps:", graphs["loss"], f"({graphs['graph_replays']} replays)", eager["loss"],
          "(eager) |", ", ".join(f"{low['precision']} {low['loss']} ({low['graph_replays']} replays, "
                                 f"peak {low['peak_mib']} MiB)" for low in lows))
    failures = []
    if not graphs["cuda_graphs"] or eager["cuda_graphs"] or graphs["graph_replays"] < 3:
        failures.append("the CUDA graphs were not replayed, or the cuda_graphs fields do not say what ran")
    if abs(gpu["loss"] - cpu["loss"]) > 1e-4 * abs(cpu["loss"]):
        failures.append(f"fp32 loss {gpu['loss']} differs from the CPU's {cpu['loss']}")
    if graphs["loss"] != eager["loss"]:
        failures.append(f"CUDA graphs changed the loss: {graphs['loss']} vs {eager['loss']} eager")
    for low in lows:
        if not math.isfinite(low["loss"]) or low["loss"] <= 0 or low["peak_mib"] <= 0 or low["graph_replays"] < 2:
            failures.append(f"{low['precision']}: loss {low['loss']}, peak {low['peak_mib']} MiB, "
                            f"{low['graph_replays']} replays")
    if failures:
        sys.exit("\n".join(failures))


if __name__ == "__main__":
    main()
