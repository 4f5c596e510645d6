"""PyTorch interop (run under the Python that has Debian's torch): DLPack shares the loader's
memory; a resnet18 state_dict loads into torchvision's resnet18 with strict=True and gives the
same outputs."""
from __future__ import annotations

import subprocess

import pytest

import trainer_engine as te
from conftest import run_torch


def test_from_dlpack_shares_the_batch(tiny_data):
    out = run_torch("""
        import sys, numpy as np, torch, trainer_engine as te
        loader = te.Loader(sys.argv[1], 16, 28, workers=2)
        b = next(iter(loader))
        x, y = torch.from_dlpack(b.images), torch.from_dlpack(b.labels)
        assert x.data_ptr() == b.images.__array_interface__["data"][0], "images copied"
        assert y.data_ptr() == b.labels.__array_interface__["data"][0], "labels copied"
        assert x.dtype == torch.uint8 and tuple(x.shape) == (16, 28, 28, 1) and y.dtype == torch.int32
        x[0, 0, 0, 0] = 255 - int(x[0, 0, 0, 0])
        assert int(b.images[0, 0, 0, 0]) == int(x[0, 0, 0, 0])  # one buffer
        del loader, b
        assert int(x.float().sum()) > 0  # still valid after the loader and the batch are gone
        print("ok")
        """, str(tiny_data))
    assert out.strip() == "ok"


@pytest.fixture(scope="module")
def resnet_run(trainer_cli, tiny_data, tmp_path_factory):
    """resnet18 (3 input channels, torchvision's stem) trained for two steps."""
    d = tmp_path_factory.mktemp("resnet")
    (d / "resnet.yaml").write_text(f"""
model: {{preset: resnet18, in_channels: 3}}
data: {{train: {tiny_data}, image_size: 32, batch_size: 128, workers: 2}}
train: {{epochs: 1, threads: 2}}
""")
    out = d / "run"
    subprocess.run([trainer_cli, "--config", str(d / "resnet.yaml"), "--out", str(out)], check=True,
                   capture_output=True)
    return out


def test_resnet18_state_dict_loads_into_torchvision(resnet_run):
    out = run_torch("""
        import sys, numpy as np, torch, torchvision, trainer_engine as te
        model = te.load(sys.argv[1])
        sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in model.state_dict().items()}
        tv = torchvision.models.resnet18(num_classes=10)
        tv.load_state_dict(sd, strict=True)
        tv.eval()
        x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
        ours = model.predict(x).probabilities
        theirs = torch.softmax(tv(torch.from_numpy(x)), 1).detach().numpy()
        assert np.abs(ours - theirs).max() < 1e-4, np.abs(ours - theirs).max()
        print("ok")
        """, str(resnet_run))
    assert out.strip() == "ok"
