"""Loading teachers from every Keras format, with clear errors and safe defaults.

Accepted: ``.keras`` (Keras 3); legacy ``.h5`` (Keras 2 / tf.keras); tf.keras
SavedModel directories (``keras_metadata.pb``, TF <= 2.15), converted to an
equivalent Keras 3 model with the same weights; SavedModel directories exported
by n2n-tf (the ``.keras`` file under ``assets.extra/``); ``zoo:NAME``.

No Python code stored in a file (Lambda layers) runs unless ``safe_mode=False``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import keras

logger = logging.getLogger(__name__)

SUPPORTED = (
    "Supported: .keras, .h5, a tf.keras SavedModel directory, a SavedModel exported by "
    "n2n-tf, or zoo:NAME"
)
EMBEDDED = Path("assets.extra") / "model.keras"


def _refuse_code(path: str, err: Exception) -> ValueError:
    return ValueError(
        f"Cannot load teacher `{path}` safely: it stores Python code (a Lambda layer or a "
        "pickled function) that would run while loading. Pass --unsafe (safe_mode=False) only "
        f"if you trust the file. Received: teacher='{path}'"
    )


def _is_code_error(err: Exception) -> bool:
    text = str(err)
    return "safe_mode" in text or "arbitrary code execution" in text or "Lambda" in text


def _load_file(path: Path, safe_mode: bool) -> keras.Model:
    try:
        model = keras.saving.load_model(path, safe_mode=safe_mode, compile=False)
    except Exception as err:
        if _is_code_error(err):
            raise _refuse_code(str(path), err) from err
        raise ValueError(
            f"Cannot load teacher `{path}`: the file is corrupt, truncated or not a Keras model "
            f"({type(err).__name__}: {str(err)[:160]}). {SUPPORTED}. Received: teacher='{path}'"
        ) from err
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`{path}` holds a {type(model).__name__}, not a model. {SUPPORTED}. "
            f"Received: teacher='{path}'"
        )
    return model


def _from_tf_keras_savedmodel(path: Path, safe_mode: bool) -> keras.Model:
    """tf.keras SavedModel -> tf_keras model -> legacy .h5 -> Keras 3 model."""
    import tf_keras

    try:
        legacy = tf_keras.models.load_model(path, compile=False, safe_mode=safe_mode)
    except Exception as err:
        if _is_code_error(err):
            raise _refuse_code(str(path), err) from err
        raise ValueError(
            f"Cannot load tf.keras SavedModel `{path}` ({type(err).__name__}: "
            f"{str(err)[:160]}). Received: teacher='{path}'"
        ) from err
    if not getattr(legacy, "_is_graph_network", False):
        raise ValueError(
            f"`{path}` holds a subclassed tf.keras model, which has no layer graph to convert. "
            f"Build the model functionally or as Sequential. Received: teacher='{path}'"
        )
    with tempfile.TemporaryDirectory() as tmp:
        h5 = Path(tmp) / "model.h5"
        legacy.save(h5, save_format="h5")
        model = _load_file(h5, safe_mode)
    logger.info("Converted tf.keras SavedModel %s to a Keras 3 model", path)
    return model


def _load_dir(path: Path, safe_mode: bool) -> keras.Model:
    if (path / EMBEDDED).is_file():
        return _load_file(path / EMBEDDED, safe_mode)
    if (path / "keras_metadata.pb").is_file():
        return _from_tf_keras_savedmodel(path, safe_mode)
    if (path / "saved_model.pb").is_file():
        raise ValueError(
            f"Cannot load teacher `{path}`: it is a SavedModel without Keras metadata (only "
            f"serving signatures), so its layers cannot be recovered. {SUPPORTED}. "
            f"Received: teacher='{path}'"
        )
    found = sorted(p.name for p in path.iterdir())[:5]
    raise ValueError(
        f"Cannot load teacher `{path}`: the directory holds no model (found: "
        f"{', '.join(found) or 'nothing'}). {SUPPORTED}. Received: teacher='{path}'"
    )


def strip_softmax(model: keras.Model) -> keras.Model:
    """Returns a logits model when ``model`` ends in a softmax (n2n-tf works on logits)."""
    last = model.layers[-1]
    config = last.get_config()
    is_dense_softmax = config.get("activation") == "softmax" and "units" in config
    is_softmax_layer = isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and config.get("activation") == "softmax"
    )
    if not (is_dense_softmax or is_softmax_layer) or len(model.outputs) != 1:
        return model
    if is_softmax_layer:
        logits = keras.Model(model.inputs, last.input, name=model.name)
    else:
        full = model.get_config()
        full["layers"][-1]["config"]["activation"] = "linear"
        logits = keras.Model.from_config(full)
        logits.set_weights(model.get_weights())
    logger.info("Teacher `%s` ends in a softmax; n2n-tf uses its logits instead", model.name)
    return logits


def load_teacher(
    path_or_name: str,
    safe_mode: bool = True,
    input_shape: tuple[int, ...] | None = None,
    num_classes: int | None = None,
) -> keras.Model:
    """Loads a teacher from any supported format (see module docstring) as logits.

    Args:
        path_or_name: a file, a directory, or ``zoo:NAME``.
        safe_mode: refuse files that store Python code.
        input_shape: for ``zoo:NAME``, the input shape.
        num_classes: for ``zoo:NAME``, the class count.

    Raises:
        ValueError: with what was found and the supported formats.
    """
    name = str(path_or_name)
    if name.startswith("zoo:"):
        if input_shape is None or num_classes is None:
            raise ValueError(
                f"A zoo teacher needs the dataset's input shape and classes. Received: "
                f"teacher='{name}'"
            )
        from n2n_tf import models

        return models.build(name[4:], input_shape, num_classes)
    path = Path(name).expanduser()
    if not path.exists():
        raise ValueError(f"Teacher not found. {SUPPORTED}. Received: teacher='{name}'")
    if path.is_dir():
        model = _load_dir(path, safe_mode)
    elif path.suffix in (".keras", ".h5", ".hdf5"):
        model = _load_file(path, safe_mode)
    else:
        raise ValueError(
            f"Cannot load teacher `{name}`: unknown format `{path.suffix or path.name}`. "
            f"{SUPPORTED}. Received: teacher='{name}'"
        )
    return strip_softmax(model)


def load_model(path: str, safe_mode: bool = True) -> keras.Model:
    """Loads any supported model file or directory as it is (no softmax stripping)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ValueError(f"Model not found. {SUPPORTED}. Received: model='{path}'")
    if p.is_dir():
        return _load_dir(p, safe_mode)
    return _load_file(p, safe_mode)
