#!/bin/sh
# remotefix collection script v@VERSION@ (@COUNT@ collectors: @NAMES@)
# It only reads: it changes nothing on this machine. Run it as a user that may read what is
# collected and send its output to your support contact; remotefix redacts secrets on import.
umask 077
RFX_T=$(mktemp -d 2>/dev/null) || { RFX_T=/tmp/rfx.$$; mkdir -m 700 "$RFX_T" || exit 70; }
trap 'rm -rf "$RFX_T"' EXIT INT TERM
if command -v timeout >/dev/null 2>&1; then RFX_TO=1; else RFX_TO=; fi
printf '@@RFXSCRIPT@@ @VERSION@ @PROFILE@ @NAMES_CSV@ %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# rfx_now: sets RFX_NOW to a clock in ns (/proc/uptime, read without a process; else date)
if [ -r /proc/uptime ]; then
  rfx_now() {
    read -r RFX_NOW _ < /proc/uptime
    RFX_NOW=$(( ${RFX_NOW%.*} * 1000000000 + 1${RFX_NOW#*.} * 10000000 - 1000000000 ))
  }
else
  rfx_now() {
    RFX_NOW=$(date +%s%N 2>/dev/null)
    case $RFX_NOW in *N*|'') RFX_NOW=$(( $(date +%s) * 1000000000 )) ;; esac
  }
fi
if printf x | base64 -w 0 >/dev/null 2>&1; then
  rfx_b64() { base64 -w 0; }
else
  rfx_b64() { base64 | tr -d '\n'; }
fi

# rfx_go TIMEOUT ROOT COMMAND [ARG]: run COMMAND with sh ($1 = ARG), bounded, as root if ROOT=1
# and root is allowed (RFX_SUDO: through sudo -n, which never prompts; directly when this already
# runs as root); without that allowance a root item runs as this user and may be denied
RFX_UID=$(id -u 2>/dev/null)
[ "$RFX_UID" = 0 ] && RFX_IS_ROOT=1 || RFX_IS_ROOT=
printf '@@RFXUID@@ %s\n' "$RFX_UID"
RFX_SUDO=@SUDO@
rfx_go() {
  if [ "$2" = 1 ] && [ -z "$RFX_IS_ROOT" ] && [ "$RFX_SUDO" = 1 ]; then
    sudo -n sh -c 'if command -v timeout >/dev/null 2>&1; then exec timeout -k 2 "$0" sh -c "$1" rfx "$2"; else exec sh -c "$1" rfx "$2"; fi' "$1" "$3" "${4-}"
  elif [ -n "$RFX_TO" ]; then
    timeout -k 2 "$1" sh -c "$3" rfx "${4-}"
  else
    sh -c "$3" rfx "${4-}"
  fi
}

# rfx_emit KIND ID EXIT START_NS CAP [BASE64_ID]: one framed record from $RFX_T/o and $RFX_T/e
# (each process forked here costs milliseconds on a busy target: empty streams fork none, an
# uncut one no head, and an ID encoded when the script was written no base64)
rfx_emit() {
  rfx_now; e=$RFX_NOW
  rfx_size o; so=$RFX_N; rfx_size e; se=$RFX_N
  b=${6-}; [ -n "$b" ] || b=$(printf '%s' "$2" | rfx_b64)
  printf '@@RFX@@ %s %s %s %s %s %s\n' "$1" "$3" "$(( (e - $4) / 1000000 ))" $so $se "$b"
  rfx_part o $so "$5"; rfx_part e $se "$5"
}

# rfx_size o|e: RFX_N = that stream's size in bytes
rfx_size() {
  if [ -s "$RFX_T/$1" ]; then RFX_N=$(wc -c < "$RFX_T/$1"); else RFX_N=0; fi
}

# rfx_part o|e SIZE CAP: the stream's first CAP bytes in base64, on one line
rfx_part() {
  if [ "$2" -eq 0 ]; then :
  elif [ "$2" -le "$3" ]; then rfx_b64 < "$RFX_T/$1"
  else head -c "$3" "$RFX_T/$1" | rfx_b64
  fi
  echo
}

# rfx_run ID TIMEOUT CAP ROOT COMMAND BASE64_ID
rfx_run() {
  rfx_now; s=$RFX_NOW
  rfx_go "$2" "$4" "$5" >"$RFX_T/o" 2>"$RFX_T/e" </dev/null
  rfx_emit cmd "$1" $? "$s" "$3" "$6"
}

# rfx_one COLLECTOR PATH TIMEOUT CAP ROOT: one file's content
rfx_one() {
  rfx_now; s=$RFX_NOW
  rfx_go "$3" "$5" 'cat -- "$1"' "$2" >"$RFX_T/o" 2>"$RFX_T/e" </dev/null
  rfx_emit file "$1:$2" $? "$s" "$4"
}

# rfx_file COLLECTOR GLOB TIMEOUT CAP ROOT: every regular file the glob matches (expanded as
# root when root is allowed, so a glob inside a private folder matches there too)
rfx_file() {
  n=0
  rfx_go "$3" "$5" 'for f in $1; do [ -f "$f" ] && printf "%s\n" "$f"; done; true' "$2" \
    >"$RFX_T/g" 2>/dev/null </dev/null
  while IFS= read -r f; do
    n=$((n + 1))
    [ "$n" -le @MAX_FILES@ ] || break
    rfx_one "$1" "$f" "$3" "$4" "$5"
  done <"$RFX_T/g"
  if [ "$n" -eq 0 ]; then
    : >"$RFX_T/o"; : >"$RFX_T/e"; rfx_now; rfx_emit missing "$1:$2" 0 "$RFX_NOW" 0
  fi
}

# rfx_tree COLLECTOR GLOB TIMEOUT CAP ROOT: like rfx_file, and a folder brings its files two
# levels deep; the glob is expanded and folders are listed as root when root is allowed, so
# /etc/myapp/*.yml inside a private /etc/myapp is found too
rfx_tree() {
  n=0
  rfx_go "$3" "$5" 'for d in $1; do [ -e "$d" ] && printf "%s\n" "$d"; done; true' "$2" \
    >"$RFX_T/g" 2>/dev/null </dev/null
  while IFS= read -r d; do
    rfx_now; s=$RFX_NOW
    rfx_go "$3" "$5" 'find -H "$1" -maxdepth 2 -type f' "$d" >"$RFX_T/l" 2>"$RFX_T/e" </dev/null
    rc=$?
    if [ "$rc" -ne 0 ] && [ ! -s "$RFX_T/l" ]; then  # a folder we may not list: say so
      : >"$RFX_T/o"; n=$((n + 1)); rfx_emit file "$1:$d" "$rc" "$s" 4096; continue
    fi
    while IFS= read -r f; do
      n=$((n + 1))
      [ "$n" -le @MAX_FILES@ ] || break 2
      rfx_one "$1" "$f" "$3" "$4" "$5"
    done <"$RFX_T/l"
  done <"$RFX_T/g"
  if [ "$n" -eq 0 ]; then
    : >"$RFX_T/o"; : >"$RFX_T/e"; rfx_now; rfx_emit missing "$1:$2" 0 "$RFX_NOW" 0
  fi
}

rfx_skip() { : >"$RFX_T/o"; : >"$RFX_T/e"; rfx_now; rfx_emit skip "$1" 0 "$RFX_NOW" 0; }

