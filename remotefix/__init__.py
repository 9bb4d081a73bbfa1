"""remotefix: consented remote diagnostics, environment fingerprints and matching Docker labs."""

from remotefix.errors import RemotefixError
from remotefix.result import CommandResult

__version__ = "0.1.0"

__all__ = ["CommandResult", "RemotefixError", "__version__"]
