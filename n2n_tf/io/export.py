"""Export a student: .keras, SavedModel (with the .keras embedded), TFLite float,
dynamic-range and full-integer int8; parity and latency of every artifact."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from n2n_tf.atomic import atomic_path
from n2n_tf.io.adapt import prepend
from n2n_tf.io.load import EMBEDDED
from n2n_tf.native_logs import captured_native_output
from n2n_tf.predictions import predicted_class_np
from n2n_tf.types import EXPORT_FORMATS

logger = logging.getLogger(__name__)

FORMATS = EXPORT_FORMATS
CALIBRATION_BATCHES = 4  # training batches the int8 calibrator reads


def representative(data, batches: int = CALIBRATION_BATCHES, raw: bool = False) -> list:
    """Float32 input batches from the training split (int8 calibration).

    ``raw``: the pixels as a deployment feeds them (0..255), for exports that
    carry their preprocessing; otherwise preprocessed as the pipelines do.
    """
    source = data.raw_batches("train") if raw else data.train_plain
    return [x.numpy() for x, _ in source.take(batches)]


def to_tflite(model: keras.Model, mode: str = "float", representative=None) -> bytes:
    """Converts to TFLite with Keras' own LiteRT export: ``float``, ``dynamic`` (int8
    weights) or ``int8`` (full integer, int8 input and output).

    Only TFLite's builtin operations are allowed (Keras' default adds TensorFlow
    ops, which the LiteRT runtime on a phone does not have). The converter's
    native log lines are captured (``--verbose`` shows them).

    Args:
        representative: an iterable of float32 input batches (required for ``int8``).
    """
    ops = tf.lite.OpsSet
    options: dict = {"target_spec": {"supported_ops": [ops.TFLITE_BUILTINS]}}
    if mode in ("dynamic", "int8"):
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if mode == "int8":
        if representative is None:
            raise ValueError("Full-integer TFLite needs representative data. Received: None")

        def gen():
            for batch in representative:
                for row in np.asarray(batch, np.float32):
                    yield [row[None]]

        options.update(
            representative_dataset=gen,
            target_spec={"supported_ops": [ops.TFLITE_BUILTINS_INT8]},
            inference_input_type=tf.int8,
            inference_output_type=tf.int8,
        )
    with tempfile.TemporaryDirectory() as tmp, captured_native_output("converting to TFLite"):
        path = Path(tmp) / "model.tflite"
        model.export(str(path), format="litert", verbose=False, **options)
        return path.read_bytes()


def run_tflite(path: Path, inputs: np.ndarray, runs: int = 200) -> tuple[np.ndarray, float]:
    """Outputs and median single-image latency (ms) with ai-edge-litert (child process)."""
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "in.npy", inputs.astype(np.float32))
        proc = subprocess.run(
            # Run as a plain script: importing the n2n_tf package would import TensorFlow.
            [
                sys.executable,
                str(Path(__file__).with_name("litert_worker.py")),
                str(path),
                str(Path(tmp) / "in.npy"),
                str(Path(tmp) / "out.npy"),
                str(runs),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"Internal error: TFLite run failed: {proc.stderr[-500:]}")
        latency = float(proc.stdout.split("LATENCY_MS")[1].split()[0])
        return np.load(Path(tmp) / "out.npy"), latency


def with_preprocessing(model: keras.Model, preprocessing) -> keras.Model:
    """``model`` taking raw pixels: the preprocessing as leading Keras layers, one flat graph."""
    return prepend(model, preprocessing.layers(), tuple(model.input_shape[1:]), name="n2n")


def export(
    model: keras.Model,
    out_dir: str | Path,
    formats=FORMATS,
    representative=None,
    validation=None,
    latency_runs: int = 200,
    preprocessing=None,
) -> dict:
    """Writes the requested formats and checks each against the Keras model.

    Args:
        model: the student (logits).
        out_dir: where ``model.keras``, ``saved_model/`` and ``*.tflite`` go.
        formats: any of ``FORMATS``.
        representative: float32 input batches from the training split (int8).
        validation: batched ``(x, y)`` for parity and accuracy (default: none).
        latency_runs: timed single-image TFLite invocations.
        preprocessing: a ``data.Preprocessing`` to put in front of the model as
            Keras layers, so every artifact takes raw pixels (0..255); then
            ``representative`` and ``validation`` must hold raw pixels too.

    Returns:
        Per format: path, bytes, and for TFLite top-1 agreement with Keras,
        accuracy, max-abs logit difference and median latency (ms).
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(
            f"Unknown export format(s) {sorted(unknown)}. Supported: {', '.join(FORMATS)}. "
            f"Received: formats={list(formats)}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {}
    if preprocessing is not None:
        model = with_preprocessing(model, preprocessing)
    x_val = y_val = ref = None
    if validation is not None:
        xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in validation], strict=True)
        x_val, y_val = np.concatenate(xs), np.concatenate(ys)
        ref = np.asarray(model.predict(x_val, verbose=0, batch_size=256))
        report["keras"] = {"accuracy": float(np.mean(predicted_class_np(ref) == y_val))}
    if "keras" in formats or "saved_model" in formats:
        with atomic_path(out / "model.keras") as tmp:
            model.save(tmp)
        report.setdefault("keras", {}).update(
            path=str(out / "model.keras"), bytes=(out / "model.keras").stat().st_size
        )
    if "saved_model" in formats:
        with atomic_path(out / "saved_model", directory=True) as tmp:
            model.export(str(tmp), format="tf_saved_model", verbose=False)
            (tmp / EMBEDDED).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(out / "model.keras", tmp / EMBEDDED)
        size = sum(p.stat().st_size for p in (out / "saved_model").rglob("*") if p.is_file())
        report["saved_model"] = {"path": str(out / "saved_model"), "bytes": size}
    for fmt, mode in (("tflite", "float"), ("tflite-dynamic", "dynamic"), ("tflite-int8", "int8")):
        if fmt not in formats:
            continue
        path = out / f"model{'' if mode == 'float' else '_' + mode}.tflite"
        blob = to_tflite(model, mode, representative)
        with atomic_path(path) as tmp:
            tmp.write_bytes(blob)
        entry = {"path": str(path), "bytes": len(blob)}
        if x_val is not None:
            outputs, latency = run_tflite(path, x_val, latency_runs)
            entry.update(
                agreement=float(np.mean(predicted_class_np(outputs) == predicted_class_np(ref))),
                accuracy=float(np.mean(predicted_class_np(outputs) == y_val)),
                max_abs_diff=float(np.abs(outputs - ref).max()),
                latency_ms=latency,
            )
            entry["accuracy_delta"] = entry["accuracy"] - report["keras"]["accuracy"]
        report[fmt] = entry
    return report
