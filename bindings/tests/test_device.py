"""Device-memory batches (Loader(device="cuda")) through DLPack.

Without a GPU the device path runs in trainer_engine._core_emu: the same module built against
the emulated CUDA runtime (kernels/cuda/emu), where device memory, streams and events are the
emulation's. ctest runs this file twice: with immediate streams, and with deferred streams
(python_bindings_deferred_streams), where work waits until an event or a synchronisation makes
it run. What that cannot show: copies overlapping compute (the tests also check that the waits
were issued)."""
from __future__ import annotations

import gc
import importlib
import os

import numpy as np
import pytest

import trainer_engine as te
from dlpack_abi import read_capsule

KDL_CUDA, KDL_INT, KDL_UINT = 2, 0, 1
LEGACY_STREAM, PER_THREAD_STREAM = 1, 2  # cudaStreamLegacy, cudaStreamPerThread


@pytest.fixture(scope="module")
def emu():
    # ctest sets TE_PY_EMU=1 when it built the module: then a failed import is a failure.
    if os.environ.get("TE_PY_EMU") != "1":
        pytest.skip("trainer_engine._core_emu not built (needs the CUDA backend and TE_CUDA_EMULATION)")
    return importlib.import_module("trainer_engine._core_emu")


def batches(loader, n):
    out = []
    for i, b in enumerate(loader):
        if i == n:
            break
        out.append(b)
    return out


def device_bytes(emu, array, stream=-1) -> bytes:
    e = read_capsule(array.__dlpack__(stream=stream, max_version=(1, 0)))
    return emu._device_to_host(e.data, int(np.prod(e.shape)) * e.dtype[1] // 8)


def test_device_batches_hold_the_host_batches_bytes(emu, tiny_data):
    host = batches(te.Loader(tiny_data, 32, 24, seed=5, workers=2), 3)
    dev = batches(emu.Loader(tiny_data, 32, 24, seed=5, workers=2, device="cuda"), 3)
    for h, d in zip(host, dev):
        assert d.images.__dlpack_device__() == (KDL_CUDA, 0)
        assert d.labels.__dlpack_device__() == (KDL_CUDA, 0)
        img = read_capsule(d.images.__dlpack__(stream=emu._create_stream(), max_version=(1, 0)))
        assert img.name == "dltensor_versioned" and img.version == (1, 0)
        assert img.device == (KDL_CUDA, 0) and img.shape == h.images.shape and img.strides_null
        assert img.dtype == (KDL_UINT, 8) and img.data == d.images.data_ptr
        assert device_bytes(emu, d.images) == h.images.tobytes()
        lab = read_capsule(d.labels.__dlpack__(max_version=(1, 0)))
        assert lab.dtype == (KDL_INT, 32) and lab.shape == h.labels.shape
        assert device_bytes(emu, d.labels) == h.labels.tobytes()


def test_consumer_stream_reads_the_uploaded_bytes(emu, tiny_data):
    # With deferred streams (python_bindings_deferred_streams) the upload runs only when
    # something waits for it: reading on the consumer's stream sees the batch only if the
    # export made that stream wait. The loader stays alive, so nothing else drains the streams.
    (host,) = batches(te.Loader(tiny_data, 16, 24, seed=3, workers=1), 1)
    dev_iter = iter(emu.Loader(tiny_data, 16, 24, seed=3, workers=1, device="cuda"))
    d = next(dev_iter)
    stream = emu._create_stream()
    e = read_capsule(d.images.__dlpack__(stream=stream, max_version=(1, 0)))
    got = emu._device_to_host_on_stream(e.data, int(np.prod(e.shape)), stream)
    assert got == host.images.tobytes()


def test_consumer_stream_waits_on_the_upload(emu, tiny_data):
    (b,) = batches(emu.Loader(tiny_data, 16, 24, workers=1, device="cuda:0"), 1)
    stream = emu._create_stream()
    for given, waited in ((stream, stream), (None, LEGACY_STREAM), (1, LEGACY_STREAM), (2, PER_THREAD_STREAM)):
        before = emu._stream_wait_count()
        capsule = b.images.__dlpack__(stream=given)
        assert emu._stream_wait_count() == before + 1
        assert emu._last_stream_wait()[0] == waited
        # Released by the consumer: the engine's compute stream (where the allocator orders
        # reuse) waits for the work the consumer queued on its stream.
        del capsule
        gc.collect()
        assert emu._stream_wait_count() == before + 2
        assert emu._last_stream_wait()[0] not in (waited, 0)
    before = emu._stream_wait_count()
    capsule = b.images.__dlpack__(stream=-1)  # the consumer synchronises itself
    del capsule
    gc.collect()
    assert emu._stream_wait_count() == before
    with pytest.raises(ValueError, match="stream=0"):
        b.images.__dlpack__(stream=0)


def test_dlpack_versions_and_refusals(emu, tiny_data):
    (b,) = batches(emu.Loader(tiny_data, 16, 24, workers=1, device="cuda"), 1)
    assert read_capsule(b.images.__dlpack__()).name == "dltensor"  # a pre-1.0 consumer
    assert read_capsule(b.images.__dlpack__(max_version=(0, 8))).name == "dltensor"
    assert read_capsule(b.images.__dlpack__(max_version=(1, 3))).version == (1, 0)
    assert read_capsule(b.images.__dlpack__(dl_device=(KDL_CUDA, 0))).device == (KDL_CUDA, 0)
    with pytest.raises(BufferError):
        b.images.__dlpack__(dl_device=(1, 0))
    with pytest.raises(BufferError):
        b.images.__dlpack__(copy=True)


def test_capsule_keeps_the_device_buffer_alive(emu, tiny_data):
    loader = emu.Loader(tiny_data, 32, 24, seed=1, workers=2, device="cuda")
    (b,) = batches(loader, 1)
    expected = device_bytes(emu, b.images)
    capsule = b.images.__dlpack__(stream=-1, max_version=(1, 0))
    e = read_capsule(capsule)
    del b, loader
    gc.collect()
    batches(emu.Loader(tiny_data, 32, 24, seed=2, workers=2, device="cuda"), 4)  # reuses freed blocks
    gc.collect()
    held = emu._device_bytes_in_use()
    assert held >= len(expected)
    assert emu._device_to_host(e.data, len(expected)) == expected
    del capsule  # never consumed: its destructor releases the buffer
    gc.collect()
    assert emu._device_bytes_in_use() <= held - len(expected)


def test_cuda_without_a_usable_gpu_raises(tiny_data):
    try:
        loader = te.Loader(tiny_data, 16, 24, workers=1, device="cuda")
    except RuntimeError as e:  # this machine: no GPU, or no CUDA backend in the build
        assert "no usable GPU" in str(e) or "no CUDA backend" in str(e), str(e)
        return
    (b,) = batches(loader, 1)  # a machine with a GPU: the real path
    assert b.images.__dlpack_device__() == (KDL_CUDA, 0)


def test_bad_device_strings(tiny_data):
    for device in ("gpu", "cuda:", "cuda:x", "cuda:-1"):
        with pytest.raises(ValueError, match="cuda:N"):
            te.Loader(tiny_data, 16, 24, device=device)
