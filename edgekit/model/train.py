"""`edgekit train EXAMPLE`: train an example model and save model, data splits and metrics."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgekit import __version__
from edgekit.data import atomic_path, output_dir, save_dataset
from edgekit.examples import get_example
from edgekit.model import metrics
from edgekit.model.evaluate import run_keras
from edgekit.model.keras_io import import_tensorflow
from edgekit.model.vocab import VOCAB_FILE, Vocabulary

MODEL_FILE = "model.keras"
DATA_FILE = "data.npz"
METRICS_FILE = "train.json"


@dataclass
class TrainResult:
    """What `edgekit train` records in train.json: example, float test metric, run settings, files written."""

    example: str
    task: str
    metric: str
    float_test: float
    epochs: int
    seed: int
    train_seconds: float
    params: int
    model: str
    data: str
    edgekit_version: str

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict (the content of train.json)."""
        return asdict(self)


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` as UTF-8 (one seam, so tests can make the last write fail)."""
    path.write_text(text, encoding="utf-8")


def train_example(name: str, out_dir: Path, *, epochs: int | None = None, seed: int = 0) -> TrainResult:
    """Make the example's data, train its model and write model.keras, data.npz, train.json.

    `out_dir` is created only once there is something to write; when writing fails, the
    files and directories this call created are removed.
    """
    example = get_example(name)
    tf = import_tensorflow()
    import keras

    # Same seed, same data, same weights: seeded RNGs and deterministic kernels.
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    data = example.make_data(seed)
    epochs = example.epochs if epochs is None else epochs
    started = time.perf_counter()
    model = example.train_model(data, epochs, seed)
    seconds = time.perf_counter() - started

    x_test, y_test = data["x_test"], data["y_test"]
    value = metrics.task_metric(example.task, x_test, y_test, run_keras(model, x_test).values)
    result = TrainResult(
        example=name, task=example.task, metric=metrics.METRIC_OF_TASK[example.task],
        float_test=value, epochs=epochs, seed=seed, train_seconds=round(seconds, 2),
        params=int(model.count_params()), model=str(out_dir / MODEL_FILE), data=str(out_dir / DATA_FILE),
        edgekit_version=__version__,
    )
    # All three are written to temporary files before any is renamed into place, so a failure
    # leaves an earlier run's model, data and metrics whole and matching each other.
    with (output_dir(out_dir, (DATA_FILE, MODEL_FILE, METRICS_FILE)),
          atomic_path(out_dir / DATA_FILE) as data_tmp,
          atomic_path(out_dir / MODEL_FILE, suffix=".keras") as model_tmp,   # Keras wants the suffix
          atomic_path(out_dir / METRICS_FILE) as metrics_tmp):
        save_dataset(data_tmp, data)
        model.save(model_tmp)
        write_text(metrics_tmp, json.dumps(result.to_dict(), indent=2) + "\n")
    if "vocab" in data:  # token data: its vocabulary beside the model, for `edgekit complete`
        tokenizer = str(data["tokenizer"]) if "tokenizer" in data else ""   # a subword vocabulary's
        Vocabulary(tuple(str(w) for w in data["vocab"]), tokenizer).save(out_dir / VOCAB_FILE)
    return result
