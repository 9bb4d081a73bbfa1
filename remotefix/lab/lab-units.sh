#!/bin/sh
# Image build step of a systemd lab: enable or disable each unit as on the customer
# (/etc/remotefix-lab/units: NAME<TAB>enabled|disabled), and relax exactly the sandboxing an
# unprivileged container cannot give. Measured in Docker's default profile: PrivateUsers=yes
# exits 217/USER (no user namespace), so a drop-in sets PrivateUsers=no; DynamicUser=yes exits
# 226/NAMESPACE and cannot be relaxed without changing the user, so it is only reported.
# Every other directive of redis-server's unit (PrivateTmp, ProtectSystem, ...) works there.
set -eu
dir=/etc/remotefix-lab
: >"$dir/relaxed"; : >"$dir/unworkable"; : >"$dir/absent"
systemctl enable remotefix-lab.service >/dev/null 2>&1
setting() {  # the last value of directive $2 in unit file $1 and its drop-ins
  for f in "$1" /lib/systemd/system/"$3".d/*.conf /etc/systemd/system/"$3".d/*.conf; do
    [ -f "$f" ] && cat -- "$f"
  done | sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*//p" | tail -n 1
}
tab=$(printf '\t')
while IFS="$tab" read -r name want; do
  unit="$name.service"
  file=""
  for f in /etc/systemd/system/"$unit" /lib/systemd/system/"$unit" \
           /lib/systemd/system/"${name%%@*}@.service"; do
    if [ -f "$f" ]; then file=$f; break; fi
  done
  if [ -z "$file" ]; then printf '%s\n' "$name" >>"$dir/absent"; continue; fi
  if [ "$want" = enabled ]; then
    systemctl enable -- "$unit" >/dev/null 2>&1 || printf '%s\n' "$name" >>"$dir/absent"
  else
    systemctl disable -- "$unit" >/dev/null 2>&1 || true
  fi
  case "$(setting "$file" PrivateUsers "$unit")" in
    yes|true|on|1)
      mkdir -p /etc/systemd/system/"$unit".d
      printf '[Service]\nPrivateUsers=no\n' >/etc/systemd/system/"$unit".d/zz-remotefix-lab.conf
      printf '%s\tPrivateUsers\n' "$name" >>"$dir/relaxed" ;;
  esac
  case "$(setting "$file" DynamicUser "$unit")" in
    yes|true|on|1) printf '%s\tDynamicUser\n' "$name" >>"$dir/unworkable" ;;
  esac
done <"$dir/units"
