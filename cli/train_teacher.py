"""``n2n-tf train-teacher``: train a zoo architecture on a dataset and save it."""

from __future__ import annotations

import click

from n2n_tf.cli.options import config_option, flag_overrides, set_option
from n2n_tf.cli.progress import live_progress, quiet_option


@click.command("train-teacher")
@click.option("--arch", default=None, help="Zoo architecture, e.g. lenet5, vgg11, resnet20.")
@click.option("--dataset", default=None, help="tfds name, folder:PATH, mnist5k or digits.")
@click.option("--epochs", type=int, default=None, help="Training epochs.")
@click.option("--width", type=float, default=None, help="Width multiplier of the architecture.")
@click.option("--batch-size", type=int, default=None, help="Examples per batch.")
@click.option("--lr", type=float, default=None, help="Peak learning rate.")
@click.option("--data-dir", default=None, help="tensorflow-datasets data directory.")
@click.option("--seed", type=int, default=None, help="Random seed.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default="teacher.keras",
    show_default=True,
    help="Where to save the trained teacher (.keras).",
)
@quiet_option
@config_option
@set_option
def train_teacher(
    arch, dataset, epochs, width, batch_size, lr, data_dir, seed, out, quiet, config_path, overrides
):
    """Train a teacher from the zoo and print its validation and test accuracy."""
    from n2n_tf.jobs import load_config
    from n2n_tf.jobs.train_teacher import TeacherRequest, run

    flags = flag_overrides(
        {
            "teacher.arch": arch,
            "data.dataset": dataset,
            "teacher.epochs": epochs,
            "teacher.width": width,
            "data.batch_size": batch_size,
            "teacher.learning_rate": lr,
            "data.data_dir": data_dir,
            "runtime.seed": seed,
        }
    )
    config = load_config(config_path, [*flags, *overrides])
    with live_progress(quiet) as progress:
        result = run(TeacherRequest(config, out, verbose=0, progress=progress))
    click.echo(
        f"Teacher {config.teacher.arch} on {config.data.dataset}: "
        f"{result.params:,} parameters, trained in {result.seconds:.1f} s"
    )
    click.echo(f"Validation accuracy: {result.val_accuracy:.2%}")
    click.echo(f"Test accuracy:       {result.test_accuracy:.2%}")
    click.echo(f"Saved to {result.path}")
