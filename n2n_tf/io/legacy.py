"""tf.keras (Keras 2) models into Keras 3: the one conversion path.

Legacy ``.h5`` files that Keras 3 cannot read (old configs: no InputLayer,
``batch_input_shape``, initializers carrying ``dtype``, ...), tf.keras SavedModel
directories and legacy weights-only files all go through ``from_tf_keras``:
tf_keras reads the model, a Sequential becomes functional, tf_keras writes it
as a current ``.h5`` and Keras 3 reads that back with the same weights.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import tempfile
from pathlib import Path

import keras

logger = logging.getLogger(__name__)

SUBCLASSED = (
    "holds a subclassed model (class `{cls}`), which has no layer graph for surgery. Save it "
    "as a functional (keras.Input -> layers -> keras.Model) or Sequential model"
)


def subclassed_error(path: str, cls: str) -> ValueError:
    return ValueError(
        f"Cannot load teacher `{path}`: it {SUBCLASSED.format(cls=cls)}. Received: teacher='{path}'"
    )


def from_tf_keras(legacy, path: str, safe_mode: bool) -> keras.Model:
    """A tf_keras model -> an equivalent Keras 3 model with the same weights."""
    import tf_keras

    if isinstance(legacy, tf_keras.Sequential):
        if not legacy.built or not legacy.inputs:
            raise ValueError(
                f"Cannot load teacher `{path}`: its Sequential model has no input shape. "
                f"Received: teacher='{path}'"
            )
        legacy = tf_keras.Model(legacy.inputs, legacy.outputs, name=legacy.name)
    elif not getattr(legacy, "_is_graph_network", False):
        raise subclassed_error(path, type(legacy).__name__)
    with tempfile.TemporaryDirectory() as tmp:
        h5 = Path(tmp) / "model.h5"
        legacy.save(h5, save_format="h5")
        model = _load_dropping_unknown_keys(h5, path, safe_mode)
    logger.info("Converted the tf.keras model in %s to Keras 3", path)
    return model


_UNKNOWN = re.compile(r"Unrecognized keyword arguments passed to (\w+): (\{.*?\})")


def _load_dropping_unknown_keys(h5: Path, path: str, safe_mode: bool, tries: int = 20):
    """Keras 3 reads the .h5; config keys it no longer knows (e.g. ``groups`` of a tf.keras
    DepthwiseConv2D) are dropped from that layer class's configs, one class per try."""
    import h5py

    for _ in range(tries):
        try:
            return keras.saving.load_model(h5, safe_mode=safe_mode, compile=False)
        except Exception as err:  # Keras wraps deserialization errors in several types
            found = _UNKNOWN.search(str(err))
            if not found:
                raise ValueError(
                    f"Cannot convert the tf.keras model in `{path}` to Keras 3 "
                    f"({type(err).__name__}: {str(err).splitlines()[0][:200]}). "
                    f"Received: teacher='{path}'"
                ) from err
            cls, keys = found.group(1), set(ast.literal_eval(found.group(2)))
            with h5py.File(h5, "r+") as f:
                config = json.loads(f.attrs["model_config"])
                for entry in config["config"]["layers"]:
                    if entry.get("class_name") == cls:
                        for key in keys:
                            entry["config"].pop(key, None)
                f.attrs["model_config"] = json.dumps(config)
            logger.info("Dropped %s from every %s config (unknown to Keras 3)", sorted(keys), cls)
    raise ValueError(
        f"Cannot convert the tf.keras model in `{path}` to Keras 3: too many unknown config "
        f"keys. Received: teacher='{path}'"
    )


def load_tf_keras(path: Path, safe_mode: bool):
    """Reads a legacy .h5 file or tf.keras SavedModel directory with tf_keras."""
    import tf_keras

    return tf_keras.models.load_model(str(path), compile=False, safe_mode=safe_mode)


def model_from_json(text: str, path: str):
    """Keras 3 first, then tf_keras: returns ``(model, is_legacy)``."""
    errors = []
    try:
        return keras.models.model_from_json(text), False
    except Exception as err:  # any failure means "try the legacy reader"
        errors.append(f"Keras 3: {type(err).__name__}: {str(err)[:120]}")
    try:
        import tf_keras

        return tf_keras.models.model_from_json(text), True
    except Exception as err:
        errors.append(f"tf_keras: {type(err).__name__}: {str(err)[:120]}")
    raise ValueError(
        f"Cannot read the architecture JSON `{path}` ({'; '.join(errors)}). "
        f"Received: architecture='{path}'"
    )


def load_weights_only(weights: Path, architecture: Path, safe_mode: bool) -> keras.Model:
    """A weights-only .h5 plus its ``model.to_json()`` architecture -> a Keras 3 model."""
    text = architecture.read_text()
    if safe_mode and '"Lambda"' in text:
        raise ValueError(
            f"Cannot load teacher `{weights}` safely: its architecture `{architecture}` has a "
            "Lambda layer (stored Python code). Pass --unsafe (safe_mode=False) only if you "
            f"trust the files. Received: teacher='{weights}'"
        )
    model, is_legacy = model_from_json(text, str(architecture))
    # Keras 3 chooses the weights reader by suffix: a legacy file is read as .h5, also
    # under a Keras 3 architecture when the new-format reader refuses it.
    suffixes = (".h5",) if is_legacy else (".weights.h5", ".h5")
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, suffix in enumerate(suffixes):
            link = Path(tmp) / f"model{i}{suffix}"
            link.symlink_to(weights.resolve())
            try:
                model.load_weights(str(link))
                break
            except Exception as err:  # Keras raises many types for mismatched files
                errors.append(err)
        else:
            err = errors[0]
            raise ValueError(
                f"Cannot load the weights `{weights}` into the architecture `{architecture}` "
                f"({type(err).__name__}: {str(err)[:160]}). Received: teacher='{weights}'"
            ) from err
    return from_tf_keras(model, str(weights), safe_mode) if is_legacy else model
