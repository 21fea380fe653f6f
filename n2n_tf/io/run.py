"""File-level export used by ``n2n-tf export``."""

from __future__ import annotations

import dataclasses

from n2n_tf import data as data_lib
from n2n_tf.config import load_config
from n2n_tf.io.export import export
from n2n_tf.io.load import load_model

CALIBRATION_BATCHES = 4


def representative(data, batches: int = CALIBRATION_BATCHES) -> list:
    """Float32 input batches from the training split (int8 calibration)."""
    return [x.numpy() for x, _ in data.train_plain.take(batches)]


def export_file(model_path, formats, out, dataset, config_path, overrides, safe_mode=True) -> dict:
    """Loads a model, exports ``formats`` to ``out``, checks them on ``dataset``'s val split.

    Raises:
        ValueError: unreadable model, int8 without a dataset, or mismatched shapes.
    """
    model = load_model(model_path, safe_mode=safe_mode)
    config = load_config(config_path, list(overrides))
    if dataset is None and "tflite-int8" in formats:
        raise ValueError(
            "Full-integer int8 export needs --dataset for calibration data. "
            f"Received: formats={formats}"
        )
    data = None
    if dataset is not None:
        data = data_lib.from_config(dataclasses.replace(config.data, dataset=dataset))
        if tuple(model.input_shape[1:]) != tuple(data.info.input_shape):
            raise ValueError(
                f"The model expects inputs of shape {tuple(model.input_shape[1:])} but dataset "
                f"`{dataset}` has {data.info.input_shape}. Received: dataset='{dataset}'"
            )
    return export(
        model,
        out,
        formats,
        representative=representative(data) if data else None,
        validation=data.val if data else None,
    )
