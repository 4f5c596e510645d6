#!/usr/bin/env python3
"""Training throughput of this engine next to PyTorch (eager and torch.compile), same model,
batch, size, precision and memory format, on the same device in the same run.

One training step, on both sides: zero the gradients, forward, cross-entropy (mean, no label
smoothing), backward, SGD (lr 0.1, momentum 0.9, weight decay 5e-4 except BN parameters and
biases; torch.optim.SGD with its default implementation), on synthetic data that already lives
on the device (inputs uniform in [-2, 2], labels i * 7919 mod classes), as bench_train_throughput
does. resnet18/34/50 are written out below (torchvision is not needed). For every case it runs
bench_train_throughput --json (the engine) when --engine-bench is given, then PyTorch eager,
then (for cases that ask for it) torch.compile (default mode), and prints ONE table:

  case | engine img/s | torch eager img/s | torch compile img/s | engine/eager | engine/compile |
  engine peak MiB | torch eager peak MiB

Precisions: fp32 (TF32 off everywhere), tf32 (fp32 storage, TF32 tensor cores for convolutions
and matmuls), bf16 (torch.autocast bfloat16), fp16 (torch.autocast float16 + GradScaler).
Memory formats: nchw, cl (channels_last: model and input). Peak memory: the most device memory
allocated at once over the whole case (model, optimizer state, activations, workspaces), i.e.
torch.cuda.max_memory_allocated after reset_peak_memory_stats, and the engine's caching
allocator peak. Where the engine cannot run a case it says why (bench_train_throughput exits 4,
"not supported yet"), and the table says "n/a (not supported: ...)"; no number is made up.

Cases: --case MODEL:SIZE:BATCH:PRECISION:FORMAT[:MODES] (repeatable; MODES = eager, compile or
eager+compile, default eager), and/or the grid --model/--size/--batch/--precision/--format/--mode
(comma lists, every combination). Neither: the default set (issue 6's targets):
  resnet18:224:256:bf16:cl:eager+compile   resnet50:224:128:bf16:cl:eager
  resnet18:128:256:bf16:cl:eager           resnet18:224:256:fp32:nchw:eager
  resnet18:224:256:tf32:nchw:eager
Measurement order: every case's engine and eager runs first, the torch.compile runs last (they
take a minute or so each to compile; --time-budget skips what would not fit, and SIGTERM still
prints the table of what was measured).

  python3 bench/compare_torch.py --engine-bench build/bench/bench_train_throughput --json out.json
  /usr/bin/python3 bench/compare_torch.py --device cpu --force-size 32 --force-batch 2 \\
      --warmup 1 --steps 1 --engine-bench build/bench/bench_train_throughput   # smoke test

Exit status: 0 all requested measurements ran or are honestly n/a; 1 some measurement failed;
2 interrupted (SIGTERM/SIGINT) or bad arguments.
"""
import argparse
import gc
import itertools
import json
import signal
import subprocess
import sys
import time
import warnings

PRECISIONS = ("fp32", "tf32", "bf16", "fp16")
FORMATS = ("nchw", "cl")
MODES = ("eager", "compile")
MODELS = ("resnet18", "resnet34", "resnet50")
DEFAULT_CASES = ("resnet18:224:256:bf16:cl:eager+compile", "resnet50:224:128:bf16:cl:eager",
                 "resnet18:128:256:bf16:cl:eager", "resnet18:224:256:bf16:nchw:eager",
                 "resnet18:224:256:fp32:nchw:eager", "resnet18:224:256:tf32:nchw:eager")
ENGINE_EXIT_NO_GPU = 3       # bench_train_throughput's exit codes
ENGINE_EXIT_UNSUPPORTED = 4


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


# ---------------------------------------------------------------------------------------------
# Cases and results

