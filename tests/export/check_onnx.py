"""Checks an exported ONNX model with ONNX's checker and ONNX Runtime (run by onnx_runtime_test).

  check_onnx.py MODEL --input IN.f32 --shape N,C,H,W --expected LOGITS.f32 --metadata META.json
                [--batches 1,7] [--tol 1e-4] [--softmax] [--static] [--folded]

IN/LOGITS are raw little-endian float32 (our eval-mode input and logits). Prints one JSON line
with the measured differences; exits 1 with the reasons when a check fails.
"""
import argparse
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--input", required=True)
    ap.add_argument("--shape", required=True)
    ap.add_argument("--expected", required=True)
    ap.add_argument("--metadata", required=True)
    ap.add_argument("--batches", default="1,7")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--softmax", action="store_true", help="expect a `probabilities` output")
    ap.add_argument("--static", action="store_true", help="expect a fixed batch of 1")
    ap.add_argument("--folded", action="store_true", help="expect no BatchNormalization node")
    a = ap.parse_args()

    failures = []
    report = {}
    model = onnx.load(a.model)
    onnx.checker.check_model(model, full_check=True)  # raises on an invalid model

    # Metadata: every expected key with the expected value (JSON values compared parsed).
    props = {p.key: p.value for p in model.metadata_props}
    for key, want in json.load(open(a.metadata)).items():
        if key not in props:
            failures.append(f"metadata key {key!r} missing (have {sorted(props)})")
            continue
        got = props[key]
        try:
            got = json.loads(got)
        except ValueError:
            pass
        if got != want:
            failures.append(f"metadata {key!r}: {got!r} != {want!r}")

    ops = [n.op_type for n in model.graph.node]
    report["nodes"] = len(ops)
    report["batch_norm_nodes"] = ops.count("BatchNormalization")
    if a.folded and "BatchNormalization" in ops:
        failures.append(f"--folded: {ops.count('BatchNormalization')} BatchNormalization nodes left")

    shape = [int(x) for x in a.shape.split(",")]
    x = np.fromfile(a.input, dtype="<f4").reshape(shape)
    want = np.fromfile(a.expected, dtype="<f4").reshape(shape[0], -1)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    outputs = [o.name for o in sess.get_outputs()]
    expected_outputs = ["logits", "probabilities"] if a.softmax else ["logits"]
    if outputs != expected_outputs:
        failures.append(f"outputs {outputs} != {expected_outputs}")
    batch_dim = sess.get_inputs()[0].shape[0]
    if a.static and batch_dim != 1:
        failures.append(f"--static: the input's batch dimension is {batch_dim!r}, not 1")
    if not a.static and isinstance(batch_dim, int):
        failures.append(f"dynamic batch expected, the input's batch dimension is {batch_dim}")

    for b in [int(v) for v in a.batches.split(",")]:
        got, probs = [], []
        for start in range(0, shape[0], b):
            res = sess.run(None, {"input": x[start:start + b]})
            got.append(res[0])
            if a.softmax:
                probs.append(res[1])
        got = np.concatenate(got)
        diff = float(np.max(np.abs(got - want)))
        report[f"max_abs_batch_{b}"] = diff
        if not diff <= a.tol:
            failures.append(f"batch {b}: max abs difference {diff:.3g} > {a.tol:g}")
        if a.softmax:
            p = np.concatenate(probs)
            e = np.exp(want - want.max(axis=1, keepdims=True))
            pdiff = float(np.max(np.abs(p - e / e.sum(axis=1, keepdims=True))))
            report[f"probabilities_max_abs_batch_{b}"] = pdiff
            if not pdiff <= 1e-5:
                failures.append(f"batch {b}: probabilities differ from softmax(logits) by {pdiff:.3g}")

    if a.static:  # a fixed-batch model must refuse another batch size
        try:
            sess.run(None, {"input": x[:7]})
            failures.append("--static: the model accepted a batch of 7")
        except Exception:  # ONNX Runtime raises its own error types
            report["batch_7_rejected"] = True

    report["logit_range"] = [float(want.min()), float(want.max())]
    print(json.dumps(report))
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
