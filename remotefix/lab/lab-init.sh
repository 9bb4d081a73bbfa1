#!/bin/sh
# PID 1 of a remotefix lab. There is no systemd in a lab container, so the spec's services are
# started with their own init scripts (/etc/init.d/NAME), and sshd for `remotefix lab ssh`.
# What happened is written to /run/remotefix-lab/services (read by the fidelity report); the
# ready line on stdout (after the ready file; with the host key) is what `lab up` waits for.
set -u
state=/run/remotefix-lab
mkdir -p "$state" /run/sshd /root/.ssh
if [ -n "${REMOTEFIX_LAB_KEY:-}" ]; then
  printf '%s\n' "$REMOTEFIX_LAB_KEY" > /root/.ssh/authorized_keys
  chmod 700 /root/.ssh && chmod 600 /root/.ssh/authorized_keys
fi
# one Ed25519 host key (the only one `lab up` reads and pins; RSA+ECDSA cost seconds under load)
hostkey=/etc/ssh/ssh_host_ed25519_key
[ -x /usr/sbin/sshd ] && [ ! -s "$hostkey" ] && ssh-keygen -q -t ed25519 -N '' -f "$hostkey" >/dev/null 2>&1
: >"$state/services"
for name in ${REMOTEFIX_LAB_SERVICES:-}; do
  if [ -x "/etc/init.d/$name" ]; then
    if "/etc/init.d/$name" start >"$state/$name.log" 2>&1; then
      printf '%s\tstarted\tinit script\n' "$name" >>"$state/services"
    else
      printf '%s\tfailed\t%s\n' "$name" "$(tail -n 1 "$state/$name.log" | tr '\t' ' ')" >>"$state/services"
    fi
  else
    printf '%s\tmissing\tno init script /etc/init.d/%s\n' "$name" "$name" >>"$state/services"
  fi
done
# sshd for `lab ssh` and Ansible, unless the spec's own ssh service (customer config) runs it
if [ -x /usr/sbin/sshd ] && ! pidof sshd >/dev/null 2>&1; then
  /usr/sbin/sshd -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no \
    >"$state/sshd.log" 2>&1 || echo "sshd failed to start" >>"$state/sshd.log"
fi
touch "$state/ready"
echo "remotefix-lab: ready $(cat "$hostkey.pub" 2>/dev/null)"
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
