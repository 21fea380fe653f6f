"""The layers of the package: jobs sit on the library, the CLI on the jobs.

Read from the source (``ast``), so a lazy import inside a function counts too.
"""

import ast
from pathlib import Path

import n2n_tf
import n2n_tf.cli

PACKAGE = Path(n2n_tf.__file__).parent
CLI = Path(n2n_tf.cli.__file__).parent  # ``cli/`` in the repository, installed as n2n_tf.cli
# What a CLI module may import besides ``n2n_tf.jobs``: its own modules and the
# option / printing helpers (progress drawing, Ctrl-C handling, native-log filtering).
CLI_HELPERS = {"n2n_tf", "n2n_tf.cli", "n2n_tf.progress", "n2n_tf.interrupt", "n2n_tf.native_logs"}


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {n for n in names if n == "n2n_tf" or n.startswith("n2n_tf.")}


def modules(root: Path = PACKAGE):
    return sorted(root.rglob("*.py"))


def test_nothing_below_the_jobs_imports_them():
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(n for n in imported(path) if "n2n_tf.jobs" in n)
        for path in modules()
        if path.relative_to(PACKAGE).parts[0] not in ("jobs", "__init__.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_cli_imports_only_the_jobs_and_its_helpers():
    cli = modules(CLI)
    assert len(cli) >= 8  # every command's module is read
    offenders = {}
    for path in cli:
        other = {
            n
            for n in imported(path)
            if not n.startswith("n2n_tf.jobs")
            and n not in CLI_HELPERS
            and not n.startswith("n2n_tf.cli.")
        }
        if other:
            offenders[path.name] = sorted(other)
    assert offenders == {}


def test_the_reader_sees_lazy_imports():
    # The check above would pass vacuously if function-level imports were missed.
    assert "n2n_tf.jobs.compress" in imported(CLI / "compress.py")
