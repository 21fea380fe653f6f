"""Turns expected errors into one line on stderr and a non-zero exit code."""

from __future__ import annotations

import logging
import sys
import traceback

import click

EXPECTED = (ValueError, NotImplementedError, FileNotFoundError, PermissionError, OSError)


class N2NGroup(click.Group):
    """A click group whose commands report expected errors as one line (exit 1).

    Usage errors keep click's exit code 2; Ctrl-C exits 130 after saying that
    nothing half-written was left behind; ``--verbose`` adds the traceback.
    """

    def invoke(self, ctx: click.Context):
        from n2n_tf.interrupt import deferred_interrupts

        try:
            with deferred_interrupts():
                return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo(
                "Interrupted. Files are written atomically: nothing half-written was left.",
                err=True,
            )
            sys.exit(130)
        except EXPECTED as err:
            if ctx.obj and ctx.obj.get("verbose"):
                traceback.print_exc()
            message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            click.echo(f"Error: {message}", err=True)
            sys.exit(1)


def setup_logging(verbose: bool) -> None:
    """Library modules log; the CLI shows INFO (DEBUG with --verbose) on stderr."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s" if not verbose else "%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("tensorflow", "absl", "h5py", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)
