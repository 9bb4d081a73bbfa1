"""What a consent ``--target`` pattern covers: the machine that is connected to, never the text
that was typed.

A pattern is ``[scheme://][user@]HOST[:port]``; a query (``?transport=ntlm``) is ignored. It is
matched against the *endpoint*: the host, port and user remotefix really connects to (for SSH
after ``~/.ssh/config`` ``HostName``/``Port``/``User``), never against a query string or a name.

HOST is one of:

* ``*`` alone: every target (scheme, user and port, when given, still have to match);
* an IP address or CIDR network, ``10.0.0.5``, ``10.0.0.0/24``, ``fd00::/64``: the connected IP
  is that address or inside that network;
* an IPv4 address with whole-octet wildcards, ``10.0.0.*``: each ``*`` stands for one full
  octet. A partial octet (``10.0.0.5*``) is refused: write ``10.0.0.5`` or ``10.0.0.0/24``;
* a host-name glob matched label by label (dot-separated; ``*``, ``?`` and ``[...]`` never
  cross a dot): ``*.customer.example`` covers ``web1.customer.example`` but neither
  ``customer.example``, ``a.b.customer.example`` nor an IP. Host names compare
  case-insensitively, docker container names case-sensitively.

A plain name without wildcards (``web1``) also covers the inventory host (or ssh_config alias)
of exactly that name. Scheme, user and port, when the pattern gives them, must match exactly
(a missing port is the connection's default: ssh 22, winrm 5986).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from functools import lru_cache

from remotefix.errors import ConsentError
from remotefix.targets import DEFAULT_PORTS, Target

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_QUERY = re.compile(r"\?[A-Za-z_][A-Za-z0-9_]*=.*\Z", re.S)
_NAME_GLOB = re.compile(r"[A-Za-z0-9_.*?\[\]!-]+")
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_OCTETS = re.compile(r"(?:\d{1,3}|\*)(?:\.(?:\d{1,3}|\*)){3}")
_NUMERIC = re.compile(r"[\d*?\[\]!.-]+")
_SCHEMES = ("ssh", "winrm", "docker")
_HINT = "use e.g. web1, *.customer.example, 10.0.0.5, 10.0.0.0/24, 10.0.0.* or ssh://root@host:22"


@dataclass(frozen=True, slots=True)
class Pattern:
    """A parsed pattern; exactly one of ``network``, ``octets`` or ``labels`` is set."""

    text: str
    scheme: str | None = None
    user: str | None = None
    port: int | None = None
    everything: bool = False
    network: IPNetwork | None = None
    octets: tuple[str, ...] | None = None
    labels: tuple[str, ...] | None = None

    def covers(self, target: Target) -> bool:
        """Whether this pattern allows ``target`` (an endpoint: host/port/user as connected)."""
        if self.scheme and self.scheme != target.connection:
            return False
        if self.user and self.user != target.user:
            return False
        if self.port and self.port != (target.port or DEFAULT_PORTS.get(target.connection)):
            return False
        return self.everything or self._host_matches(target)

    def names_alias(self, name: str) -> bool:
        """An exact plain pattern also covers the inventory host / ssh alias of that name."""
        return self.text == name and _PLAIN.fullmatch(name) is not None

    def _host_matches(self, target: Target) -> bool:
        address = _ip(target.host)
        if address is not None:
            if self.network is not None:
                return address in self.network
            return self.octets is not None and _octets_match(self.octets, address)
        if self.labels is None:
            return False
        fold = target.connection != "docker"
        host = target.host.rstrip(".")
        labels = (host.lower() if fold else host).split(".")
        wanted = tuple(lab.lower() for lab in self.labels) if fold else self.labels
        return len(labels) == len(wanted) and all(map(fnmatchcase, labels, wanted))


@lru_cache(maxsize=1024)
def parse_pattern(text: str) -> Pattern:
    """Parse one ``--target`` pattern; ``ConsentError`` with the rule when it is not one."""
    rest = _QUERY.sub("", text.strip())
    scheme, sep, tail = rest.partition("://")
    if not sep:
        scheme, tail = "", rest
    if scheme and scheme.lower() not in _SCHEMES:
        raise _bad(text, f"scheme {scheme!r} needs no consent or is unknown")
    user, at, hostport = tail.rpartition("@")
    if at and not _PLAIN.fullmatch(user):
        raise _bad(text, "the user part must be a plain user name")
    host, port = _split_port(text, hostport)
    base = Pattern(text.strip(), scheme.lower() or None, user or None, port)
    if host == "*":
        return replace(base, everything=True)
    return _host_pattern(text, host, base)


def _host_pattern(text: str, host: str, base: Pattern) -> Pattern:
    network = _network(host)
    if network is not None:
        return replace(base, network=network)
    if _OCTETS.fullmatch(host) and all(o == "*" or int(o) < 256 for o in host.split(".")):
        return replace(base, octets=tuple(host.split(".")))
    if _NUMERIC.fullmatch(host) or ":" in host:
        raise _bad(text, "an IP pattern takes whole octets (10.0.0.*) or a CIDR (10.0.0.0/24)")
    labels = tuple(host.rstrip(".").split("."))
    if not _NAME_GLOB.fullmatch(host) or "" in labels:
        raise _bad(text, "a host name glob has dot-separated labels of letters, digits, - _ * ?")
    return replace(base, labels=labels)


def _split_port(text: str, hostport: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        host, _, after = hostport[1:].partition("]")
        port_text = after.removeprefix(":") if after.startswith(":") else None
        if after and port_text is None:
            raise _bad(text, "junk after ]")
    elif hostport.count(":") == 1:
        host, port_text = hostport.split(":")
    else:
        host, port_text = hostport, None
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise _bad(text, "the port must be a number 1-65535")
    return host, int(port_text)


def _network(host: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(host, strict=False)
    except ValueError:
        return None


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _octets_match(
    octets: tuple[str, ...], address: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> bool:
    if address.version != 4:
        return False
    parts = str(address).split(".")
    return all(o == "*" or int(o) == int(a) for o, a in zip(octets, parts, strict=True))


def _bad(text: str, why: str) -> ConsentError:
    return ConsentError(f"bad consent target pattern {text!r}: {why}", hint=_HINT)
