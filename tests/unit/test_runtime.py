"""Thread pools: set before TensorFlow starts, left alone (and reported) after."""

import json
import subprocess
import sys

SCRIPT = r"""
import json, logging
logging.basicConfig(level=logging.INFO)
import tensorflow as tf
from n2n_tf.runtime import configure_threads
out = {"auto": configure_threads(-1, 0, fused=True)}
out["auto_intra"] = tf.config.threading.get_intra_op_parallelism_threads()
configure_threads(1, 2)
out["intra"] = tf.config.threading.get_intra_op_parallelism_threads()
out["inter_after_explicit"] = tf.config.threading.get_inter_op_parallelism_threads()
tf.constant(1.0) + 1.0  # TensorFlow starts here
out["late"] = configure_threads(3, 0)
out["late_intra"] = tf.config.threading.get_intra_op_parallelism_threads()
out["late_same"] = configure_threads(1, 2)
print("RESULT" + json.dumps(out))
"""


def test_configure_threads_before_and_after_tensorflow_starts():
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        env={"CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""},
    )
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")]
    assert line, proc.stderr[-3000:]
    out = json.loads(line[0][len("RESULT") :])
    # auto leaves TensorFlow's default (0) alone; explicit values are set
    assert out["auto"] is True and out["auto_intra"] == 0
    assert out["intra"] == 1
    assert out["inter_after_explicit"] == 2
    # after start: nothing changes, the caller learns it, and the log says why
    assert out["late"] is False and out["late_intra"] == 1
    assert "already started" in proc.stderr
    assert out["late_same"] is True  # asking for what is already set is fine
