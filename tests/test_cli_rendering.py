"""What targets, customers and inventories wrote is shown on the terminal, never obeyed by it:
no escape sequence, control character or Rich markup from them reaches the screen as such."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner

from remotefix.audit import AuditLog
from remotefix.cli import cli
from remotefix.cli._app import shown, visible
from remotefix.consent import ConsentStore, Scope
from remotefix.workspace import Workspace

HOSTILE = "\x1b]0;owned\x07\x1b[2J[bold red]fake[/]\r\u202eevil\x9b"
SHOWN = "\\x1b]0;owned\\x07\\x1b[2J[bold red]fake[/]\\x0d\\u202eevil\\x9b"


def _screen(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _obeys_nothing(text: str) -> bool:
    return not any(ch in text for ch in "\x1b\x07\r\u202e\x9b")


def test_the_helper_shows_controls_and_escapes_markup() -> None:
    assert visible(HOSTILE) == SHOWN
    assert shown("[bold]x[/]") == "\\[bold]x\\[/]"
    assert visible("tab\tstays") == "tab\tstays"


def test_audit_log_fields_are_shown_not_obeyed() -> None:
    AuditLog(Workspace.default().ensure()).append(
        action="run", case="C-R", target=HOSTILE, command=f"echo {HOSTILE}", exit_code=0
    )
    screen = _screen("audit", "log", "--case", "C-R")
    assert _obeys_nothing(screen)
    assert "fake" in screen and "\\x1b" in screen


def test_consent_fields_from_the_customer_are_shown_not_obeyed() -> None:
    one_line = HOSTILE.replace("\r", "")  # consent fields are single lines
    grant_id = (
        ConsentStore(Workspace.default().ensure())
        .grant("C-R", ["web1"], Scope.DIAGNOSE, timedelta(hours=1), one_line, one_line)
        .id
    )
    for screen in (_screen("consent", "ls"), _screen("consent", "show", grant_id)):
        assert _obeys_nothing(screen) and "fake" in screen
