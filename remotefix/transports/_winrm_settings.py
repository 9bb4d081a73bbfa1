"""WinRM connection settings read from a ``Target``'s options, checked once.

    winrm://user@host[:port][?transport=ntlm|basic|kerberos|credssp]
                             [&scheme=https|http][&cert=validate|ignore][&ca=/path/ca.pem]

Defaults: HTTPS on 5986, NTLM, certificate validation on (against requests' CA bundle, or the
PEM file given as ``ca``). ``scheme=http`` defaults to port 5985; NTLM, Kerberos and CredSSP then
encrypt every message, and Basic is refused (it would send the password in clear text).
``cert=ignore`` is explicit and warned about with ``CertificateValidationDisabled``.
Inventory spellings are accepted too: ``winrm_transport``, ``winrm_scheme``,
``cert_validation``, ``ca_trust_path``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from remotefix.errors import DependencyError, TargetError
from remotefix.targets import Target

AUTH_METHODS = ("ntlm", "basic", "kerberos", "credssp")
DEFAULT_PORTS = {"https": 5986, "http": 5985}

_ALIASES = {
    "transport": ("transport", "winrm_transport"),
    "scheme": ("scheme", "winrm_scheme"),
    "cert": ("cert", "cert_validation", "server_cert_validation"),
    "ca": ("ca", "ca_trust_path"),
}


class CertificateValidationDisabled(UserWarning):
    """A WinRM target was configured with ``cert=ignore``: its TLS identity is not checked."""


@dataclass(frozen=True, slots=True)
class WinRMSettings:
    """Where and how to talk WS-Management to one target."""

    host: str
    port: int
    user: str
    scheme: Literal["http", "https"]
    auth: str
    validate_cert: bool
    ca_path: str | None

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}/wsman"


def settings_for(target: Target) -> WinRMSettings:
    """Read and check ``target``'s WinRM options; warns when validation is turned off."""
    if not target.user:
        raise TargetError(f"winrm target {target.name!r} has no user", hint="use winrm://USER@host")
    scheme = _choice(target, "scheme", ("https", "http"), "https")
    auth = _choice(target, "transport", AUTH_METHODS, "ntlm")
    cert = _choice(target, "cert", ("validate", "ignore"), "validate")
    if scheme == "http" and auth == "basic":
        raise TargetError(
            f"basic authentication over http would send the password for {target.name!r} "
            "in clear text",
            hint="use scheme=https, or transport=ntlm (messages are then encrypted)",
        )
    _check_library(auth)
    settings = WinRMSettings(
        host=target.host,
        port=target.port or DEFAULT_PORTS[scheme],
        user=target.user,
        scheme="https" if scheme == "https" else "http",
        auth=auth,
        validate_cert=cert == "validate",
        ca_path=_ca_path(target),
    )
    if scheme == "https" and cert == "ignore":
        warnings.warn(
            f"TLS certificate validation is OFF for {settings.endpoint} (cert=ignore): "
            "anyone on the path can impersonate this host and read the password",
            CertificateValidationDisabled,
            stacklevel=3,
        )
    return settings


def _ca_path(target: Target) -> str | None:
    path = _option(target, "ca")
    if path and not Path(path).is_file():
        raise TargetError(
            f"CA file {path!r} for winrm target {target.name!r} not found",
            hint="ca= takes a PEM file holding the CA that issued the host's certificate",
        )
    return path or None


def _option(target: Target, key: str) -> str | None:
    for name in _ALIASES[key]:
        if name in target.options:
            return target.options[name].strip()
    return None


def _choice(target: Target, key: str, allowed: tuple[str, ...], default: str) -> str:
    value = (_option(target, key) or default).lower()
    if value not in allowed:
        raise TargetError(
            f"bad {key}={value!r} for winrm target {target.name!r}",
            hint=f"use one of: {', '.join(allowed)}",
        )
    return value


def _check_library(auth: str) -> None:
    from winrm import transport

    available = {"kerberos": transport.HAVE_KERBEROS, "credssp": transport.HAVE_CREDSSP}
    if not available.get(auth, True):
        raise DependencyError(
            f"winrm transport={auth} needs pywinrm's optional {auth} support",
            hint=f"pip install 'pywinrm[{auth}]', or use transport=ntlm",
        )
