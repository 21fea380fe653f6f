"""``n2n-tf export``'s job: a model file to every deployable format, checked on a dataset."""

from __future__ import annotations

import dataclasses

from n2n_tf.config import load_config, with_preprocess
from n2n_tf.io.adapt import adapt_input, strip_head
from n2n_tf.io.export import export, representative
from n2n_tf.io.load import load_model
from n2n_tf.jobs.preamble import begin, load_data, prepare


def export_file(
    model_path,
    formats,
    out,
    dataset,
    config_path,
    overrides,
    safe_mode=True,
    preprocess: str | None = None,
    force: bool = False,
    bake_preprocessing: bool = True,
) -> tuple[dict, object]:
    """Loads a model, exports ``formats`` to ``out``, checks them on ``dataset``'s val split.

    With a dataset the model is checked first like a teacher (``jobs.preamble``:
    preprocessing resolved, accuracy above the floor unless ``force``) and, with
    ``bake_preprocessing``, every artifact takes raw pixels (0..255).

    Returns:
        ``(report, check)``: per-format figures and the ``TeacherCheck`` (or None).

    Raises:
        ValueError: unreadable model, int8 without a dataset, or mismatched shapes.
    """
    config = with_preprocess(load_config(config_path, list(overrides)), preprocess)
    begin(config)
    model = load_model(model_path, safe_mode=safe_mode)
    if dataset is None and "tflite-int8" in formats:
        raise ValueError(
            "Full-integer int8 export needs --dataset for calibration data. "
            f"Received: formats={formats}"
        )
    if dataset is None:
        return export(model, out, formats), None
    data = load_data(
        dataclasses.replace(config, data=dataclasses.replace(config.data, dataset=dataset))
    )
    prepared = prepare(strip_head(model)[0], data, config, force=force)
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
    return report, prepared.check
