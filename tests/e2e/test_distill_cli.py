import keras
from click.testing import CliRunner

from n2n_tf import data, graph, models
from n2n_tf.cli.main import cli
from n2n_tf.types import Architecture


def test_distill_command_trains_and_saves_a_student(tmp_path):
    keras.utils.set_random_seed(0)
    ds = data.load("digits", batch_size=64)
    teacher = models.build("lenet5", (8, 8, 1), 10)
    teacher.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(ds.train, epochs=8, verbose=0)
    teacher.save(tmp_path / "teacher.keras")
    student = graph.rebuild(teacher, Architecture(factors={"fc1": 0.25}), inherit=False)
    student.save(tmp_path / "student.keras")
    out = tmp_path / "out" / "distilled.keras"
    result = CliRunner().invoke(
        cli,
        [
            "distill",
            "--teacher",
            str(tmp_path / "teacher.keras"),
            "--student",
            str(tmp_path / "student.keras"),
            "--dataset",
            "digits",
            "--epochs",
            "5",
            "--lr",
            "0.003",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    before = float(result.output.split("student ")[1].split("%")[0])
    after = float(result.output.split("before, ")[1].split("%")[0])
    assert after > before + 20  # a fresh student learns from the teacher
    assert out.is_file() and (out.parent / "distilled.config.yaml").is_file()
    bad = CliRunner().invoke(
        cli, ["distill", "--teacher", "nope.keras", "--student", "x.keras", "--out", "y.keras"]
    )
    assert bad.exit_code == 1 and "Teacher not found" in bad.output
