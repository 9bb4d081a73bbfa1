"""Obfuscation (opt-in): every identity of the customer's machine becomes a consistent placeholder.

Addresses are found by pattern: IPv4 (``ip-N``), IPv6 (``ip6-N``) and MAC (``mac-N``); loopback,
unspecified, multicast and link-local values identify nobody and stay. Names are learned: the
target's host and user, what the machine calls itself (``hostname``, ``/etc/hosts``, the
resolver's search domains, Windows' ``CSName``/``Domain``), its people (``/etc/passwd`` users
from uid 1000, and their full names from the GECOS field). A host name is learned whole, as its
short name and as its domain (``host-N``, ``domain-N``); users become ``user-N``, full names and
their words ``person-N``. Names match case-insensitively between non-word characters
(``alice-backup`` becomes ``user-1-backup``), everywhere: content, member names, the manifest;
the bundle's file name is random (``bundle_stem``). Words the bundle needs to stay readable
(package names, the distribution's ids, ``localhost``, ``root``…) are never learned. The map
back stays with the engineer.
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
from collections import Counter
from collections.abc import Iterable
from typing import Any, Protocol

_OCTET = rb"(?:25[0-5]|2[0-4]\d|1?\d?\d)"
_IPV4 = re.compile(rb"(?<![\w.])(?:" + _OCTET + rb"\.){3}" + _OCTET + rb"(?![\w.])")
_KEEP_IPV4 = (b"127.", b"0.0.0.0", b"255.", b"169.254.")
_IPV6 = re.compile(
    rb"(?<![\w:.%])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4})"
    rb"(?:%[\w.-]+)?(?![\w:])"
)
_MAC = re.compile(
    rb"(?<![\w:-])[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![\w:-])"
)
_KEEP_MAC = {b"00:00:00:00:00:00", b"ff:ff:ff:ff:ff:ff", b"00-00-00-00-00-00", b"ff-ff-ff-ff-ff-ff"}
GENERIC = frozenset({
    "localhost", "localdomain", "local", "lan", "home", "internal", "example", "test", "root",
    "admin", "administrator", "user", "guest", "nobody", "none", "debian", "ubuntu", "linux",
    "workgroup", "ip6-localhost", "ip6-loopback", "ip6-allnodes", "ip6-allrouters",
    "ip6-localnet", "ip6-mcastprefix",
})  # fmt: skip
_FIRST_USER_UID, _NOBODY_UID = 1000, 65534


class _Item(Protocol):
    kind: str
    name: str
    stdout: bytes


class Obfuscator:
    """Learns identities, then replaces them (and every address) by stable placeholders."""

    def __init__(self) -> None:
        self._placeholders: dict[bytes, bytes] = {}  # real value (lower-cased for names) → ph.
        self._real: dict[bytes, bytes] = {}  # placeholder → the value as first seen
        self._kinds: Counter[str] = Counter()
        self._names: re.Pattern[bytes] | None = None
        self.protected: set[str] = set(GENERIC)

    @property
    def mapping(self) -> dict[str, str]:
        """Placeholder → real value (keep it away from the bundle)."""
        return {p.decode(): v.decode(errors="replace") for p, v in self._real.items()}

    def learn_host(self, name: str) -> None:
        """A host name, its short name and (for a dotted name) its domain."""
        name = name.strip().rstrip(".")
        if not name or _is_address(name):
            return
        self.learn(name, "host")
        short, _, domain = name.partition(".")
        self.learn(short, "host")
        if "." in domain:
            self.learn(domain, "domain")

    def learn_person(self, full_name: str) -> None:
        self.learn(full_name, "person")
        for word in full_name.split():
            self.learn(word, "person")

    def learn(self, value: str, kind: str) -> None:
        raw = value.strip().encode()
        if len(raw) < 2 or value.strip().lower() in self.protected:
            return
        if raw.lower() in self._placeholders:
            return
        self._placeholder(raw, kind, key=raw.lower())
        self._names = None  # compiled again, once, at the next apply

    def _names_pattern(self) -> re.Pattern[bytes] | None:
        if self._names is None:
            names = [v for v, p in self._placeholders.items() if _is_name(p)]
            if names:
                self._names = re.compile(rb"(?<!\w)" + _trie(names) + rb"(?!\w)", re.I)
        return self._names

    def _placeholder(self, value: bytes, kind: str, *, key: bytes | None = None) -> bytes:
        key = value if key is None else key
        if key not in self._placeholders:
            self._kinds[kind] += 1
            placeholder = f"{kind}-{self._kinds[kind]}".encode()
            self._placeholders[key], self._real[placeholder] = placeholder, value
        return self._placeholders[key]

    def apply(self, data: bytes) -> bytes:
        """``data`` with every address and learned name replaced."""
        data = _IPV6.sub(self._ipv6, data)
        data = _MAC.sub(self._mac, data)
        data = _IPV4.sub(self._ipv4, data)
        names = self._names_pattern()
        if names is not None:
            data = names.sub(lambda m: self._placeholders[m.group(0).lower()], data)
        return data

    def text(self, value: str) -> str:
        return self.apply(value.encode()).decode(errors="replace")

    def value(self, data: Any) -> Any:
        """A JSON value with every string (keys too) obfuscated."""
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, dict):
            return {self.text(str(k)): self.value(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.value(v) for v in data]
        return data

    def _ipv4(self, match: re.Match[bytes]) -> bytes:
        value = match.group(0)
        return value if value.startswith(_KEEP_IPV4) else self._placeholder(value, "ip")

    def _ipv6(self, match: re.Match[bytes]) -> bytes:
        value = match.group(0)
        try:
            address = ipaddress.IPv6Address(value.split(b"%")[0].decode())
        except ValueError:
            return value  # a time, a MAC, C++'s "::": not an address
        mapped = address.ipv4_mapped
        if mapped is not None:
            keep = str(mapped).encode().startswith(_KEEP_IPV4)
        else:
            keep = address.is_loopback or address.is_unspecified or address.is_multicast
            keep = keep or (address.is_link_local and int(address) & ((1 << 64) - 1) == 0)
        return value if keep else self._placeholder(value.lower(), "ip6")

    def _mac(self, match: re.Match[bytes]) -> bytes:
        value = match.group(0)
        return value if value.lower() in _KEEP_MAC else self._placeholder(value.lower(), "mac")


def _trie(words: list[bytes]) -> bytes:
    """One regex for many words, as a trie: matching costs the length of a word, not their
    number, and the longest word wins (``web1.customer.example`` before ``web1``)."""
    root: dict[bytes, Any] = {}
    for word in words:
        node = root
        for byte in word:
            node = node.setdefault(bytes([byte]), {})
        node[b""] = {}
    return _trie_node(root)


def _trie_node(node: dict[bytes, Any]) -> bytes:
    branches = [re.escape(key) + _trie_node(child) for key, child in node.items() if key]
    if not branches:
        return b""
    body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
    return b"(?:" + body + b")?" if b"" in node else body


def _is_name(placeholder: bytes) -> bool:
    return not placeholder.startswith((b"ip-", b"ip6-", b"mac-"))


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def bundle_stem(target_name: str, *, obfuscate: bool) -> str:
    """The name a bundle file is given for a target: random when obfuscating (never the name)."""
    return f"obfuscated-{secrets.token_hex(4)}" if obfuscate else target_name


def learn_identities(obfuscator: Obfuscator, items: Iterable[_Item]) -> None:
    """Teach the obfuscator the machine's names and its people, from what was collected."""
    items = list(items)
    obfuscator.protected |= _readable_words(items)
    for item in items:
        text = item.stdout.decode(errors="replace")
        if item.kind == "cmd" and item.name == "hostname":
            obfuscator.learn_host(text)
        elif item.kind == "file" and item.name == "/etc/hosts":
            _learn_hosts_file(obfuscator, text)
        elif item.kind == "file" and item.name == "/etc/passwd":
            _learn_passwd(obfuscator, text)
        elif item.kind == "file" and item.name == "/etc/resolv.conf":
            for line in text.splitlines():
                key, *domains = line.split("#", 1)[0].split() or [""]
                for domain in domains if key in ("search", "domain") else ():
                    obfuscator.learn(domain.rstrip("."), "domain")
        elif item.kind == "cmd" and item.name in ("os", "computer"):  # Windows (JSON)
            _learn_windows(obfuscator, text)


