"""Every command and group of the click tree has a one-line summary, an example in its --help,
and help text on every option: the guard that keeps `--help` useful as commands are added."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from remotefix.cli import cli


def _tree(
    command: click.Command, path: tuple[str, ...], parent: click.Context | None
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(command, info_name=path[-1], parent=parent)
    yield path, command
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            yield from _tree(sub, (*path, name), ctx)


COMMANDS = dict(_tree(cli, ("remotefix",), None))


def test_the_walk_sees_every_command_and_subcommand() -> None:
    names = {" ".join(p) for p in COMMANDS}
    assert {"remotefix lab up", "remotefix consent revoke", "remotefix fix"} <= names
    assert len(names) > 50


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_help_has_a_summary_an_example_and_described_options(path: tuple[str, ...]) -> None:
    command = COMMANDS[path]
    summary = command.get_short_help_str(limit=200)
    assert summary and not summary.endswith("..."), f"{' '.join(path)}: no one-line summary"
    result = CliRunner().invoke(cli, [*path[1:], "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    example = re.compile(rf"^\s*(Example: )?{re.escape(' '.join(path))}( |$)", re.M)
    assert "Example" in result.output and example.search(result.output), (
        f"{' '.join(path)}: --help shows no example\n{result.output}"
    )
    bare = [p.opts[-1] for p in command.params if isinstance(p, click.Option) and not p.hidden
            and not (p.help or "").strip()]  # fmt: skip
    assert not bare, f"{' '.join(path)}: options without help: {bare}"


@pytest.mark.parametrize("path", [("lab", "up"), ("repro",)])
def test_keep_explains_its_default(path: tuple[str, ...]) -> None:
    (keep,) = [p for p in COMMANDS[("remotefix", *path)].params if p.name == "keep"]
    assert isinstance(keep, click.Option) and keep.show_default
    assert "default" in (keep.help or "").lower() and str(keep.default) in (keep.help or "")
