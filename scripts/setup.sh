#!/usr/bin/env bash
# Idempotent setup for a fresh Debian machine (run as root): system packages, a Docker daemon,
# the Python venv with remotefix, and the offline base images. Safe to run again: each step
# checks first and does nothing when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

need_pkgs=()
command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ] || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || need_pkgs+=(debootstrap)
[ -x /usr/sbin/sshd ] || need_pkgs+=(openssh-server)
command -v ssh >/dev/null || need_pkgs+=(openssh-client)
command -v ip >/dev/null || need_pkgs+=(iproute2)
command -v sudo >/dev/null || need_pkgs+=(sudo)
command -v chromium >/dev/null || need_pkgs+=(chromium)  # page tests (reports) render in it
command -v docker-registry >/dev/null || need_pkgs+=(docker-registry)  # swarm tests' registry
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
# Debian's openssh-server starts sshd on port 22 when installed; remotefix never needs that one.
mkdir -p /run/sshd
# Debian's docker-registry starts one on :5000 (every interface) under systemd; the swarm tests
# start their own on 127.0.0.1, so the packaged service stays off.
if [[ " ${need_pkgs[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi

if ! timeout 10 docker info >/dev/null 2>&1; then
  say "starting dockerd (log: /var/log/remotefix-dockerd.log)"
  nohup /usr/sbin/dockerd >/var/log/remotefix-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    timeout 5 docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! timeout 10 docker info >/dev/null 2>&1; then
    echo "error: dockerd did not answer within 60 s; see /var/log/remotefix-dockerd.log" >&2
    tail -n 20 /var/log/remotefix-dockerd.log >&2 || true
    exit 1
  fi
fi

stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  say "creating .venv and installing remotefix with test extras"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
  rm -f .venv/.installed-* && touch "$stamp"
fi

say "base images (built once with debootstrap, then cached)"
.venv/bin/remotefix images build debian:11 debian:12 debian:13
