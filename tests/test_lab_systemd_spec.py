"""systemd labs without Docker: spec validation, planning from a systemd fingerprint, the
Dockerfile it renders, start options per cgroup version, and the fidelity's package rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from remotefix.errors import ConfigError, LabError
from remotefix.lab.catalog import Catalog
from remotefix.lab.dockerfile import build_context, init_digest, render_dockerfile
from remotefix.lab.fidelity import FidelityReport, Item, _unpinned, unit_items
from remotefix.lab.plan import plan_lab
from remotefix.lab.runtime import Bind
from remotefix.lab.spec import LabSpec, dump_spec, load_spec, spec_hash
from remotefix.lab.systemd import options_for, parse_relaxed
from remotefix.lab.versions import Choice

FINGERPRINT: dict[str, Any] = {
    "os": {"id": "debian", "major": "12", "version": "12.8"},
    "init": "systemd\n/usr/lib/systemd/systemd",
    "packages": {"nginx": "1.22.1-9", "nginx-common": "1.22.1-9", "systemd": "252.31-1~deb12u1",
                 "systemd-sysv": "252.31-1~deb12u1", "curl": "7.88.1-10"},
    "services": [
        {"name": "nginx", "state": "failed", "enabled": True, "source": "systemd"},
        {"name": "app", "state": "running", "enabled": False, "source": "systemd"},
        {"name": "spare", "state": "stopped", "enabled": False, "source": "systemd"},
        {"name": "systemd-journald", "state": "running", "enabled": None, "source": "systemd"},
    ],
}  # fmt: skip


def test_cgroup_v1_binds_cgroupfs_read_only_in_the_host_namespace() -> None:
    v1 = options_for("1")
    assert v1.cgroupns is None and v1.command is None
    assert dict(v1.tmpfs) == {"/run": "", "/run/lock": ""}
    assert v1.binds == (Bind("/sys/fs/cgroup", "/sys/fs/cgroup", read_only=True),)


def test_cgroup_v2_needs_a_writable_cgroupfs_and_never_privileged() -> None:
    v2 = options_for("2")
    assert v2.cgroupns == "host"
    assert v2.binds == (Bind("/sys/fs/cgroup", "/sys/fs/cgroup", read_only=False),)
    assert not hasattr(v2, "privileged")  # the runtime's options cannot even say it
    with pytest.raises(LabError, match="cgroup version '3'"):
        options_for("3")


def test_plan_makes_a_systemd_spec_with_the_customer_units() -> None:
    spec = plan_lab(FINGERPRINT, Catalog.load(), known=[])
    assert spec.init == "systemd"
    assert spec.units == {"nginx": "enabled", "app": "disabled", "spare": "disabled"}
    assert spec.services == ("app",)  # ran without being enabled: started after boot
    assert spec.packages == {"systemd": "252.31-1~deb12u1", "systemd-sysv": "252.31-1~deb12u1"}
    script = plan_lab({**FINGERPRINT, "init": "sh"}, Catalog.load(), known=[])
    assert script.init == "script" and not script.units


def test_systemd_spec_round_trips_and_changes_the_hash(tmp_path: Path) -> None:
    spec = LabSpec(base="debian:12", init="systemd", units={"nginx": "enabled"})
    path = tmp_path / "lab.yaml"
    path.write_text(dump_spec(spec))
    again = load_spec(path)
    assert (again.init, again.units) == ("systemd", {"nginx": "enabled"})
    plain = LabSpec(base="debian:12")
    assert spec_hash(spec, {}, "id", "r") != spec_hash(plain, {}, "id", "r")
    assert init_digest(spec) != init_digest(plain)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"init": "upstart"}, "init 'upstart': must be one of script, systemd"),
        ({"init": "systemd", "units": {"-x; rm": "enabled"}}, "not a valid unit name"),
        ({"init": "systemd", "units": {"nginx": "masked"}}, "'masked' must be one of"),
        ({"units": {"nginx": "enabled"}}, "only a systemd lab"),
    ],
)
def test_bad_init_and_units_are_refused(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        LabSpec(base="debian:12", **fields)


def test_systemd_dockerfile_boots_systemd_and_enables_units_from_a_file() -> None:
    spec = LabSpec(base="debian:12", init="systemd", units={"nginx": "enabled", "app": "disabled"},
                   services=("app",))  # fmt: skip
    text = render_dockerfile("idx", spec, {}, ("openssh-server",))
    assert "systemd systemd-sysv" in text  # not pinned by the spec: installed
    assert "STOPSIGNAL SIGRTMIN+3\n" in text and text.endswith('CMD ["/lib/systemd/systemd"]\n')
    assert "remotefix.init=systemd" in text and "nginx" not in text  # names travel in files
    context = build_context("idx", spec, {}, {}, ())
    assert context["systemd/units"] == b"app\tdisabled\nnginx\tenabled\n"
    assert context["systemd/start"] == b"app\n"
    pinned = {"systemd": Choice("systemd", "252", "252", "exact")}
    assert "systemd-sysv" in render_dockerfile("idx", spec, pinned, ())
    assert "'systemd' " not in render_dockerfile("idx", spec, pinned, ())


def test_unpinned_packages_are_exact_newer_older_or_missing() -> None:
    customer = {"packages": {"a": "1.0-1", "b": "1.0-1", "c": "2:1.0", "d": "1.0", "p": "9"}}
    lab = {"packages": {"a": "1.0-1", "b": "1.0-2", "c": "1:9.0", "p": "9"}}
    pinned = {"p": Choice("p", "9", "9", "exact")}
    got = {i.name: i.status for i in _unpinned(customer, lab, pinned)}
    assert got == {"a": "exact", "b": "newer", "c": "older", "d": "missing"}


def test_an_unpinned_missing_package_is_no_shortfall_a_pinned_one_is() -> None:
    """``lab up --keep on-failure`` keeps a lab only for what the spec asked for."""
    customer = {"packages": {"extra": "1.0", "p": "9"}}
    unpinned = _unpinned(customer, {"packages": {"p": "9"}}, {"p": Choice("p", "9", "9", "exact")})
    report = FidelityReport(items=unpinned)
    assert report.to_dict()["counts"] == {"missing": 1} and report.shortfalls == 0
    report.items.append(Item("package", "p", "missing", "9", None, "not installed in the lab"))
    assert report.to_dict()["shortfalls"] == 1


def test_relaxed_lines_parse() -> None:
    assert parse_relaxed("redis-server\tPrivateUsers\n\nbad\n") == {
        "redis-server": ["PrivateUsers"]
    }


def test_units_compare_active_and_enabled_state_and_say_what_was_relaxed() -> None:
    def unit(name: str, state: str, enabled: bool | None) -> dict[str, Any]:
        return {"name": name, "state": state, "enabled": enabled, "source": "systemd"}

    customer = {
        "services": [
            unit("redis-server", "running", True),
            unit("nginx", "failed", True),
            unit("app", "running", True),
            unit("gone", "running", True),
            unit("cron", "running", None) | {"source": "sysvinit"},
        ]
    }
    lab = {
        "services": [
            unit("redis-server", "running", True),
            unit("nginx", "failed", True),
            unit("app", "stopped", True),
            unit("remotefix-lab", "exited", True),
        ]
    }
    got = {i.name: i for i in unit_items(customer, lab, {"redis-server": ["PrivateUsers"]}, {})}
    assert got["nginx"].status == "exact" and got["nginx"].lab == "failed, enabled"
    assert got["redis-server"].status == "approximated"
    assert got["redis-server"].note == "sandboxing relaxed in a container (PrivateUsers=no)"
    assert (got["app"].status, got["app"].note) == ("approximated", "state differs")
    assert got["gone"].status == "missing" and got["remotefix-lab"].status == "added"
    assert "cron" not in got  # not a systemd unit on the customer