class Case:
    def __init__(self, model, size, batch, precision, fmt, modes):
        self.model, self.size, self.batch = model, int(size), int(batch)
        self.precision, self.fmt, self.modes = precision, fmt, tuple(modes)

    @staticmethod
    def parse(spec):
        parts = spec.split(":")
        if len(parts) not in (5, 6):
            raise ValueError(f"case '{spec}' should be MODEL:SIZE:BATCH:PRECISION:FORMAT[:MODES]")
        modes = parts[5].split("+") if len(parts) == 6 else ["eager"]
        case = Case(parts[0], parts[1], parts[2], parts[3], parts[4], modes)
        case.check()
        return case

    def check(self):
        if self.model not in MODELS:
            raise ValueError(f"model '{self.model}' is not one of {', '.join(MODELS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision '{self.precision}' is not one of {', '.join(PRECISIONS)}")
        if self.fmt not in FORMATS:
            raise ValueError(f"format '{self.fmt}' is not one of {', '.join(FORMATS)}")
        bad = [m for m in self.modes if m not in MODES]
        if bad or not self.modes:
            raise ValueError(f"modes {'+'.join(self.modes)} should be eager, compile or "
                             "eager+compile")
        if self.size < 1 or self.batch < 1:
            raise ValueError("size and batch must be positive")

    def label(self):
        fmt = "CL" if self.fmt == "cl" else "NCHW"
        return f"{self.model} {self.size} b{self.batch} {self.precision} {fmt}"

    def spec(self):
        return (f"{self.model}:{self.size}:{self.batch}:{self.precision}:{self.fmt}:"
                + "+".join(self.modes))


def result(status, reason="", **values):
    """One measurement: status ok | n/a | error | skipped | not requested."""
    r = {"status": status}
    if reason:
        r["reason"] = reason
    r.update(values)
    return r


NOT_REQUESTED = result("not requested")


class Interrupted(BaseException):
    """Raised by the SIGTERM/SIGINT handler so the table of what ran still gets printed."""


def on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


# ---------------------------------------------------------------------------------------------
# The engine side

def engine_bench(args, case, channels_last=None):
    """The engine's run of `case`. Where the engine cannot do channels-last yet, it runs the
    same case in NCHW and says so (the engine's best layout against PyTorch's)."""
    if channels_last is None:
        channels_last = case.fmt == "cl"
    cmd = [args.engine_bench, "--model", case.model, "--batch", str(case.batch), "--size",
           str(case.size), "--classes", str(args.classes), "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--device", args.device, "--json",
           "--precision", "fp32" if case.precision in ("fp32", "tf32") else case.precision]
    if case.precision == "tf32":
        cmd.append("--tf32")
    if channels_last:
        cmd.append("--channels-last")
    if args.autotune:
        cmd.append("--autotune")
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return result("error", f"timed out after {args.timeout} s", cmd=" ".join(cmd))
    except OSError as e:
        return result("error", f"cannot run {args.engine_bench}: {e}", cmd=" ".join(cmd))
    wall = time.perf_counter() - t0
    lines = p.stdout.strip().splitlines()
    parsed = None
    if lines:
        try:
            parsed = json.loads(lines[-1])
        except ValueError:
            parsed = None
    message = (p.stderr or p.stdout).strip()
    if p.returncode == ENGINE_EXIT_UNSUPPORTED:
        items = (parsed or {}).get("unsupported") or [message.replace("not supported yet: ", "")]
        # "precision bf16 (the engine computes in fp32 only)" -> "bf16"; the whole text is kept.
        short = ", ".join(item.split(" (")[0].replace("precision ", "") for item in items)
        if channels_last and all(item.startswith("channels-last") for item in items):
            r = engine_bench(args, case, channels_last=False)
            r["layout_note"] = "engine ran NCHW (channels-last not supported yet)"
            return r
        return result("n/a", f"not supported: {short}", detail=message, cmd=" ".join(cmd))
    if p.returncode != 0 or not parsed or "images_per_s" not in parsed:
        what = "no usable GPU" if p.returncode == ENGINE_EXIT_NO_GPU else f"exit {p.returncode}"
        return result("error", f"{what}: {message[-400:]}", cmd=" ".join(cmd))
    def mib(key):  # the engine prints -1 where it has no device memory to report (CPU)
        v = parsed.get(key)
        return v if v is not None and v >= 0 else None
    return result("ok", images_per_s=parsed["images_per_s"], ms_per_step=parsed["ms_per_step"],
                  peak_mib=mib("peak_mib"), peak_reserved_mib=mib("peak_reserved_mib"),
                  loss=parsed.get("loss"),
                  wall_s=wall, cmd=" ".join(cmd))


# ---------------------------------------------------------------------------------------------
# The PyTorch side

