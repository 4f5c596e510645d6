"""Loader: batches equal the C++ loader's, one loop is one epoch, memory outlives the loader,
rank/world_size shares, no threads left behind, bad inputs."""
from __future__ import annotations

import gc
import os
import subprocess

import numpy as np
import pytest

import trainer_engine as te
from conftest import TRAIN_N, read_idx


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_batches_equal_the_cpp_loaders(tiny_data, tmp_path):
    exe = os.environ.get("TE_DUMP_BATCHES")
    if not exe:
        pytest.skip("TE_DUMP_BATCHES is unset (ctest sets it)")
    seed, epoch, batches, size = 7, 3, 4, 24
    dump = tmp_path / "cpp.bin"
    subprocess.run([exe, str(tiny_data), "train", "32", str(size), str(seed), str(epoch), "1",
                    str(batches), str(dump)], check=True)
    expected = dump.read_bytes()
    loader = te.Loader(tiny_data, 32, size, seed=seed, workers=2)  # random crops + flips
    loader.set_epoch(epoch)
    got = b""
    for i, b in enumerate(loader):
        if i == batches:
            break
        assert b.epoch == epoch and b.index == i
        got += b.images.tobytes() + b.labels.tobytes()
    assert len(got) == len(expected) and got == expected


def test_one_loop_is_one_epoch(tiny_data):
    labels = read_idx(tiny_data / "train-labels-idx1-ubyte")
    loader = te.Loader(tiny_data, 48, 28, workers=2, seed=1)
    assert len(loader) == 6 and loader.num_samples == TRAIN_N  # 256 = 5 * 48 + 16
    epochs = []
    for _ in range(2):
        batches = [(x.copy(), y.copy()) for x, y in loader]
        assert [len(y) for _, y in batches] == [48] * 5 + [16]
        ys = np.concatenate([y for _, y in batches])
        np.testing.assert_array_equal(np.sort(ys), np.sort(labels))
        epochs.append(ys)
    assert loader.epoch == 2
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled per epoch
    assert len(list(te.Loader(tiny_data, 48, 28, drop_last=True))) == 5


def test_eval_order_and_pixels(tiny_data):
    images = read_idx(tiny_data / "train-images-idx3-ubyte")
    loader = te.Loader(tiny_data, 100, 28, train=False, resize_ratio=1.0)
    got = np.concatenate([b.images[..., 0] for b in loader])
    np.testing.assert_array_equal(got, images)  # no shuffle, no augmentation, 28 px unchanged


def test_rank_shares(tiny_data):
    images = read_idx(tiny_data / "train-images-idx3-ubyte")
    shares = []
    for rank in range(3):
        loader = te.Loader(tiny_data, 64, 28, train=False, resize_ratio=1.0, rank=rank, world_size=3)
        shares.append(np.concatenate([b.images[..., 0] for b in loader]))
        np.testing.assert_array_equal(shares[-1], images[rank::3])
    assert sum(len(s) for s in shares) == TRAIN_N


def test_batches_outlive_the_loader(tiny_data):
    loader = te.Loader(tiny_data, 32, 28, train=False)
    b = next(iter(loader))
    copy = b.images.copy()
    loader.close()
    del loader
    gc.collect()
    np.testing.assert_array_equal(b.images, copy)


def test_no_threads_left_behind(tiny_data):
    before = os_threads()
    loader = te.Loader(tiny_data, 16, 28, workers=3)
    assert os_threads() == before + 3
    for i, _ in enumerate(loader):
        if i == 2:
            break
    del loader, _
    gc.collect()
    assert os_threads() == before
    with te.Loader(tiny_data, 16, 28, workers=2) as l:
        next(iter(l))
    assert l.closed and os_threads() == before
    with pytest.raises(RuntimeError, match="closed"):
        iter(l)


def test_a_new_epoch_supersedes_the_old_iterator(tiny_data):
    loader = te.Loader(tiny_data, 16, 28)
    old = iter(loader)
    next(old)
    new = iter(loader)
    next(new)
    with pytest.raises(RuntimeError, match="earlier epoch"):
        next(old)


def test_bad_arguments(tiny_data, tmp_path):
    with pytest.raises(FileNotFoundError):
        te.Loader(tmp_path / "missing", 16, 28)
    with pytest.raises(te.ConfigError, match="batch_size"):
        te.Loader(tiny_data, 0, 28)
    with pytest.raises(ValueError, match="rank"):
        te.Loader(tiny_data, 16, 28, rank=2, world_size=2)
    with pytest.raises(TypeError):
        te.Loader(tiny_data, "16", 28)
    with pytest.raises(MemoryError, match="out of host memory"):
        next(iter(te.Loader(tiny_data, 64, 2**22, workers=1)))  # 64 images of 2^44 bytes each
    with pytest.raises(te.DataError, match="drop_last"):
        te.Loader(tiny_data, 1000, 28, drop_last=True)


def test_from_config(tiny_config):
    cfg = te.load_config(tiny_config)
    train = te.Loader.from_config(cfg)
    assert len(train) == 8  # drop_last, 256 / 32
    val = te.Loader.from_config(cfg, "val")
    assert sum(len(b.labels) for b in val) == 64  # the t10k split, eval_batch_size 64
