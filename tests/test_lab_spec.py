"""Lab specs, version choice and planning (pure logic), and one real build proving setup steps
run as scripts and can never become Dockerfile instructions."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from remotefix.dockerapi import labels
from remotefix.errors import ConfigError, LabError
from remotefix.lab.build import build_lab_image
from remotefix.lab.catalog import Catalog
from remotefix.lab.dockerfile import build_context
from remotefix.lab.plan import included_files, plan_lab
from remotefix.lab.runtime_local import LocalRuntime
from remotefix.lab.spec import LabSpec, dump_spec, load_spec, parse_spec, spec_hash
from remotefix.lab.versions import choose, parse_madison

MADISON = """\
     nginx | 1.22.1-9+deb12u11 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
     nginx | 1.22.1-9+deb12u9 | http://deb.debian.org/debian bookworm/main amd64 Packages
openssh-server | 1:9.2p1-2+deb12u7 | http://deb.debian.org/debian bookworm-updates/main amd64 Packages
openssh-server | 1:9.2p1-2+deb12u10 | http://deb.debian.org/debian bookworm/main amd64 Packages
openssh-server | 1:9.2p1-2+deb12u10 | http://deb.debian.org/debian bookworm-security/main amd64 Packages
"""


def test_madison_is_parsed_newest_first_by_debian_order() -> None:
    found = parse_madison(MADISON)
    # string order would put deb12u7 first; dpkg order knows u10 > u7
    assert found["openssh-server"] == ["1:9.2p1-2+deb12u10", "1:9.2p1-2+deb12u7"]
    assert found["nginx"] == ["1.22.1-9+deb12u11", "1.22.1-9+deb12u9"]


@pytest.mark.parametrize(
    ("wanted", "available", "version", "status"),
    [
        (
            "1.22.1-9+deb12u9",
            ["1.22.1-9+deb12u11", "1.22.1-9+deb12u9"],
            "1.22.1-9+deb12u9",
            "exact",
        ),
        ("*", ["2.0-1", "1.0-1"], "2.0-1", "exact"),
        # same upstream preferred over a closer-looking other upstream
        (
            "1.22.1-9+deb12u10",
            ["1.24.0-1", "1.22.1-9+deb12u11", "1.22.1-9+deb12u9"],
            "1.22.1-9+deb12u9",
            "approximated",
        ),
        ("1.22.1-9", ["1.22.1-9+deb12u11", "1.22.1-9+deb12u9"], "1.22.1-9+deb12u9", "approximated"),
        # other upstream: newest below, else oldest above
        ("1.20.0-1", ["1.24.0-1", "1.18.0-6", "1.19.0-1"], "1.19.0-1", "approximated"),
        ("1.10-1", ["1.9-1", "1.24.0-1", "1.11-1"], "1.9-1", "approximated"),
        ("0.5-1", ["1.9-1", "1.24.0-1"], "1.9-1", "approximated"),
        ("1.0-1", [], None, "missing"),
    ],
)
def test_choose(wanted: str, available: list[str], version: str | None, status: str) -> None:
    choice = choose("pkg", wanted, available)
    assert (choice.version, choice.status) == (version, status)
    if status == "approximated":
        assert wanted in choice.note


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("base: debian:12\ncolour: red\n", "unknown key(s) colour"),
        ('base: debian:12\npackages: {"curl\\nRUN touch /x": "*"}\n', "not a Debian package name"),
        ('base: debian:12\npackages: {curl: "7.88\\n"}\n', "is not a Debian version"),
        ('base: debian:12\nservices: ["nginx\\n"]\n', "is not a valid name"),
        ('base: "debian:12\\nRUN id"\n', "base must be"),
        ('base: debian:12\nfiles: {"/etc/x\\n": "inline:a"}\n', "must be an absolute path"),
        ("base: debian:12\nsetup: ['  ']\n", "is not a script"),
        ("packages: {}\n", "base must be"),
        ("base: debian:12\npackages: {nginx: 'latest'}\n", "packages.nginx: version 'latest'"),
        ("base: debian:12\npackages: {'Bad Name': '*'}\n", "not a Debian package name"),
        (
            "base: debian:12\nfiles: {etc/x: 'inline:a'}\n",
            "files.etc/x: the destination must be an absolute",
        ),
        ("base: debian:12\nfiles: {/etc/x: '/tmp/y'}\n", "source must be bundle:"),
        ("base: debian:12\nservices: nginx\n", "services must be a list"),
        ("base: debian:12\nservices: ['ngi nx']\n", "is not a valid name"),
        ("- a\n", "a lab spec is a mapping"),
        ("base: [\n", "malformed YAML"),
    ],
)
def test_bad_specs_name_file_key_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_spec(path)
    assert problem in str(caught.value) and str(path) in str(caught.value)


def test_spec_round_trips_and_hash_tracks_what_shapes_the_image(tmp_path: Path) -> None:
    raw = {"base": {"distro": "debian", "version": "12"}, "packages": {"nginx": "1.22.1-9"},
           "files": {"/etc/motd": "inline:hi"}, "services": ["nginx"], "setup": ["true"]}  # fmt: skip
    spec = parse_spec(raw, where="t", folder=tmp_path)
    again = parse_spec(__import__("yaml").safe_load(dump_spec(spec)), where="t", folder=tmp_path)
    assert again == spec
    h = spec_hash(spec, {"/etc/motd": b"hi"}, "sha256:base", "r1")
    assert h == spec_hash(again, {"/etc/motd": b"hi"}, "sha256:base", "r1")
    assert h != spec_hash(spec, {"/etc/motd": b"changed"}, "sha256:base", "r1")
    assert h != spec_hash(spec, {"/etc/motd": b"hi"}, "sha256:other-base", "r1")


FINGERPRINT = {
    "os": {"family": "linux", "id": "debian", "version_id": "12", "major": "12", "version": "12.9"},
    "packages": {"nginx": "1.22.1-9", "nginx-common": "1.22.1-9", "openssh-server": "1:9.2p1-2",
                 "curl": "7.88.1-10", "libc6": "2.36-9"},
    "services": [{"name": "nginx", "state": "running", "enabled": True, "source": "systemd"},
                 {"name": "ssh", "state": "stopped", "enabled": True, "source": "systemd"}],
}  # fmt: skip


def test_plan_keeps_every_installed_service_and_starts_only_the_running_ones() -> None:
    members = ["files/etc/nginx/nginx.conf", "files/etc/ssh/sshd_config", "files/etc/hosts",
               "commands/os/uname-r.out"]  # fmt: skip
    spec = plan_lab(FINGERPRINT, Catalog.load(), bundle=Path("/b.tar.gz"), bundle_members=members,
                    packages=["curl"])  # fmt: skip
    assert spec.base == "debian:12"
    assert spec.packages == {"nginx": "1.22.1-9", "nginx-common": "1.22.1-9", "curl": "7.88.1-10",
                             "openssh-server": "1:9.2p1-2"}  # fmt: skip
    assert spec.files == {"/etc/nginx/nginx.conf": "bundle:files/etc/nginx/nginx.conf",
                          "/etc/ssh/sshd_config": "bundle:files/etc/ssh/sshd_config"}  # fmt: skip
    assert spec.services == ("nginx",)  # ssh is stopped on the customer: stopped in the lab


def test_plan_starts_a_failed_service_so_it_fails_in_the_lab_too() -> None:
    failed = {
        **FINGERPRINT,
        "services": [
            {"name": "postgresql@15-main", "state": "failed", "enabled": None, "source": "systemd"},
            {"name": "postgresql", "state": "exited", "enabled": True, "source": "systemd"},
        ],
    }
    failed["packages"] = {**FINGERPRINT["packages"], "postgresql-15": "15.8-0+deb12u1"}
    members = ["files/etc/postgresql/15/main/pg_hba.conf"]
    spec = plan_lab(failed, Catalog.load(), bundle=Path("/b.tar.gz"), bundle_members=members)
    assert spec.packages == {"postgresql-15": "15.8-0+deb12u1"}
    assert spec.files == {"/etc/postgresql/15/main/pg_hba.conf":
                          "bundle:files/etc/postgresql/15/main/pg_hba.conf"}  # fmt: skip
    assert spec.services == ("postgresql",)


def test_plan_all_packages_and_unknown_package() -> None:
    spec = plan_lab(FINGERPRINT, Catalog.load(), all_packages=True)
    assert spec.packages == FINGERPRINT["packages"]
    with pytest.raises(ConfigError, match="not installed on the customer's machine: nosuch"):
        plan_lab(FINGERPRINT, Catalog.load(), packages=["nosuch"])


def test_plan_refuses_unknown_release_and_windows() -> None:
    old = {**FINGERPRINT, "os": {"id": "debian", "major": "9", "version_id": "9"}}
    with pytest.raises(ConfigError, match="unknown base image 'debian:9'"):
        plan_lab(old, Catalog.load())
    windows = {"os": {"family": "windows", "id": "windows", "version": "10.0.20348"}}
    with pytest.raises(LabError, match="not reproducible on a Linux Docker host"):
        plan_lab(windows, Catalog.load())


@pytest.mark.parametrize(
    "packages",
    [{"curl\nRUN touch /pwned": "*"}, {"curl": "7.88.1-10\nRUN touch /pwned"}],
)
def test_specs_made_in_code_are_validated_too(packages: dict[str, str]) -> None:
    """A plan from a customer's bundle builds LabSpec directly: the same checks apply."""
    with pytest.raises(ConfigError, match="lab spec: packages"):
        LabSpec(base="debian:12", packages=packages)


