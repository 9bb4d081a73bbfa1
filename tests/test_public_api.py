"""The public API is what ``remotefix.__all__`` says — a change to it is a deliberate one."""

from __future__ import annotations

import importlib
import pkgutil
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


def _error_tree() -> list[type[remotefix.RemotefixError]]:
    """Every RemotefixError subclass anywhere in the package (transports included)."""
    for module in pkgutil.walk_packages(remotefix.__path__, "remotefix."):
        if not module.name.endswith(".__main__"):  # that one runs the CLI
            importlib.import_module(module.name)
    found, todo = [], [remotefix.RemotefixError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_has_its_own_exit_code() -> None:
    tree = _error_tree()
    assert "RemotePathError" in {cls.__name__ for cls in tree}  # lives in transports/base.py
    by_code: dict[int, list[str]] = {}
    for cls in tree:
        by_code.setdefault(cls.exit_code, []).append(f"{cls.__module__}.{cls.__qualname__}")
    shared = {code: names for code, names in by_code.items() if len(names) > 1}
    assert shared == {}
    reserved = {0, 2}  # success, click's usage error
    assert reserved.isdisjoint(by_code), by_code
    assert by_code.get(130) == ["remotefix.errors.Interrupted"]  # 128 + SIGINT, as shells say
