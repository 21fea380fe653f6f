"""Run directory -> report (JSON, Markdown, self-contained HTML with plots); TensorBoard.

``write_report(run_dir)`` renders from the run directory alone, so it works on
a finished run, on one still going or killed, and on runs of earlier versions.
``tensorboard.ScalarWriter`` is what the search writes its per-update scalars
with. Nothing here imports ``search``: the report reads files.
"""

from n2n_tf.report.reader import RunData, load_run
from n2n_tf.report.render import write_report

__all__ = ["RunData", "load_run", "write_report"]
