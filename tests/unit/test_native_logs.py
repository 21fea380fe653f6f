"""Native (C++) log lines are dropped from descriptor 2; everything else passes."""

import subprocess
import sys
import textwrap

from n2n_tf.native_logs import NATIVE_LINE

# Lines TensorFlow 2.21, XLA and the TFLite converter print on a CPU machine.
NATIVE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796173009.383799    4175 port.cc:153] oneDNN custom operations are on.",
    "E0000 00:00:1796173015.262409    4175 cuda_platform.cc:52] failed call to cuInit: INTERNAL",
    "W0000 00:00:1796173137.712091    4372 tf_tfl_flatbuffer_helpers.cc:364] Ignored output_f",
    "2026-12-02 00:57:34.983425: E tensorflow/core/util/util.cc:131] oneDNN supports DT_INT32",
    "fully_quantize: 0, inference_type: 6, input_inference_type: INT8, output_inference_type: INT8",
]
OURS = [
    "Error: The teacher's weights are not finite: `head/kernel` of layer `head`",
    "WARNING: the student is larger than asked",
    "Interrupted. Files are written atomically: nothing half-written was left.",
]


def test_the_pattern_tells_native_lines_from_ours():
    assert all(NATIVE_LINE.match(line.encode()) for line in NATIVE)
    assert not any(NATIVE_LINE.match(line.encode()) for line in OURS)


def run(filtered: bool) -> str:
    script = textwrap.dedent(
        f"""
        import os, sys
        from n2n_tf import native_logs
        if {filtered}:
            native_logs.filter_native_stderr()
        lines = {NATIVE + OURS!r}
        for line in lines:
            os.write(2, (line + "\\n").encode())  # what C++ code does
        print("python's own stderr", file=sys.stderr)
        with native_logs.captured_native_output("testing"):
            os.write(2, b"captured, never shown\\n")
        os.write(2, b"no newline at exit")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def test_filtered_descriptor_keeps_only_our_lines_and_python_stderr():
    lines = run(filtered=True).splitlines()
    # Python writes straight to the terminal, descriptor 2 through the filter: each in order.
    assert [line for line in lines if line != "python's own stderr"] == [
        *OURS,
        "no newline at exit",
    ]
    assert lines.count("python's own stderr") == 1


def test_unfiltered_shows_everything_but_what_was_captured():
    out = run(filtered=False)
    for line in NATIVE + OURS:
        assert line in out
    assert "captured, never shown" not in out