MULTI_LINE = """\
base: debian:12
setup:
  - |
    set -u
    for n in 1 2 3; do
      echo "line $n"
    done > /etc/rfx-multi
  - |
    echo "$0" > /etc/rfx-injection
    ENV INJECTED=yes || echo "not an instruction" >> /etc/rfx-injection
"""


@pytest.mark.docker
def test_setup_steps_run_as_scripts_and_inject_no_instruction(
    tmp_path: Path, docker_api: docker.DockerClient, catalog: Catalog
) -> None:
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(MULTI_LINE)
    spec = load_spec(spec_file)
    context = build_context("remotefix/lab-index:x", spec, {}, {}, ())
    assert b"INJECTED" not in context["Dockerfile"] and b"for n in" not in context["Dockerfile"]
    image = build_lab_image(LocalRuntime(client=docker_api), spec, {}, catalog)

    def cat(path: str) -> str:
        out = docker_api.containers.run(
            image.tag, ["cat", path], remove=True, labels=labels(), entrypoint=[]
        )
        return bytes(out).decode()

    assert cat("/etc/rfx-multi") == "line 1\nline 2\nline 3\n"
    assert cat("/etc/rfx-injection") == "/tmp/remotefix-setup/02.sh\nnot an instruction\n"
    config = docker_api.images.get(image.tag).attrs["Config"]
    assert not any(e.startswith("INJECTED") for e in config["Env"])
    history = " ".join(str(h.get("CreatedBy")) for h in docker_api.images.get(image.tag).history())
    assert "INJECTED" not in history
    leftover = docker_api.containers.run(
        image.tag, ["ls", "/tmp"], remove=True, labels=labels(), entrypoint=[]
    )
    assert b"remotefix-setup" not in bytes(leftover)


