"""What a model file or directory holds, told from its bytes and layout, not its suffix."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
EMBEDDED = Path("assets.extra") / "model.keras"

# Kinds returned by ``detect``.
KERAS_ZIP = "keras"  # a Keras 3 .keras archive
HDF5 = "hdf5"  # a legacy .h5 (whole model, or weights only)
N2N_SAVEDMODEL = "n2n_savedmodel"  # a SavedModel exported by n2n-tf (.keras embedded)
TF_KERAS_SAVEDMODEL = "tf_keras_savedmodel"  # a tf.keras SavedModel (keras_metadata.pb)
SERVING_SAVEDMODEL = "serving_savedmodel"  # a SavedModel with serving signatures only
EMPTY_DIR = "empty_dir"
UNKNOWN = "unknown"


def _hdf5_offsets(size: int):
    # HDF5 allows a user block before the superblock: at 0, 512, 1024, 2048, ...
    offset = 0
    while offset < min(size, 1 << 20):
        yield offset
        offset = 512 if offset == 0 else offset * 2


def detect(path: Path) -> str:
    """Returns the kind of model stored at ``path`` (one of this module's constants)."""
    if path.is_dir():
        if (path / EMBEDDED).is_file():
            return N2N_SAVEDMODEL
        if (path / "keras_metadata.pb").is_file():
            return TF_KERAS_SAVEDMODEL
        if (path / "saved_model.pb").is_file():
            return SERVING_SAVEDMODEL
        return EMPTY_DIR if not any(path.iterdir()) else UNKNOWN
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if head.startswith(ZIP_MAGIC):
            return KERAS_ZIP
        for offset in _hdf5_offsets(size):
            f.seek(offset)
            if f.read(8) == HDF5_MAGIC:
                return HDF5
    return UNKNOWN


def hdf5_has_model(path: Path) -> bool | None:
    """True for a whole-model .h5, False for weights only, None when unreadable."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "model_config" in f.attrs
    except Exception:  # h5py raises OSError/KeyError/... for damaged files.
        return None


def keras_zip_class(path: Path) -> tuple[str, bool] | None:
    """``(class name, has a layer graph)`` of the model in a .keras archive, or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except Exception:  # BadZipFile, KeyError, JSONDecodeError, ...: not readable.
        return None
    if not isinstance(config, dict):
        return None
    inner = config.get("config") or {}
    has_graph = isinstance(inner, dict) and "layers" in inner
    return str(config.get("class_name", "?")), has_graph
