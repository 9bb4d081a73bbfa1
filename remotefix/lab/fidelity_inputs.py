"""What a lab's fidelity check compares against, recorded so the check can run later.

``lab up`` returns once the lab is ready; the fidelity check (the quick collectors inside the lab,
~2 s) runs when ``--fidelity`` asks for it, or on the first ``lab fidelity`` (``lab ls`` says
``pending`` until then). The inputs are those of ``fidelity.verify``: the customer's fingerprint,
the build's version choices, and the copied files as digests (their content is not kept).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from remotefix.lab import fidelity
from remotefix.lab.fidelity import FileCheck
from remotefix.lab.versions import Choice
from remotefix.session import Session


@dataclass(frozen=True, slots=True)
class FidelityInputs:
    customer: dict[str, Any] | None
    base_version: str
    choices: dict[str, Choice]
    tooling: tuple[str, ...]
    files: dict[str, FileCheck]
    services: tuple[str, ...]
    withheld: dict[str, str]
    init: str

    def measure(self, session: Session) -> dict[str, Any]:
        """Run the check in the lab behind ``session``; the report as recorded."""
        report = fidelity.verify(
            session,
            customer=self.customer,
            base_version=self.base_version,
            choices=self.choices,
            tooling=self.tooling,
            files=self.files,
            services=self.services,
            withheld=self.withheld,
            init=self.init,
        )
        return report.to_dict()

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer": self.customer,
            "base_version": self.base_version,
            "choices": {name: asdict(c) for name, c in self.choices.items()},
            "tooling": list(self.tooling),
            "files": {path: asdict(f) for path, f in self.files.items()},
            "services": list(self.services),
            "withheld": dict(self.withheld),
            "init": self.init,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FidelityInputs:
        return cls(
            customer=data.get("customer"),
            base_version=str(data["base_version"]),
            choices={name: Choice(**c) for name, c in data.get("choices", {}).items()},
            tooling=tuple(data.get("tooling", ())),
            files={path: FileCheck(**f) for path, f in data.get("files", {}).items()},
            services=tuple(data.get("services", ())),
            withheld=dict(data.get("withheld", {})),
            init=str(data.get("init", "script")),
        )
