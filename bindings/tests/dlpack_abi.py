"""DLPack capsules read with ctypes, as a consumer (torch.from_dlpack) would: the test of the
device path cannot use torch, whose CUDA build needs a GPU."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass

_api = ctypes.pythonapi
_api.PyCapsule_IsValid.restype = ctypes.c_int
_api.PyCapsule_IsValid.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_GetPointer.restype = ctypes.c_void_p
_api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p), ("flags", ctypes.c_uint64), ("dl_tensor", DLTensor)]


@dataclass
class Exported:
    name: str                    # the capsule's name
    version: tuple[int, int] | None
    data: int                    # device address
    device: tuple[int, int]
    shape: tuple[int, ...]
    dtype: tuple[int, int]       # (DLPack type code, bits)
    strides_null: bool


def read_capsule(capsule) -> Exported:
    for name, managed in ((b"dltensor_versioned", DLManagedTensorVersioned), (b"dltensor", DLManagedTensor)):
        if _api.PyCapsule_IsValid(capsule, name):
            m = managed.from_address(_api.PyCapsule_GetPointer(capsule, name))
            t = m.dl_tensor
            return Exported(name.decode(), (m.major, m.minor) if managed is DLManagedTensorVersioned else None,
                            t.data + t.byte_offset, (t.device.device_type, t.device.device_id),
                            tuple(t.shape[i] for i in range(t.ndim)), (t.dtype.code, t.dtype.bits),
                            not bool(t.strides))
    raise AssertionError("not an unconsumed DLPack capsule")
