"""What the package ships for type checkers: py.typed and the stubs nanobind.stubgen made."""
from __future__ import annotations

import ast
from pathlib import Path

import trainer_engine as te


def test_py_typed_and_stubs_ship_with_the_module():
    package = Path(te.__file__).parent
    assert (package / "py.typed").is_file()
    stub = package / "_core.pyi"
    assert stub.is_file(), "the _core_stub target (nanobind.stubgen) did not run"
    classes = {n.name for n in ast.parse(stub.read_text()).body if isinstance(n, ast.ClassDef)}
    assert {"Loader", "Batch", "Model", "Config", "Prediction"} <= classes
    if hasattr(te, "DeviceArray"):  # the CUDA backend is built
        assert "DeviceArray" in classes
