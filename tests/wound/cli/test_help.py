"""Every ``wound`` command's ``--help`` carries an example that runs that command.

The commands are walked from the app itself (groups and subcommands, whatever registered them),
so a command added later is checked without touching this test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from wound.cli.main import app

#: Commands that exist today: the walk must find at least these (it is not vacuous).
KNOWN = {"synth", "ingest", "predict", "score", "summary", "store init", "models list"}


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path under ``command`` (groups included), depth first."""
    yield path
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        if not getattr(sub, "hidden", False):
            yield from walk(sub, (*path, name))


COMMANDS = list(walk(typer.main.get_command(app)))


def test_the_walk_finds_the_commands() -> None:
    found = {" ".join(path) for path in COMMANDS}
    assert not KNOWN - found, f"commands not found: {KNOWN - found}"


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(("wound", *p)))
def test_help_has_an_example_of_the_command(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # rich wraps and boxes the help
    examples = re.findall(r"Example:(.*?)(?=Example:|╭|$)", text)
    invocation = " ".join(("wound", *path))
    assert any(invocation in example for example in examples), (
        f"`{invocation} --help` needs an example line in its docstring or help, like "
        f"'Example: {invocation} ...' (found: {examples or 'no Example:'})"
    )
