"""The inventory options every command that reaches targets shares: ``-i``, ``--limit``,
``--vault-password-file``, ``--ask-vault-pass`` — declared once, here."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from remotefix.inventory import InventorySource

F = TypeVar("F", bound=Callable[..., Any])


def inventory_options(command: F) -> F:
    """Add the inventory options; the command receives ``inventory`` (an ``InventorySource`` or
    None) and ``limit`` keyword arguments."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        paths = tuple(kwargs.pop("inventory"))
        files = tuple(kwargs.pop("vault_password_file"))
        ask = kwargs.pop("ask_vault_pass")
        kwargs["inventory"] = _source(paths, files, ask) if paths else None
        return command(*args, **kwargs)

    options = [
        click.option("-i", "--inventory", multiple=True, metavar="SOURCE",
                     help="Ansible inventory: file, directory, script, plugin config or 'h1,h2,' "
                     "(repeatable; read by ansible-core, ansible.cfg applies)."),
        click.option("--limit", metavar="PATTERN",
                     help="Ansible host pattern selecting inventory hosts, e.g. 'web:!web3'."),
        click.option("--vault-password-file", multiple=True,
                     type=click.Path(exists=True, dir_okay=False),
                     help="File (or script) holding the inventory's vault password."),
        click.option("--ask-vault-pass", is_flag=True,
                     help="Prompt for the inventory's vault password."),
    ]  # fmt: skip
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def _source(paths: tuple[str, ...], files: tuple[str, ...], ask: bool) -> InventorySource:
    password = click.prompt("Vault password", hide_input=True, err=True) if ask else None
    return InventorySource(
        paths=paths, vault_password_files=files, vault_password=password, warn=_warn
    )


def _warn(message: str) -> None:
    click.echo(f"remotefix: warning: {message}", err=True)
