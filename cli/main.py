"""Entry point of the ``n2n-tf`` command."""

from __future__ import annotations

import sys

import click

from n2n_tf import __version__, native_logs
from n2n_tf.cli.compress import compress
from n2n_tf.cli.distill import distill
from n2n_tf.cli.errors import N2NGroup, setup_logging
from n2n_tf.cli.export import export
from n2n_tf.cli.inspect import inspect
from n2n_tf.cli.report import report
from n2n_tf.cli.train_teacher import train_teacher


@click.group(cls=N2NGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="n2n-tf")
@click.option("--verbose", "-v", is_flag=True, help="Debug logging and full tracebacks.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """n2n-tf: compress a trained Keras classifier into a small student (N2N learning)."""
    native_logs.quiet_environment(verbose)
    ctx.obj = {"verbose": verbose}
    setup_logging(verbose)


cli.add_command(train_teacher)
cli.add_command(distill)
cli.add_command(compress)
cli.add_command(export)
cli.add_command(inspect)
cli.add_command(report)


def _verbose(argv: list[str]) -> bool:
    """Whether the group's ``--verbose``/``-v`` comes before the command's name."""
    for arg in argv:
        if arg in ("--verbose", "-v"):
            return True
        if not arg.startswith("-"):
            return False
    return False


def main() -> None:
    """Console-script entry point: TensorFlow's native log lines stay off the console
    unless ``--verbose`` (see ``n2n_tf.native_logs``)."""
    if not _verbose(sys.argv[1:]):
        native_logs.filter_native_stderr()
    cli(prog_name="n2n-tf")


if __name__ == "__main__":
    main()