def _learn_hosts_file(obfuscator: Obfuscator, text: str) -> None:
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        for name in fields[1:]:
            obfuscator.learn_host(name)


def _learn_passwd(obfuscator: Obfuscator, text: str) -> None:
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 7 or not fields[2].isdigit():
            continue
        if _FIRST_USER_UID <= int(fields[2]) < _NOBODY_UID:
            obfuscator.learn(fields[0], "user")
            obfuscator.learn_person(fields[4].split(",")[0])


def _learn_windows(obfuscator: Obfuscator, text: str) -> None:
    try:
        data = json.loads(text)
    except ValueError:
        return
    if isinstance(data, dict):
        for key in ("CSName", "Domain"):
            if isinstance(data.get(key), str):
                obfuscator.learn_host(data[key])


def _readable_words(items: list[_Item]) -> set[str]:
    """Package names and the distribution's ids: replacing them would blind triage and labs."""
    words: set[str] = set()
    for item in items:
        text = item.stdout.decode(errors="replace")
        if item.kind == "cmd" and item.name == "dpkg":
            rows = (line.split("\t") for line in text.splitlines())
            words |= {row[1].split(":")[0].lower() for row in rows if len(row) > 2}
        elif item.kind == "file" and item.name == "/etc/os-release":
            for line in text.splitlines():
                key, _, value = line.partition("=")
                if key in ("ID", "ID_LIKE", "VERSION_CODENAME"):
                    words |= set(value.strip("\"'").lower().split())
    return words
