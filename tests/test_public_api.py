"""The public API is what ``remotefix.__all__`` says — a change to it is a deliberate one."""

from __future__ import annotations

import subprocess
import sys

import remotefix

EXPECTED = {
    "AuditError", "AuditLog", "AuthError", "CommandFailed", "CommandResult", "ConfigError",
    "ConnectError", "ConsentError", "ConsentStore", "DependencyError", "Grant", "HostKeyError",
    "RemotefixError", "Scope", "Session", "Target", "TargetError", "TransportError", "Workspace",
    "__version__", "parse_address",
}  # fmt: skip


def test_all_is_pinned() -> None:
    assert set(remotefix.__all__) == EXPECTED
    for name in remotefix.__all__:
        assert hasattr(remotefix, name), name


def test_importing_remotefix_loads_no_transport_library() -> None:
    """paramiko, pywinrm and the docker SDK load only when a transport of theirs is opened."""
    code = (
        "import sys, remotefix; "
        "print(','.join(m for m in ('paramiko', 'winrm', 'docker') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_error_has_its_own_exit_code() -> None:
    codes = {
        cls.exit_code
        for cls in vars(remotefix.errors).values()
        if isinstance(cls, type) and issubclass(cls, remotefix.RemotefixError)
    }
    subclasses = [
        cls for cls in vars(remotefix.errors).values()
        if isinstance(cls, type) and issubclass(cls, remotefix.RemotefixError)
    ]  # fmt: skip
    assert len(codes) == len(subclasses)
