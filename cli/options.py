"""Options shared by several commands, and their mapping onto config keys."""

from __future__ import annotations

import click

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML config file (default: the built-in defaults).",
)
set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override any config value, e.g. --set data.batch_size=64 (repeatable).",
)


def flag_overrides(mapping: dict[str, object]) -> list[dict]:
    """Turns ``{"teacher.epochs": 3, "data.dataset": None}`` into config overrides.

    Flags left unset (None) do not override the config file.
    """
    out = []
    for key, value in mapping.items():
        if value is None:
            continue
        section, name = key.split(".")
        out.append({section: {name: value}})
    return out
