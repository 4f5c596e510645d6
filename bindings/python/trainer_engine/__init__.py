"""trainer_engine: train, evaluate and predict with the trainer engine from Python, and stream
its data loader's batches into PyTorch (or anything that speaks DLPack) without copies.

    import trainer_engine as te
    run = te.train("configs/quickstart.yaml", out="runs/py", overrides={"train.epochs": 1})
    model = te.load(run.run_dir)
    probs = model.predict(["shoe.png"]).probabilities
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

from ._core import (
    Batch,
    Config,
    ConfigError,
    DataError,
    DeviceError,
    EngineError,
    IoError,
    Loader,
    Model,
    Prediction,
    ShapeError,
    TrainingDiverged,
    __version__,
)
from ._core import _load, _train
from . import _core

__all__ = [
    "Batch", "Config", "ConfigError", "DataError", "DeviceError", "EngineError", "IoError",
    "Loader", "Model", "Prediction", "Run", "ShapeError", "TrainingDiverged", "load",
    "load_config", "train", "__version__",
]
if hasattr(_core, "DeviceArray"):  # only with the CUDA backend: Loader(device="cuda") batches
    DeviceArray = _core.DeviceArray
    __all__.append("DeviceArray")

ConfigSource = Union[Config, str, os.PathLike, Mapping[str, Any]]
Overrides = Union[Sequence[str], Mapping[str, Any], None]


def _override_strings(overrides: Overrides) -> list[str]:
    """{"optim.lr": 0.05} or ["optim.lr=0.05"] -> ["optim.lr=0.05"] (values as YAML)."""
    if overrides is None:
        return []
    if isinstance(overrides, str):
        raise TypeError("overrides: expected a list of 'key=value' strings or a dict, got a str")
    if isinstance(overrides, Mapping):
        # JSON is YAML: quoted strings, numbers, lists and booleans survive as themselves.
        return [f"{k}={json.dumps(os.fspath(v) if isinstance(v, os.PathLike) else v)}"
                for k, v in overrides.items()]
    return [str(o) for o in overrides]


def load_config(source: ConfigSource, overrides: Overrides = None) -> Config:
    """A checked config from a YAML file, a dict (the file's structure) or a Config, with
    overrides applied like `--set` (a list of "key.path=value" or a {key.path: value} dict).
    Raises ConfigError (a ValueError) naming the file, line and key."""
    extra = _override_strings(overrides)
    if isinstance(source, Config):
        return source.with_overrides(extra) if extra else source
    if isinstance(source, (str, os.PathLike)):
        return Config.from_file(os.fspath(source), extra)
    if isinstance(source, Mapping):
        return Config.from_dict(dict(source), extra)
    raise TypeError(f"config: expected a path, a dict or a Config, got {type(source).__name__}")


Callback = Callable[[dict], Any]


@dataclass
class Run:
    """What train() returns: the run directory and the per-epoch history (metrics.jsonl's
    epoch records)."""
    run_dir: Path
    history: list[dict] = field(default_factory=list)
    stopped: bool = False          # a callback (or a stop request) ended it early
    summary: dict = field(default_factory=dict)

    @property
    def best_weights(self) -> Path | None:
        w = self.summary.get("best_weights")
        return Path(w) if w else None

    @property
    def last_weights(self) -> Path | None:
        w = self.summary.get("last_weights")
        return Path(w) if w else None


def _dispatch(callbacks: Sequence[Any], history: list[dict]) -> Callable[[dict], bool]:
    """One hook for the engine: calls each callback's on_step/on_epoch (or the callback itself
    with every record); any truthy return stops the run after a checkpoint."""
    def hook(record: dict) -> bool:
        kind = record.get("type")
        if kind == "epoch":
            history.append(record)
        stop = False
        for cb in callbacks:
            method = getattr(cb, "on_step" if kind == "step" else "on_epoch", None)
            if method is not None:
                stop = bool(method(record)) or stop
            elif callable(cb) and not hasattr(cb, "on_step") and not hasattr(cb, "on_epoch"):
                stop = bool(cb(record)) or stop
        return stop
    return hook


def train(config: ConfigSource | None = None, out: str | os.PathLike | None = None,
          callbacks: Iterable[Any] = (), *, overrides: Overrides = None,
          device: str | None = None, resume: str | os.PathLike | None = None) -> Run:
    """Trains like `trainer --config` (or `trainer --resume DIR` with resume=DIR) and returns
    the Run. `out` is the run directory (default runs/<config name>-<time>). Callbacks are
    callables taking each record dict ({"type": "step"|"epoch", ...}) or objects with
    on_step(record) / on_epoch(record); returning True stops the run after a checkpoint.
    The engine runs with the GIL released; Ctrl-C writes the checkpoint SIGINT would and then
    raises KeyboardInterrupt."""
    history: list[dict] = []
    hook = _dispatch(list(callbacks), history)
    if resume is not None:
        summary = _train(None, os.fspath(resume), hook, device or "", True,
                         _override_strings(overrides))
    else:
        if config is None:
            raise TypeError("train: a config (path, dict or Config) is needed unless resume= is given")
        cfg = load_config(config, overrides)
        summary = _train(cfg, os.fspath(out) if out is not None else "", hook, device or "", False, [])
    return Run(run_dir=Path(summary["run_dir"]), history=history, stopped=summary["stopped"],
               summary=summary)


def load(path: str | os.PathLike, device: str = "cpu") -> Model:
    """A trained model from a weights file or a run directory (its best weights, else its
    latest checkpoint), like `trainer predict --checkpoint`."""
    return _load(os.fspath(path), device)
