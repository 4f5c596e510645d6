"""train(): the same run as `trainer --config`, callbacks, stopping, Ctrl-C, the GIL."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

import trainer_engine as te


def checkpoint_bytes(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run / "checkpoints").iterdir())}


def test_same_checkpoint_bytes_as_cli(cli_run, tiny_config, tmp_path):
    run = te.train(tiny_config, out=tmp_path / "py")
    assert run.run_dir == tmp_path / "py"
    ours, theirs = checkpoint_bytes(run.run_dir), checkpoint_bytes(cli_run)
    assert sorted(ours) == sorted(theirs)
    assert "best.safetensors" in ours
    for name in ours:
        assert ours[name] == theirs[name], name
    assert (run.run_dir / "config.resolved.yaml").read_text() == (cli_run / "config.resolved.yaml").read_text()
    assert [r["epoch"] for r in run.history] == [1, 2]
    assert run.summary["steps"] == 16 and not run.stopped
    assert run.best_weights == run.run_dir / "checkpoints" / "best.safetensors"


def test_callbacks_get_every_step_and_epoch(tiny_config, tmp_path):
    seen: list[dict] = []

    class Epochs:
        def __init__(self):
            self.epochs = []

        def on_epoch(self, record):
            self.epochs.append(record["epoch"])

    epochs = Epochs()
    run = te.train(tiny_config, out=tmp_path / "r", callbacks=[seen.append, epochs],
                   overrides={"train.epochs": 1})
    steps = [r for r in seen if r["type"] == "step"]
    assert [r["step"] for r in steps] == list(range(1, 9))
    assert all(r["loss"] > 0 and 0 <= r["accuracy"] <= 1 and r["lr"] > 0 for r in steps)
    assert [r["type"] for r in seen].count("epoch") == 1
    assert epochs.epochs == [1]
    assert 0 <= run.history[0]["val_accuracy"] <= 1


def test_callback_stop_checkpoints_and_resumes_exactly(cli_run, tiny_config, tmp_path):
    out = tmp_path / "stopped"
    run = te.train(tiny_config, out=out, callbacks=[lambda r: r["type"] == "step" and r["step"] == 3])
    assert run.stopped
    assert (out / "checkpoints" / "epoch-0000-step-0000003.safetensors").exists()
    resumed = te.train(resume=out)
    assert not resumed.stopped and resumed.summary["steps"] == 16
    final = "epoch-0002-step-0000016.safetensors"
    assert (out / "checkpoints" / final).read_bytes() == (cli_run / "checkpoints" / final).read_bytes()


def test_callback_exception_propagates_after_checkpoint(tiny_config, tmp_path):
    class Boom(Exception):
        pass

    def cb(record):
        if record["type"] == "step" and record["step"] == 2:
            raise Boom("from the callback")

    with pytest.raises(Boom, match="from the callback"):
        te.train(tiny_config, out=tmp_path / "boom", callbacks=[cb])
    assert (tmp_path / "boom" / "checkpoints" / "epoch-0000-step-0000002.safetensors").exists()


def test_ctrl_c_checkpoints_then_raises_keyboard_interrupt(tiny_config, tmp_path):
    def cb(record):
        if record["type"] == "step" and record["step"] == 2:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C in a terminal or notebook

    with pytest.raises(KeyboardInterrupt):
        te.train(tiny_config, out=tmp_path / "int", callbacks=[cb])
    assert (tmp_path / "int" / "checkpoints" / "epoch-0000-step-0000002.safetensors").exists()
    # the next run is not stopped by a leftover request
    assert not te.train(tiny_config, out=tmp_path / "after", overrides={"train.epochs": 1}).stopped


def test_ctrl_c_while_the_engine_computes(tiny_config, tmp_path):
    # The SIGINT arrives from another thread at any moment, as Ctrl-C in a terminal does: mostly
    # while train() runs C++ without the GIL (train()'s signal check then raises), sometimes
    # while the record hook runs Python (the hook raises). Both must checkpoint, then raise.
    records: list = []
    def interrupt():
        while sum(r["type"] == "step" for r in list(records)) < 2:
            time.sleep(0.001)
        os.kill(os.getpid(), signal.SIGINT)
    killer = threading.Thread(target=interrupt, daemon=True)
    killer.start()
    with pytest.raises(KeyboardInterrupt):
        te.train(tiny_config, out=tmp_path / "int", callbacks=[records.append])
    killer.join()
    last = max(r["step"] for r in records if r["type"] == "step")
    names = {p.name for p in (tmp_path / "int" / "checkpoints").iterdir()}
    # the step being recorded when the signal was seen (appended or not yet)
    assert names & {f"epoch-0000-step-{s:07d}.safetensors" for s in (last, last + 1)}, names


def test_gil_is_released_while_training(tiny_config, tmp_path):
    # A second thread stamps the time every ~0.2 ms. The gaps between one step callback's end
    # and the next one's start are the engine computing: if it held the GIL there, the thread
    # could stamp only inside the callbacks (at most a stray stamp at a callback's very end),
    # never well inside a gap. Counting stamps inside the gaps does not depend on how long a
    # step takes, so a fast or a loaded machine gives the same verdict.
    stamps = []
    done = threading.Event()

    def count():
        while not done.is_set():
            stamps.append(time.monotonic())
            time.sleep(0.0002)

    gaps = []
    last_exit = None

    def cb(record):
        nonlocal last_exit
        entry = time.monotonic()
        if record["type"] == "step" and last_exit is not None:
            gaps.append((last_exit, entry))
        last_exit = time.monotonic()

    t = threading.Thread(target=count)
    t.start()
    try:
        te.train(tiny_config, out=tmp_path / "gil", callbacks=[cb])
    finally:
        done.set()
        t.join()
    inside = sum(1 for s in stamps if any(a < s < b for a, b in gaps))
    assert len(gaps) >= 8, gaps
    assert inside > len(gaps) + 5, (inside, len(gaps), len(stamps))


def test_missing_data_is_file_not_found(tiny_config, tmp_path):
    with pytest.raises(FileNotFoundError, match="data.train"):
        te.train(tiny_config, out=tmp_path / "x", overrides={"data.train": str(tmp_path / "nope")})
