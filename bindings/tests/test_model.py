"""load(): predict (files and arrays) against `trainer predict --json`, state_dict, info."""
from __future__ import annotations

import json
import struct
import subprocess

import numpy as np
import pytest

import trainer_engine as te
from conftest import CLASS_NAMES


def read_safetensors(path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        b, e = h["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + b:8 + n + e], dtypes[h["dtype"]]).reshape(h["shape"])
    return out


def test_predict_files_equals_cli_json(cli_run, trainer_cli, test_images):
    paths, _ = test_images
    model = te.load(cli_run)
    assert model.class_names == CLASS_NAMES and model.input_shape == [1, 28, 28]
    pred = model.predict(paths)
    assert pred.probabilities.shape == (len(paths), 10) and pred.probabilities.dtype == np.float32
    np.testing.assert_allclose(pred.probabilities.sum(axis=1), 1, rtol=1e-5)
    out = subprocess.run([trainer_cli, "predict", "--checkpoint", str(cli_run), "--json", "--top", "10",
                          *map(str, paths)], check=True, capture_output=True, text=True).stdout
    for row, cli in zip(pred.probabilities, json.loads(out)):
        assert cli["class"] == CLASS_NAMES[int(row.argmax())]
        for t in cli["top"]:
            assert row[t["index"]] == pytest.approx(t["probability"], rel=1e-6, abs=1e-9)
    assert pred.classes[0] == json.loads(out)[0]["class"]


def test_predict_arrays_match_files(cli_run, test_images):
    paths, pixels = test_images
    model = te.load(cli_run / "checkpoints" / "best.safetensors")
    from_files = model.predict(paths).probabilities
    np.testing.assert_array_equal(model.predict(pixels[..., None]).probabilities, from_files)  # (N, H, W, 1)
    # one image alone: another batch size, so GEMM sums may round differently
    np.testing.assert_allclose(model.predict(pixels[0]).probabilities, from_files[:1], atol=1e-6)  # (H, W)
    normalised = ((pixels.astype(np.float32) / 255 - 0.286) / 0.353)[:, None]                 # (N, 1, H, W)
    np.testing.assert_allclose(model.predict(normalised).probabilities, from_files, atol=1e-5)


def test_predict_bad_inputs(cli_run, tmp_path):
    model = te.load(cli_run)
    with pytest.raises(TypeError, match="uint8"):
        model.predict(np.zeros((2, 28, 28, 1), np.int16))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\), got \(2, 3, 28, 28\)"):
        model.predict(np.ones((2, 3, 28, 28), np.float32))
    with pytest.raises(ValueError, match="channels"):
        model.predict(np.ones((2, 28, 28, 2), np.uint8))
    with pytest.raises(FileNotFoundError, match="missing.png"):
        model.predict([tmp_path / "missing.png"])
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(te.DataError, match="bad.png"):
        model.predict([bad])
    with pytest.raises(TypeError):
        model.predict(3.5)
    with pytest.raises(FileNotFoundError):
        te.load(tmp_path / "no-run")


def test_state_dict_is_the_checkpoint(cli_run):
    model = te.load(cli_run / "checkpoints" / "best.safetensors")
    sd = model.state_dict()
    saved = read_safetensors(cli_run / "checkpoints" / "best.safetensors")
    assert sorted(sd) == sorted(saved)  # the file's header is sorted; sd is in layer order
    assert list(sd)[:2] == ["block1.0.conv.weight", "block1.0.bn.weight"]
    for name, value in saved.items():
        np.testing.assert_array_equal(sd[name], value, err_msg=name)
    sd["block1.0.conv.weight"][...] = 0  # a copy: the model is unchanged
    np.testing.assert_array_equal(model.state_dict()["block1.0.conv.weight"], saved["block1.0.conv.weight"])


def test_info(cli_run):
    info = te.load(cli_run).info(batch=4)
    assert info["input_shape"] == (1, 28, 28) and info["output_shape"] == (4, 10)
    assert info["layers"][-1]["output_shape"] == (4, 10)
    assert sum(l["parameters"] for l in info["layers"]) == info["parameters"] > 0
    assert {m["batch"] for m in info["memory"]} >= {1, 4} and all(m["arena_bytes"] > 0 for m in info["memory"])
