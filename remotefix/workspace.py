"""Where remotefix keeps its state: consent grants, audit log, bundles, known hosts, locks.

The root is ``$REMOTEFIX_HOME`` when set, else the platform's user data directory
(``~/.local/share/remotefix`` on Linux).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from remotefix.errors import WorkspaceError

HOME_ENV = "REMOTEFIX_HOME"


@dataclass(frozen=True, slots=True)
class Workspace:
    """Paths of one workspace; ``ensure()`` creates them."""

    root: Path

    @classmethod
    def default(cls) -> Workspace:
        env = os.environ.get(HOME_ENV)
        return cls(Path(env).expanduser() if env else Path(platformdirs.user_data_dir("remotefix")))

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def audit_log(self) -> Path:
        return self.root / "audit.jsonl"

    @property
    def consent_db(self) -> Path:
        return self.root / "consent.sqlite"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def bundles(self) -> Path:
        return self.root / "bundles"

    @property
    def cases(self) -> Path:
        return self.root / "cases"

    @property
    def labs(self) -> Path:
        return self.root / "labs"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    def ensure(self) -> Workspace:
        """Create the directory tree (mode 0700: it holds audit and consent records)."""
        try:
            for path in (self.root, self.locks, self.bundles, self.cases, self.labs, self.cache):
                path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise WorkspaceError(
                f"cannot create workspace {self.root}: {exc.strerror}",
                hint=f"set {HOME_ENV} to a writable directory",
            ) from exc
        return self

    def check_writable(self) -> None:
        """Raise ``WorkspaceError`` unless a file can be written in the root."""
        self.ensure()
        try:
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe-"):
                pass
        except OSError as exc:
            raise WorkspaceError(
                f"workspace {self.root} is not writable: {exc.strerror}",
                hint=f"fix its permissions or set {HOME_ENV}",
            ) from exc
