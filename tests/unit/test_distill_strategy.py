"""Default strategy and MirroredStrategy over two logical CPUs give the same weights.

Runs in a child process: logical devices must be set before TensorFlow starts.
"""

import json
import subprocess
import sys

SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)
import keras
from n2n_tf import data, graph, models
from n2n_tf.config import DistillConfig
from n2n_tf.distill import Trainer
from n2n_tf.types import Architecture

ds = data.load("digits", batch_size=32)
keras.utils.set_random_seed(0)
teacher = models.build("lenet5", (8, 8, 1), 10)
arch = Architecture(factors={"fc1": 0.5})
config = DistillConfig(epochs=2, learning_rate=1e-3)
out = {}
for name, strategy in [
    ("default", tf.distribute.get_strategy()),
    ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
]:
    student = graph.rebuild(teacher, arch)
    result = Trainer(teacher, config, strategy=strategy).fit([student], ds, seed=3)[0]
    out[name] = {
        "replicas": strategy.num_replicas_in_sync,
        "weights": [w.tolist() for w in student.get_weights()],
        "acc": result.val_accuracy,
        "steps": result.steps,
    }
print("RESULT" + json.dumps(out))
"""


def test_default_and_mirrored_strategies_agree():
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600
    )
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")]
    assert line, proc.stderr[-3000:]
    out = json.loads(line[0][len("RESULT") :])
    assert out["default"]["replicas"] == 1 and out["mirrored"]["replicas"] == 2
    assert out["default"]["steps"] == out["mirrored"]["steps"] > 0
    import numpy as np

    for a, b in zip(out["default"]["weights"], out["mirrored"]["weights"], strict=True):
        np.testing.assert_allclose(np.array(a), np.array(b), atol=1e-4, rtol=1e-3)
    # The teacher is untrained, so accuracy itself is not the point; it must agree.
    assert abs(out["default"]["acc"] - out["mirrored"]["acc"]) <= 0.01
