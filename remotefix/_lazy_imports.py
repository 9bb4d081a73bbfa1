"""Third-party modules that load on first use instead of when imported.

paramiko imports ``invoke`` (and through it ``unittest.mock`` and ``asyncio``, about 0.1 s of every
SSH command's start-up) only to run an ssh_config ``Match exec``; here it loads when that runs.
(``importlib.util.LazyLoader`` does not help: ``import`` itself reads the module's ``__spec__``.)
Only the CLI imports this module: the stand-ins are for our own process, never for a program that
imports remotefix as a library.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

LAZY = ("invoke", "paramiko")
"""``paramiko`` too: the Docker SDK imports it at import time for ``ssh://`` hosts (~0.1 s of
every ``lab up``/``lab exec``); the SSH transport's first use loads it."""


class _Deferred(types.ModuleType):
    """Stands in ``sys.modules`` for a module until one of its attributes is read."""

    def __getattr__(self, attr: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


def defer(name: str) -> None:
    """Make ``import name`` cheap; the real module is imported on first attribute access."""
    if name not in sys.modules and importlib.util.find_spec(name) is not None:
        stand_in = _Deferred(name)
        stand_in.__spec__ = None
        sys.modules[name] = stand_in


for _name in LAZY:
    defer(_name)