@pytest.mark.docker
def test_a_failing_line_inside_a_step_fails_the_build_naming_the_step(
    tmp_path: Path, docker_api: docker.DockerClient, catalog: Catalog
) -> None:
    spec = LabSpec(base="debian:12", setup=("true", "echo first\nfalse\necho never"))
    with pytest.raises(LabError, match=r"\(setup step 2: echo first\).*code: 1") as info:
        build_lab_image(LocalRuntime(client=docker_api), spec, {}, catalog)
    assert "never" not in str(info.value).split("code: 1", 1)[1]


def test_included_files_go_into_the_lab_except_what_the_lab_keeps_its_own() -> None:
    """``--include``d files are the customer's state (copied); not the lab's users, name or
    network files, and nothing the customer did not give whole."""

    def item(path: str, status: str = "ok") -> dict[str, object]:
        member = "files" + path
        return {"kind": "file", "name": path, "status": status, "members": [member]}

    manifest = {"collectors": [
        {"name": "include", "items": [item("/etc/myapp/app.yml"), item("/etc/passwd"),
                                      item("/etc/ssh/ssh_host_ed25519_key"),
                                      item("/var/log/myapp.log", "denied")]},
        {"name": "ssh-config", "items": [item("/etc/ssh/sshd_config")]},
    ]}  # fmt: skip
    not_given = {"files/var/log/myapp.log": "denied on the customer (no sudo consent)"}
    files, withheld = included_files(manifest, not_given)
    assert files == {"/etc/myapp/app.yml": "bundle:files/etc/myapp/app.yml"}
    assert withheld["/var/log/myapp.log"].startswith("denied on the customer")
    assert "keeps its own" in withheld["/etc/passwd"]
    assert "keeps its own" in withheld["/etc/ssh/ssh_host_ed25519_key"]
