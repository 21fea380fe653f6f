"""User-facing jobs, over the preamble they share (``jobs.preamble``: threads and seeds,
data, the teacher fitted to the data, preprocessing chosen, the teacher checked).

One module per job: ``compress``, ``distill``, ``export``, ``inspect``,
``train_teacher``, ``report``. The CLI parses options into a config (``load_config``),
calls one job and prints its result; it imports nothing else of the library. Names
are imported lazily so that ``n2n-tf --help`` stays fast.
"""

from __future__ import annotations

from n2n_tf.lazy import lazy_getattr

_LAZY = {
    "load_config": "n2n_tf.config",
    "EXPORT_FORMATS": "n2n_tf.types",
    "METHOD_NAMES": ("n2n_tf.search.baselines", "method_names"),
    "Prepared": "n2n_tf.jobs.preamble",
    "TeacherCheck": "n2n_tf.jobs.preamble",
    "prepare": "n2n_tf.jobs.preamble",
    "teacher_floor": "n2n_tf.jobs.preamble",
}

__all__ = list(_LAZY)


__getattr__ = lazy_getattr("n2n_tf.jobs", _LAZY)
