"""``n2n-tf export``'s job: a model file to every deployable format, checked on a dataset."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from n2n_tf.config import Config, load_config, with_preprocess
from n2n_tf.io.adapt import adapt_input, strip_head
from n2n_tf.io.export import export, representative
from n2n_tf.io.load import load_model
from n2n_tf.jobs.preamble import begin, load_data, prepare


@dataclass
class ExportRequest:
    """Export the model file ``model`` to ``formats`` in ``out``.

    With a ``dataset`` the model is checked first like a teacher (``jobs.preamble``:
    preprocessing resolved, accuracy above the floor unless ``force``) and, with
    ``bake_preprocessing``, every artifact takes raw pixels (0..255).
    """

    model: str
    formats: tuple
    out: str
    dataset: str | None = None
    config: Config | None = None  # default: the built-in defaults
    safe_mode: bool = True
    preprocess: str | None = None
    force: bool = False
    bake_preprocessing: bool = True


@dataclass
class ExportResult:
    """Per-format figures (``io.export``) and the ``TeacherCheck`` (None without a dataset)."""

    report: dict
    check: object


def run(request: ExportRequest) -> ExportResult:
    """Loads a model, exports it, checks every artifact on the dataset's val split.

    Raises:
        ValueError: unreadable model, int8 without a dataset, or mismatched shapes.
    """
    r = request
    formats, out, dataset, bake_preprocessing = r.formats, r.out, r.dataset, r.bake_preprocessing
    config = with_preprocess(r.config or load_config(None), r.preprocess)
    begin(config)
    model = load_model(r.model, safe_mode=r.safe_mode)
    if dataset is None and "tflite-int8" in formats:
        raise ValueError(
            "Full-integer int8 export needs --dataset for calibration data. "
            f"Received: formats={formats}"
        )
    if dataset is None:
        return ExportResult(export(model, out, formats), None)
    data = load_data(
        dataclasses.replace(config, data=dataclasses.replace(config.data, dataset=dataset))
    )
    prepared = prepare(strip_head(model)[0], data, config, force=r.force)
    data = prepared.data
    model = adapt_input(model, data.info.input_shape)
    report = export(
        model,
        out,
        formats,
        representative=representative(data, raw=bake_preprocessing),
        validation=data.raw_batches("val") if bake_preprocessing else data.val,
        preprocessing=data.preprocessing if bake_preprocessing else None,
    )
    return ExportResult(report, prepared.check)
