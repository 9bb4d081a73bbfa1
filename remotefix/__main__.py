"""Allow ``python -m remotefix``."""

from remotefix.cli import main

main()
