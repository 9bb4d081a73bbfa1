"""The base-image catalog (``labs/catalog.yaml``): which distro versions we can build, and how."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remotefix._yaml import load_yaml
from remotefix.errors import ConfigError
from remotefix.resources import data_dir

IMAGE_REPOSITORY = "remotefix/base"


@dataclass(frozen=True, slots=True)
class BaseImage:
    """One catalog entry, e.g. ``debian:12`` → suite bookworm → ``remotefix/base:debian-12``."""

    key: str
    distro: str
    version: str
    suite: str
    variant: str = "minbase"

    @property
    def tag(self) -> str:
        return f"{IMAGE_REPOSITORY}:{self.key.replace(':', '-')}"


@dataclass(frozen=True, slots=True)
class Catalog:
    images: dict[str, BaseImage]
    default_mirror: str
    lab_sources: tuple[str, ...] = ()
    lab_tooling: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: Path | None = None) -> Catalog:
        path = path or data_dir("labs") / "catalog.yaml"
        raw = _read_yaml(path)
        entries = raw.get("images")
        if not isinstance(entries, dict) or not entries:
            raise ConfigError(f"{path}: 'images' must be a non-empty mapping")
        images = {str(key): _entry(path, str(key), value) for key, value in entries.items()}
        mirror = raw.get("default_mirror")
        if not isinstance(mirror, str) or not mirror.startswith(("http://", "https://")):
            raise ConfigError(f"{path}: 'default_mirror' must be an http(s) URL")
        return cls(
            images=images,
            default_mirror=mirror,
            lab_sources=_string_list(path, raw, "lab_sources"),
            lab_tooling=_string_list(path, raw, "lab_tooling"),
        )

    def resolve(self, name: str) -> BaseImage:
        """Find an entry by key (``debian:12``), tag (``debian-12``) or suite (``bookworm``)."""
        wanted = name.strip().lower().replace("-", ":", 1)
        for image in self.images.values():
            if wanted in (image.key, f"{image.distro}:{image.suite}", image.suite):
                return image
        known = ", ".join(sorted(self.images))
        raise ConfigError(
            f"unknown base image {name!r}", hint=f"known: {known}; add it to labs/catalog.yaml"
        )


def _string_list(path: Path, raw: dict[str, Any], key: str) -> tuple[str, ...]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: '{key}' must be a list of strings")
    return tuple(value)


def _read_yaml(path: Path) -> dict[str, Any]:
    raw = load_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return raw


def _entry(path: Path, key: str, value: Any) -> BaseImage:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: images.{key} must be a mapping")
    missing = [f for f in ("distro", "version", "suite") if not value.get(f)]
    if missing:
        raise ConfigError(f"{path}: images.{key} is missing {', '.join(missing)}")
    unknown = set(value) - {"distro", "version", "suite", "variant"}
    if unknown:
        raise ConfigError(f"{path}: images.{key} has unknown keys: {', '.join(sorted(unknown))}")
    return BaseImage(
        key=key,
        distro=str(value["distro"]),
        version=str(value["version"]),
        suite=str(value["suite"]),
        variant=str(value.get("variant", "minbase")),
    )
