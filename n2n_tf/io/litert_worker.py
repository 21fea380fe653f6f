"""Runs a TFLite model with the ai-edge-litert interpreter in its own process.

ai-edge-litert cannot be imported after TensorFlow in one process (both register
the same interpreter type), so n2n-tf calls this module as a child process:

    python n2n_tf/io/litert_worker.py MODEL.tflite INPUTS.npy OUTPUTS.npy RUNS

It writes the outputs for every input row and prints the median single-image
latency (ms) over RUNS timed invocations.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def main(argv: list[str]) -> None:
    from ai_edge_litert.interpreter import Interpreter

    model, inputs_path, outputs_path, runs = argv[0], argv[1], argv[2], int(argv[3])
    interpreter = Interpreter(model_path=model, num_threads=1)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    inputs = np.load(inputs_path)
    scale, zero = inp["quantization"]
    if inp["dtype"] in (np.int8, np.uint8) and scale:
        inputs = np.clip(np.round(inputs / scale + zero), -128, 127).astype(inp["dtype"])
    results = []
    for row in inputs:
        interpreter.set_tensor(inp["index"], row[None].astype(inp["dtype"]))
        interpreter.invoke()
        results.append(interpreter.get_tensor(out["index"])[0])
    outputs = np.asarray(results, np.float32)
    o_scale, o_zero = out["quantization"]
    if out["dtype"] in (np.int8, np.uint8) and o_scale:
        outputs = (outputs - o_zero) * o_scale
    np.save(outputs_path, outputs)
    times = []
    for i in range(runs):
        interpreter.set_tensor(inp["index"], inputs[i % len(inputs)][None])
        start = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    print(f"LATENCY_MS {1000 * float(np.median(times)):.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
