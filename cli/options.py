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


PREPROCESS_CHOICES = (
    "auto",
    "raw",
    "unit",
    "symmetric",
    "standardize",
    "pixel_mean",
    "caffe",
    "torch",
)

preprocess_option = click.option(
    "--preprocess",
    type=click.Choice(PREPROCESS_CHOICES),
    default=None,
    help="How the teacher's inputs were scaled when it was trained: raw (0..255), unit "
    "(x/255), symmetric ([-1, 1]), standardize (per-channel mean/std), pixel_mean (x/255 "
    "minus the mean image), caffe, torch, or auto (default: try each, keep the best).",
)
force_option = click.option(
    "--force", is_flag=True, help="Go on even if the teacher scores below the floor."
)
min_teacher_accuracy_option = click.option(
    "--min-teacher-accuracy",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Floor on the teacher's validation accuracy (default: chance + 0.10).",
)
architecture_option = click.option(
    "--architecture",
    type=click.Path(dir_okay=False),
    default=None,
    help="Architecture JSON (model.to_json()) of a weights-only .h5 teacher.",
)
raw_inputs_option = click.option(
    "--no-preprocessing-layers",
    "no_preprocessing_layers",
    is_flag=True,
    help="Export without the preprocessing layers (the files then take preprocessed inputs).",
)


def check_line(check: dict, who: str = "Teacher") -> str:
    """One line on the teacher check (``TeacherCheck.to_dict()``): accuracy, preprocessing."""
    line = (
        f"{who}: validation accuracy {check['val_accuracy']:.2%} with preprocessing "
        f"`{check['preprocess']}`"
    )
    if check.get("candidates"):
        tried = ", ".join(f"{m} {a:.2%}" for m, a in check["candidates"].items())
        line += f" (auto; candidates: {tried})"
    return line