def set_tf32(torch, enabled):
    """TF32 for cuDNN convolutions and cuBLAS matmuls. The legacy allow_tf32 flags only: since
    PyTorch 2.9, setting the new fp32_precision API makes Inductor's own reads of the legacy
    flags fail with "mix of the legacy and new APIs" (pytorch/pytorch#166387); the legacy setters
    keep both views consistent and only warn. Returns which API was used."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.backends.cuda.matmul.allow_tf32 = enabled
            torch.backends.cudnn.allow_tf32 = enabled
        return "allow_tf32"
    except (AttributeError, RuntimeError):
        value = "tf32" if enabled else "ieee"
        torch.backends.cuda.matmul.fp32_precision = value
        torch.backends.cudnn.conv.fp32_precision = value
        return "fp32_precision"


def torch_unavailable_reason(torch, args, case, mode):
    """Why this torch measurement cannot run here, or None."""
    if mode == "compile" and not hasattr(torch, "compile"):
        return "torch.compile unavailable"
    if args.device == "cpu" and case.precision == "fp16":
        return "fp16 autocast is CUDA-only here"
    if args.device == "cpu" and case.precision == "tf32":
        return "TF32 is a CUDA setting"
    return None


def release(torch):
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


def torch_bench(torch, args, case, mode):
    why = torch_unavailable_reason(torch, args, case, mode)
    if why:
        return result("n/a", why)
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    # fp32/tf32 set TF32 explicitly; under bf16/fp16 autocast convolutions and matmuls run in
    # 16 bits and TF32 does not matter, so the flags are left alone (fewer chances to trip the
    # TF32 API checks described in set_tf32 during torch.compile).
    tf32_api = None
    if cuda and case.precision in ("fp32", "tf32"):
        tf32_api = set_tf32(torch, case.precision == "tf32")
    torch.backends.cudnn.benchmark = args.autotune
    if mode == "compile":
        import torch._dynamo  # noqa: F401 - not always imported by `import torch`
        torch._dynamo.reset()  # a fresh compile per case: no cache hits, no recompile limits
    release(torch)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    torch.manual_seed(0)
    fmt = torch.channels_last if case.fmt == "cl" else torch.contiguous_format
    model = build_resnet(torch, case.model, args.classes).to(device=dev, memory_format=fmt)
    model.train()
    # No weight decay for BN parameters and biases (every 1-D parameter), like the engine.
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4},
                           {"params": no_decay, "weight_decay": 0.0}], lr=0.1, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.empty(case.batch, 3, case.size, case.size, device=dev).uniform_(-2, 2)
    x = x.contiguous(memory_format=fmt)
    y = (torch.arange(case.batch, device=dev) * 7919) % args.classes
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(case.precision)
    scaler = None
    if case.precision == "fp16":
        scaler = (torch.amp.GradScaler("cuda") if hasattr(torch.amp, "GradScaler")
                  else torch.cuda.amp.GradScaler())
    net = torch.compile(model) if mode == "compile" else model

    def step():
        opt.zero_grad(set_to_none=True)
        if amp_dtype is not None:
            with torch.autocast(device_type=dev.type, dtype=amp_dtype):
                loss = loss_fn(net(x), y)
        else:
            loss = loss_fn(net(x), y)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        return loss

    try:
        t0 = time.perf_counter()
        step()  # compiles forward and backward under torch.compile
        sync()
        first_step_s = time.perf_counter() - t0
        for _ in range(max(0, args.warmup - 1)):
            step()
        sync()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            loss = step()
        sync()
        dt = time.perf_counter() - t0
        out = result("ok", images_per_s=case.batch * args.steps / dt,
                     ms_per_step=1000 * dt / args.steps, first_step_s=first_step_s,
                     loss=float(loss), tf32_api=tf32_api,
                     peak_mib=torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
                     peak_reserved_mib=torch.cuda.max_memory_reserved() / 2**20 if cuda else None)
    finally:
        net = model = opt = x = y = scaler = None  # free the case's memory before the next
        if mode == "compile":
            torch._dynamo.reset()
        release(torch)
    return out


def torch_bench_safe(torch, args, case, mode):
    try:
        return torch_bench(torch, args, case, mode)
    except Exception as e:  # noqa: BLE001 - one failing case must not lose the others' numbers
        lines = str(e).strip().splitlines()
        text = f"{type(e).__name__}: {lines[0][:300] if lines else ''}"
        if "out of memory" in str(e).lower():
            text = f"out of memory ({text[:200]})"
    release(torch)  # after the except block, so the traceback no longer holds the tensors
    return result("error", text)


# ---------------------------------------------------------------------------------------------
# Output

def num(r, key, spec):
    v = r.get(key)
    return format(v, spec) if v is not None else "n/a"


def throughput_cell(r):
    if r["status"] == "ok":
        return num(r, "images_per_s", ".1f")
    if r["status"] == "not requested":
        return "-"
    if r["status"] == "n/a":
        return f"n/a ({r['reason']})"
    if r["status"] == "skipped":
        return f"skipped ({r['reason']})"
    return "error (see below)"


def ratio(a, b):
    if a["status"] == "ok" and b["status"] == "ok" and b.get("images_per_s"):
        return a["images_per_s"] / b["images_per_s"]
    return None


def ratio_cell(a, b):
    v = ratio(a, b)
    if v is not None:
        return f"{v:.3f}"
    return "-" if b["status"] == "not requested" else "n/a"


def peak_cell(r):
    if r["status"] != "ok":
        return "-" if r["status"] == "not requested" else "n/a"
    return num(r, "peak_mib", ".0f")


def print_table(rows):
    header = ["case", "engine img/s", "torch eager img/s", "torch compile img/s",
              "engine/eager", "engine/compile", "engine peak MiB", "torch eager peak MiB"]
    body = []
    for case, r in rows:
        te, ea, co = r["engine"], r["torch_eager"], r["torch_compile"]
        body.append([case.label(), throughput_cell(te), throughput_cell(ea), throughput_cell(co),
                     ratio_cell(te, ea), ratio_cell(te, co), peak_cell(te), peak_cell(ea)])
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]

    def line(cells):
        return " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                          for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    print(line(header))
    print("-+-".join("-" * w for w in widths))
    for row in body:
        print(line(row))
    print()


def print_notes(rows):
    for case, r in rows:
        if r["engine"].get("layout_note"):
            print(f"engine, {case.label()}: {r['engine']['layout_note']}")
    for case, r in rows:
        co = r["torch_compile"]
        if co["status"] == "ok":
            print(f"torch.compile, {case.label()}: first step (compile + 1 step) "
                  f"{co['first_step_s']:.1f} s; {co['ms_per_step']:.1f} ms/step after; "
                  f"peak {num(co, 'peak_mib', '.0f')} MiB")
    for case, r in rows:
        for side in ("engine", "torch_eager", "torch_compile"):
            if r[side]["status"] == "error":
                print(f"ERROR {side}, {case.label()}: {r[side]['reason']}")
                if "cmd" in r[side]:
                    print(f"  command: {r[side]['cmd']}")


def build_cases(args):
    cases = [Case.parse(spec) for spec in args.case]
    grid = [args.model, args.size, args.batch, args.precision, args.format, args.mode]
    if any(v is not None for v in grid):
        defaults = ["resnet18", "224", "256", "fp32", "nchw", "eager"]
        lists = [(v if v is not None else d).split(",") for v, d in zip(grid, defaults)]
        modes = [m for m in lists[5] if m]
        for model, size, batch, precision, fmt in itertools.product(*lists[:5]):
            c = Case(model, size, batch, precision, fmt, modes)
            c.check()
            cases.append(c)
    if not cases:
        cases = [Case.parse(spec) for spec in DEFAULT_CASES]
    for c in cases:
        if args.force_size:
            c.size = args.force_size
        if args.force_batch:
            c.batch = args.force_batch
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 1)[1])
    ap.add_argument("--engine-bench", help="path to bench_train_throughput (omit: PyTorch only)")
    ap.add_argument("--case", action="append", default=[],
                    help="MODEL:SIZE:BATCH:PRECISION:FORMAT[:MODES], repeatable")
    ap.add_argument("--model", help=f"grid: comma list of {', '.join(MODELS)}")
    ap.add_argument("--size", help="grid: comma list of image sizes")
    ap.add_argument("--batch", help="grid: comma list of batch sizes")
    ap.add_argument("--precision", help=f"grid: comma list of {', '.join(PRECISIONS)}")
    ap.add_argument("--format", help="grid: comma list of nchw, cl (channels_last)")
    ap.add_argument("--mode", help="grid: comma list of eager, compile")
    ap.add_argument("--force-size", type=int, help="override every case's size (smoke tests)")
    ap.add_argument("--force-batch", type=int, help="override every case's batch (smoke tests)")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=5,
                    help="untimed steps per measurement, the first one timed as first_step_s "
                         "(the compile time under torch.compile)")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    ap.add_argument("--autotune", action="store_true",
                    help="timed cuDNN algorithm search on both sides (engine --autotune, "
                         "torch.backends.cudnn.benchmark); default: heuristics on both")
    ap.add_argument("--timeout", type=int, default=240, help="seconds per engine run")
    ap.add_argument("--time-budget", type=float, default=0,
                    help="seconds for the whole run (0: none): later measurements are skipped")
    ap.add_argument("--compile-reserve", type=float, default=120,
                    help="seconds of --time-budget a torch.compile measurement needs to start")
    ap.add_argument("--json", "--json-out", dest="json", help="write all results to this file")
    args = ap.parse_args()
    if args.warmup < 1 or args.steps < 1:
        ap.error("--warmup and --steps must be at least 1")
    try:
        cases = build_cases(args)
    except ValueError as e:
        ap.error(str(e))

    start = time.perf_counter()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    torch, torch_why = None, ""
    try:
        import torch  # noqa: F811
        if args.device == "cuda" and not torch.cuda.is_available():
            torch, torch_why = None, "torch.cuda.is_available() is False"
    except Exception as e:  # noqa: BLE001 - any import failure means "no PyTorch here"
        torch, torch_why = None, f"cannot import torch: {e}"

    rows = [(c, {"engine": NOT_REQUESTED, "torch_eager": NOT_REQUESTED,
                 "torch_compile": NOT_REQUESTED}) for c in cases]
    # Measurement plan: engine and eager per case first, torch.compile last.
    plan = []
    for c, r in rows:
        plan.append((c, r, "engine"))
        if "eager" in c.modes:
            plan.append((c, r, "torch_eager"))
    plan += [(c, r, "torch_compile") for c, r in rows if "compile" in c.modes]

    interrupted = None
    try:
        for case, r, side in plan:
            elapsed = time.perf_counter() - start
            need = args.compile_reserve if side == "torch_compile" else 0
            if args.time_budget and elapsed + need > args.time_budget:
                r[side] = result("skipped", f"time budget {args.time_budget:.0f} s")
                continue
            if side == "engine":
                r[side] = (engine_bench(args, case) if args.engine_bench
                           else result("n/a", "no --engine-bench"))
            elif torch is None:
                r[side] = result("n/a", torch_why)
            else:
                r[side] = torch_bench_safe(torch, args, case, side.split("_")[1])
            s = r[side]
            print(f"[{time.perf_counter() - start:6.1f} s] {case.label()} {side}: "
                  f"{throughput_cell(s)}" + (f" ({s['reason']})" if s["status"] == "error" else ""),
                  flush=True)
    except Interrupted as e:
        interrupted = str(e)
        for case, r, side in plan:
            if r[side] is NOT_REQUESTED:
                r[side] = result("skipped", f"interrupted by {interrupted}")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)

    meta = {"device": args.device, "warmup": args.warmup, "steps": args.steps,
            "classes": args.classes, "autotune": args.autotune,
            "elapsed_s": time.perf_counter() - start, "interrupted": interrupted}
    if torch is not None:
        meta["torch"] = torch.__version__
        if args.device == "cuda":
            meta["gpu"] = torch.cuda.get_device_name(0)
            meta["cudnn"] = torch.backends.cudnn.version()
    print()
    print("==== engine vs PyTorch: training step throughput ====")
    where = meta.get("gpu", "CPU" if args.device == "cpu" else "?")
    print(f"PyTorch {meta.get('torch', f'not measured ({torch_why})')} on {where}; "
          f"{args.warmup} warm-up + {args.steps} timed steps per measurement; "
          f"cuDNN {'autotune' if args.autotune else 'heuristics'} on both sides")
    print("step = zero_grad + forward + cross-entropy + backward + SGD(lr 0.1, momentum 0.9, "
          "wd 5e-4 except BN/bias); synthetic data on the device")
    print("fp32 = TF32 off; tf32 = fp32 with TF32 tensor cores; bf16/fp16 = torch.autocast "
          "(fp16 with GradScaler); CL = channels_last; peak = max allocated over the case")
    print()
    print_table(rows)
    print_notes(rows)
    if interrupted:
        print(f"interrupted by {interrupted} after {meta['elapsed_s']:.0f} s")
    sys.stdout.flush()  # the table is out even if a hung compile worker gets us killed next
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "cases": [
                {"case": c.spec(), "label": c.label(), "model": c.model, "size": c.size,
                 "batch": c.batch, "precision": c.precision, "format": c.fmt,
                 "modes": list(c.modes), **r,
                 "engine_over_eager": ratio(r["engine"], r["torch_eager"]),
                 "engine_over_compile": ratio(r["engine"], r["torch_compile"])}
                for c, r in rows]}, f, indent=1)
    if interrupted:
        return 2
    failed = any(r[side]["status"] == "error" for _, r in rows for side in r)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
