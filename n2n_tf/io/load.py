"""Loading teachers from every Keras format, by content, with clear errors and safe defaults.

Accepted, told apart by their bytes and layout (not their suffix): Keras 3
``.keras`` archives; legacy HDF5 files (whole models, or weights only with the
``model.to_json()`` architecture beside them or given explicitly); tf.keras
SavedModel directories (``keras_metadata.pb``); SavedModel directories exported
by n2n-tf (the ``.keras`` file under ``assets.extra/``); ``zoo:NAME``. Whatever
Keras 3 cannot read directly goes through tf_keras (``io.legacy``).

No Python code stored in a file (Lambda layers) runs unless ``safe_mode=False``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import keras

from n2n_tf.io import formats as F
from n2n_tf.io.adapt import adapt_input, strip_head
from n2n_tf.io.legacy import (
    from_tf_keras,
    load_tf_keras,
    load_weights_only,
    subclassed_error,
)

logger = logging.getLogger(__name__)

SUPPORTED = (
    "Supported: a .keras file, a legacy .h5 (whole model, or weights with its architecture "
    "JSON), a tf.keras SavedModel directory, a SavedModel exported by n2n-tf, or zoo:NAME"
)
EMBEDDED = F.EMBEDDED
MODEL_CLASSES = ("Functional", "Sequential", "Model")


def _refuse_code(path: str) -> ValueError:
    return ValueError(
        f"Cannot load teacher `{path}` safely: it stores Python code (a Lambda layer or a "
        "pickled function) that would run while loading. Pass --unsafe (safe_mode=False) only "
        f"if you trust the file. Received: teacher='{path}'"
    )


def _is_code_error(err: Exception) -> bool:
    text = str(err)
    return "safe_mode" in text or "arbitrary code execution" in text or "Lambda" in text


def _corrupt(path: str, detail: str) -> ValueError:
    return ValueError(
        f"Cannot load teacher `{path}`: the file is corrupt, truncated or not a Keras model "
        f"({detail[:200]}). {SUPPORTED}. Received: teacher='{path}'"
    )


def _checked(model, path: str) -> keras.Model:
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`{path}` holds a {type(model).__name__}, not a model. {SUPPORTED}. "
            f"Received: teacher='{path}'"
        )
    if type(model).__name__ not in MODEL_CLASSES and not getattr(model, "_is_graph_network", 1):
        raise subclassed_error(path, type(model).__name__)
    return model


def _with_suffix(path: Path, suffix: str, tmp: str) -> Path:
    """Keras picks its reader by suffix: a link with the right one for other names."""
    if path.suffix == suffix or (suffix == ".h5" and path.suffix == ".hdf5"):
        return path
    link = Path(tmp) / f"model{suffix}"
    if not link.is_symlink():  # both readers of one file share the link
        link.symlink_to(path.resolve())
    return link


def _load_keras_zip(path: Path, safe_mode: bool) -> keras.Model:
    found = F.keras_zip_class(path)
    if found is not None:
        cls, has_graph = found
        if cls not in MODEL_CLASSES or not has_graph:
            raise subclassed_error(str(path), cls)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            model = keras.saving.load_model(
                _with_suffix(path, ".keras", tmp), safe_mode=safe_mode, compile=False
            )
        except Exception as err:
            if _is_code_error(err):
                raise _refuse_code(str(path)) from err
            raise _corrupt(str(path), f"{type(err).__name__}: {err}") from err
    return _checked(model, str(path))


def _h5_has_code(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            config = f.attrs.get("model_config", "")
    except Exception:  # unreadable: the loaders report it
        return False
    text = config.decode() if isinstance(config, bytes) else str(config)
    return '"Lambda"' in text


def _architecture_beside(path: Path) -> Path | None:
    stems = {path.with_suffix(".json")}
    name = path.name
    for tail in (".weights.h5", ".h5", ".hdf5"):
        if name.endswith(tail):
            stems.add(path.with_name(name[: -len(tail)] + ".json"))
    stems.add(path.with_name(name + ".json"))
    return next((p for p in sorted(stems) if p.is_file()), None)


def _load_hdf5(path: Path, safe_mode: bool, architecture: Path | None) -> keras.Model:
    whole = F.hdf5_has_model(path)
    if whole is None:
        raise _corrupt(str(path), "unreadable HDF5")
    if not whole:
        arch = architecture or _architecture_beside(path)
        if arch is None:
            raise ValueError(
                f"Cannot load teacher `{path}`: it holds weights only (save_weights) and no "
                f"architecture. Put the model.to_json() output beside it as `{path.stem}.json` "
                f"or pass --architecture FILE. Received: teacher='{path}'"
            )
        return load_weights_only(path, arch, safe_mode)
    if safe_mode and _h5_has_code(path):
        raise _refuse_code(str(path))
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            model = keras.saving.load_model(
                _with_suffix(path, ".h5", tmp), safe_mode=safe_mode, compile=False
            )
            return _checked(model, str(path))
        except Exception as err:
            if _is_code_error(err):
                raise _refuse_code(str(path)) from err
            errors.append(f"Keras 3: {type(err).__name__}: {str(err)[:100]}")
        try:  # old configs Keras 3 cannot read: through tf_keras
            legacy = load_tf_keras(_with_suffix(path, ".h5", tmp), safe_mode)
        except Exception as err:
            errors.append(f"tf_keras: {type(err).__name__}: {str(err)[:100]}")
            raise _corrupt(str(path), "; ".join(errors)) from err
    return from_tf_keras(legacy, str(path), safe_mode)


def _load_dir(path: Path, safe_mode: bool) -> keras.Model:
    kind = F.detect(path)
    if kind == F.N2N_SAVEDMODEL:
        return _load_keras_zip(path / EMBEDDED, safe_mode)
    if kind == F.TF_KERAS_SAVEDMODEL:
        try:
            legacy = load_tf_keras(path, safe_mode)
        except Exception as err:
            if _is_code_error(err):
                raise _refuse_code(str(path)) from err
            raise ValueError(
                f"Cannot load tf.keras SavedModel `{path}` ({type(err).__name__}: "
                f"{str(err)[:160]}). Received: teacher='{path}'"
            ) from err
        return from_tf_keras(legacy, str(path), safe_mode)
    if kind == F.SERVING_SAVEDMODEL:
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


def load_model(path: str, safe_mode: bool = True, architecture: str | None = None) -> keras.Model:
    """Loads any supported model file or directory as it is (no head stripping).

    Args:
        path: a file or directory; its format is told from its content.
        safe_mode: refuse files that store Python code.
        architecture: the ``model.to_json()`` file for a weights-only ``.h5``
            (default: a ``.json`` beside it with the same stem).

    Raises:
        ValueError: with what was found and the supported formats; nothing is written.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise ValueError(f"Teacher not found. {SUPPORTED}. Received: teacher='{path}'")
    if architecture is not None and not Path(architecture).is_file():
        raise ValueError(f"Architecture file not found. Received: architecture='{architecture}'")
    if p.is_dir():
        return _load_dir(p, safe_mode)
    kind = F.detect(p)
    if kind == F.KERAS_ZIP:
        return _load_keras_zip(p, safe_mode)
    if kind == F.HDF5:
        return _load_hdf5(p, safe_mode, Path(architecture) if architecture else None)
    if p.suffix.lower() in (".keras", ".h5", ".hdf5"):
        raise _corrupt(str(path), f"its bytes are not a {p.suffix} file's")
    raise ValueError(
        f"Cannot load teacher `{path}`: the file is neither a .keras archive nor HDF5 "
        f"(unknown format, suffix `{p.suffix or 'none'}`). {SUPPORTED}. Received: teacher='{path}'"
    )


def strip_softmax(model: keras.Model) -> keras.Model:
    """Returns a logits model when ``model`` ends in a softmax or a 1-unit sigmoid."""
    return strip_head(model)[0]


def load_teacher(
    path_or_name: str,
    safe_mode: bool = True,
    input_shape: tuple[int, ...] | None = None,
    num_classes: int | None = None,
    architecture: str | None = None,
) -> keras.Model:
    """Loads a teacher from any supported format (see module docstring) as logits.

    Args:
        path_or_name: a file, a directory, or ``zoo:NAME``.
        safe_mode: refuse files that store Python code.
        input_shape: the dataset's image shape: builds ``zoo:NAME``, and a teacher
            whose input holds as many values gets a leading Reshape.
        num_classes: for ``zoo:NAME``, the class count.
        architecture: the architecture JSON of a weights-only ``.h5``.

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
    model = strip_head(load_model(name, safe_mode, architecture))[0]
    if input_shape is not None:
        model = adapt_input(model, tuple(input_shape))
    return model
