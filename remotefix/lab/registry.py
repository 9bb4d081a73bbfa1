"""The image registry a swarm's nodes pull lab images from: its address, and what it holds.

Only the registry's HTTP API (``/v2/``) is spoken here, never the Docker SDK: whether a tag is
there is one ``HEAD`` of its manifest, so an unchanged spec is neither rebuilt nor re-pushed.
A plain registry on 127.0.0.0/8 needs no TLS (Docker trusts those addresses as insecure
registries by default); one elsewhere must be listed in the daemon's ``insecure-registries``
or serve TLS.
"""

from __future__ import annotations

import json
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

    def has(self, tag: str, repository: str = LAB_REPOSITORY) -> bool:
        """Whether the registry holds ``repository:tag`` (one HEAD of its manifest)."""
        self.ref(tag, repository)  # validates the tag before it goes into a URL
        return self._get(f"{repository}/manifests/{tag}", method="HEAD") is not None

    def labels(self, tag: str, repository: str = LAB_REPOSITORY) -> dict[str, str] | None:
        """The image's labels (from its config blob), or None when the tag is not there."""
        self.ref(tag, repository)
        manifest = self._get(f"{repository}/manifests/{tag}")
        if manifest is None:
            return None
        digest = str((json.loads(manifest).get("config") or {}).get("digest", ""))
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            raise LabError(f"registry {self.address}: {repository}:{tag} has no image config")
        config = json.loads(self._get(f"{repository}/blobs/{digest}") or b"{}")
        return dict((config.get("config") or {}).get("Labels") or {})

    def _get(self, path: str, *, method: str = "GET", timeout: float = 10) -> bytes | None:
        """The body at ``/v2/PATH`` (None: 404); errors say what to do."""
        url = f"http://{self.address}/v2/{path}"
        request = urllib.request.Request(url, method=method, headers={"Accept": _MANIFESTS})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
                return bytes(answer.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise LabError(f"registry {self.address} answered {exc.code} for {path}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DependencyError(
                f"registry not reachable at {self.address} ({reason})", hint=SERVE_HINT
            ) from exc
