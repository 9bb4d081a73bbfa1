#!/bin/sh
# Run once at boot by remotefix-lab.service in a systemd lab (what lab-init.sh does without
# systemd): the lab key for root, units the customer ran without enabling them, sshd for
# `remotefix lab ssh` when the customer's own ssh.service does not run, then the ready mark.
# systemd gives units no container environment; the key is read from PID 1's (root-only).
set -u
state=/run/remotefix-lab
mkdir -p "$state" /root/.ssh
key=$(tr '\0' '\n' </proc/1/environ | sed -n 's/^REMOTEFIX_LAB_KEY=//p')
if [ -n "$key" ]; then
  printf '%s\n' "$key" >/root/.ssh/authorized_keys
  chmod 700 /root/.ssh && chmod 600 /root/.ssh/authorized_keys
fi
hostkey=/etc/ssh/ssh_host_ed25519_key  # the one host key `lab up` reads and pins
[ -x /usr/sbin/sshd ] && [ ! -s "$hostkey" ] && ssh-keygen -q -t ed25519 -N '' -f "$hostkey" >/dev/null 2>&1
while IFS= read -r name; do
  [ -n "$name" ] && systemctl start --no-block -- "$name.service"
done </etc/remotefix-lab/start
if [ -x /usr/sbin/sshd ] && ! systemctl -q is-active ssh.service; then
  mkdir -p /run/sshd
  systemd-run --unit=remotefix-lab-sshd --no-block /usr/sbin/sshd -D \
    -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no
fi
touch "$state/ready"
