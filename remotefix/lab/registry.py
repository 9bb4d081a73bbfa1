"""The image registry a swarm's nodes pull lab images from: its address, and what it holds.

Only the registry's HTTP API (``/v2/``) is spoken here, never the Docker SDK: whether a tag is
there is one ``HEAD`` of its manifest, so an unchanged spec is neither rebuilt nor re-pushed.
A plain registry on 127.0.0.0/8 needs no TLS (Docker trusts those addresses as insecure
registries by default); one elsewhere must be listed in the daemon's ``insecure-registries``
or serve TLS.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from dataclasses import dataclass

from remotefix.errors import ConfigError, DependencyError, LabError

LAB_REPOSITORY = "remotefix-lab"
_ADDRESS = re.compile(
    r"^(?P<host>[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})$"
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_MANIFESTS = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)
SERVE_HINT = "start one: docker-registry serve CONFIG.yml (README: Swarm), or pass --registry"


@dataclass(frozen=True, slots=True)
class Registry:
    """A registry at ``HOST:PORT`` (plain HTTP)."""

    address: str

    @classmethod
    def parse(cls, text: str) -> Registry:
        """``HOST:PORT`` → Registry; anything else is a ``ConfigError`` naming the fix."""
        found = _ADDRESS.match(text.strip())
        if not found or not 0 < int(found["port"]) < 65536:
            raise ConfigError(
                f"bad registry address {text!r}", hint="give HOST:PORT, e.g. 127.0.0.1:5000"
            )
        return cls(text.strip())

    def ref(self, tag: str, repository: str = LAB_REPOSITORY) -> str:
        """The image reference nodes pull: ``HOST:PORT/remotefix-lab:TAG``."""
        if not _TAG.match(tag):
            raise LabError(f"bad image tag {tag!r} for the registry")
        return f"{self.address}/{repository}:{tag}"

    def has(self, tag: str, repository: str = LAB_REPOSITORY, *, timeout: float = 5) -> bool:
        """Whether the registry holds ``repository:tag`` (one HEAD of its manifest)."""
        self.ref(tag, repository)  # validates the tag before it goes into a URL
        url = f"http://{self.address}/v2/{repository}/manifests/{tag}"
        request = urllib.request.Request(url, method="HEAD", headers={"Accept": _MANIFESTS})
        try:
            with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 (http only)
                return True
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return False
            raise LabError(f"registry {self.address} answered {exc.code} for {tag}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DependencyError(
                f"registry not reachable at {self.address} ({reason})", hint=SERVE_HINT
            ) from exc
