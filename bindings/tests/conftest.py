"""Fixtures: a tiny Fashion-MNIST subset (IDX files), a config training a small CNN on it for a
few steps, the `trainer` CLI (TE_TRAINER, set by ctest) and a Python with torch for the
PyTorch checks (Debian's python3-torch lives in /usr/bin/python3, not in the test venv)."""
from __future__ import annotations

import gzip
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest

FASHION = Path("/usr/share/datasets/fashion-mnist")
TRAIN_N, TEST_N = 256, 64
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


def read_idx(path: Path) -> np.ndarray:
    data = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, np.uint8).tobytes())


def write_png(path: Path, gray: np.ndarray) -> None:
    """8-bit grayscale PNG (no Pillow in the test venv)."""
    h, w = gray.shape
    raw = b"".join(b"\0" + gray[r].tobytes() for r in range(h))
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    if not (FASHION / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"{FASHION} missing (Debian package dataset-fashion-mnist)")
    d = tmp_path_factory.mktemp("fashion-tiny")
    for split, n in (("train", TRAIN_N), ("t10k", TEST_N)):
        write_idx(d / f"{split}-images-idx3-ubyte", read_idx(FASHION / f"{split}-images-idx3-ubyte.gz")[:n])
        write_idx(d / f"{split}-labels-idx1-ubyte", read_idx(FASHION / f"{split}-labels-idx1-ubyte.gz")[:n])
    return d


@pytest.fixture(scope="session")
def test_images(tiny_data) -> tuple[list[Path], np.ndarray]:
    """Eight test images as PNG files and the same pixels as an array (N, 28, 28)."""
    pixels = read_idx(tiny_data / "t10k-images-idx3-ubyte")[:8]
    paths = []
    for i, img in enumerate(pixels):
        p = tiny_data / f"img{i}.png"
        write_png(p, img)
        paths.append(p)
    return paths, pixels


def config_text(data: Path, **extra: str) -> str:
    return textwrap.dedent(f"""\
        model:
          preset: simple_cnn
          width: 0.25
          in_channels: 1
        data:
          train: {data}
          val: {data}
          image_size: 28
          batch_size: 32
          eval_batch_size: 64
          workers: 2
          resize_ratio: 1.0
          mean: [0.286]
          std: [0.353]
          class_names: [{", ".join(repr(c) for c in CLASS_NAMES)}]
          augment:
            random_resized_crop: false
            hflip: true
        optim:
          lr: 0.05
        train:
          epochs: 2
          threads: 2
        logging:
          every_steps: 4
          progress: plain
        """)


@pytest.fixture(scope="session")
def tiny_config(tiny_data, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.yaml"
    path.write_text(config_text(tiny_data))
    return path


@pytest.fixture(scope="session")
def trainer_cli() -> str:
    exe = os.environ.get("TE_TRAINER")
    if not exe:
        pytest.skip("TE_TRAINER is unset (ctest sets it to the trainer executable)")
    return exe


@pytest.fixture(scope="session")
def cli_run(trainer_cli, tiny_config, tmp_path_factory) -> Path:
    """The tiny config trained once by `trainer --config`."""
    out = tmp_path_factory.mktemp("runs") / "cli"
    subprocess.run([trainer_cli, "--config", str(tiny_config), "--out", str(out)], check=True,
                   capture_output=True)
    return out


def torch_python() -> str:
    """A Python with torch + torchvision that can import our module (same CPython version)."""
    for exe in (os.environ.get("TE_TORCH_PYTHON"), sys.executable, "/usr/bin/python3"):
        if exe and shutil.which(exe) and subprocess.run(
                [exe, "-c", "import torch, torchvision, numpy"], capture_output=True).returncode == 0:
            return exe
    pytest.skip("no Python with torch and torchvision (Debian: python3-torchvision)")


def run_torch(script: str, *args: str) -> str:
    """Runs `script` under the torch Python with our package importable; returns stdout."""
    import tempfile

    import trainer_engine
    # Only our package, through links: the folder holding it may be a venv's site-packages,
    # whose NumPy 2 must not shadow the torch Python's NumPy 1; and in an editable install the
    # compiled module lies apart from the sources.
    only = Path(tempfile.mkdtemp(prefix="te-pkg-"))
    pkg = only / "trainer_engine"
    pkg.mkdir()
    core = Path(trainer_engine._core.__file__)
    for f in [*Path(trainer_engine.__file__).parent.iterdir(), core]:
        if f.name != "__pycache__" and not (pkg / f.name).exists():
            (pkg / f.name).symlink_to(f)
    env = dict(os.environ, PYTHONPATH=str(only))
    try:
        r = subprocess.run([torch_python(), "-c", textwrap.dedent(script), *args], env=env,
                           capture_output=True, text=True)
    finally:
        shutil.rmtree(only)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout
