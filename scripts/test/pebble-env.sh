#!/usr/bin/env bash
# A throw-away ACME test environment on loopback: Pebble (Let's Encrypt's test CA), pebble-challtestsrv as
# its DNS (every name -> 127.0.0.1) and nginx serving a webroot on the port Pebble validates HTTP-01 against,
# plus an HTTPS listener (same throw-away CA as Pebble's) for stand-in documents such as ARI.
#
#   pebble-env.sh start DIR     start everything under DIR (created); prints and writes DIR/env (sourceable)
#   pebble-env.sh stop DIR      stop what `start` started (by the pids it recorded)
#   pebble-env.sh stop-pebble DIR / start-pebble DIR   stop or restart Pebble alone, same ports
#                               (Pebble forgets accounts and orders and makes a new root when it restarts)
#
# Fixed ports and webroot, for a demo with a tracked answers file: PEBBLE_ENV_PORTS="PEBBLE MGMT TLS DNS
# CHALL_MGMT HTTP ARI" and PEBBLE_ENV_WEBROOT=DIR (default DIR/webroot). PEBBLE_ENV_WEBROOT_SERVER=0 leaves the
# HTTP port to another server (the stack's own nginx). DIR/bundle.pem holds the CA of Pebble's HTTPS listener
# and Pebble's current root, which signs what it issues: the one file to trust for both (answers
# `tls.acme_ca_bundle`); it is written again when Pebble restarts with a new root.
# Pebble's behaviour comes from the caller's environment: PEBBLE_VA_NOSLEEP (default 1 here),
# PEBBLE_WFE_NONCEREJECT (default 0 here), PEBBLE_AUTHZREUSE, PEBBLE_VA_ALWAYS_VALID; PEBBLE_STRICT=1 adds
# -strict; PEBBLE_EAB_KID + PEBBLE_EAB_KEY require External Account Binding with that key.
# Needs: pebble, nginx, openssl, curl, python3 (for free ports) — Debian: pebble nginx openssl curl python3.
set -euo pipefail

die() { echo "pebble-env: $*" >&2; exit 1; }
# shellcheck source=scripts/test/env-lib.sh
. "$(dirname "$0")/env-lib.sh"
[ $# -eq 2 ] || die "usage: $0 start|stop|stop-pebble|start-pebble DIR"
cmd=$1
dir=$2

free_ports() {
  # Bind all at once so the kernel hands out distinct ports; they are released just before use, which is
  # racy in theory but ephemeral ports are handed out in sequence, so parallel environments do not collide.
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

wait_for() { # what, command...
  local what=$1; shift
  for _ in $(seq 1 200); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  die "$what did not come up (see $dir/*.log)"
}

start_pebble() {
  # shellcheck disable=SC1091
  . "$dir/env"
  local strict=()
  [ "${PEBBLE_STRICT:-0}" = 1 ] && strict=(-strict)
  (
    cd "$dir"
    PEBBLE_VA_NOSLEEP=${PEBBLE_VA_NOSLEEP:-1} PEBBLE_WFE_NONCEREJECT=${PEBBLE_WFE_NONCEREJECT:-0} \
      exec pebble -config "$dir/pebble.json" -dnsserver "127.0.0.1:$DNS_PORT" "${strict[@]}" \
      </dev/null >>"$dir/pebble.log" 2>&1
  ) &
  echo $! >"$dir/pebble.pid"
  wait_for pebble curl -fsS --cacert "$dir/ca.pem" "https://127.0.0.1:$PEBBLE_PORT/dir"
  wait_for "pebble management" curl -fsS --cacert "$dir/ca.pem" "https://127.0.0.1:$PEBBLE_MGMT_PORT/roots/0"
  { cat "$dir/ca.pem"; curl -fsS --cacert "$dir/ca.pem" "https://127.0.0.1:$PEBBLE_MGMT_PORT/roots/0"; } >"$dir/bundle.pem.new"
  mv "$dir/bundle.pem.new" "$dir/bundle.pem"
}


case "$cmd" in
start)
  for tool in pebble pebble-challtestsrv nginx openssl curl python3; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || die "$tool is missing (apt-get install -y pebble nginx openssl curl python3)"
  done
  webroot=${PEBBLE_ENV_WEBROOT:-$dir/webroot}
  mkdir -p "$webroot/.well-known/acme-challenge" "$dir/ari" "$dir/nginx-tmp"
  dir=$(cd "$dir" && pwd)
  webroot=$(cd "$webroot" && pwd)
  # nginx workers run as nobody: the webroot and every folder above it must be traversable.
  chmod 755 "$dir" "$webroot" "$webroot/.well-known" "$webroot/.well-known/acme-challenge" "$dir/ari"

  # A throw-away CA and a leaf for localhost/127.0.0.1: Pebble's HTTPS listener and the stand-in listener. pebble.test
  # is a name that resolves only through scripts/test/counting-proxy.py: a request that reaches Pebble by it went
  # through the proxy.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=sbs test listener CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$dir/listener.key" -out "$dir/listener.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,DNS:pebble.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$dir/listener.ext"
  openssl x509 -req -in "$dir/listener.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
    -extfile "$dir/listener.ext" -out "$dir/listener.pem" 2>/dev/null

  read -r PEBBLE_PORT PEBBLE_MGMT_PORT TLS_PORT DNS_PORT CHALL_MGMT_PORT HTTP_PORT ARI_PORT <<<"${PEBBLE_ENV_PORTS:-$(free_ports 7)}"
  cat >"$dir/env" <<ENV
PEBBLE_ENV_DIR=$dir
PEBBLE_PORT=$PEBBLE_PORT
PEBBLE_MGMT_PORT=$PEBBLE_MGMT_PORT
DNS_PORT=$DNS_PORT
CHALL_MGMT_PORT=$CHALL_MGMT_PORT
HTTP_PORT=$HTTP_PORT
ARI_PORT=$ARI_PORT
PEBBLE_DIRECTORY=https://127.0.0.1:$PEBBLE_PORT/dir
PEBBLE_ROOTS=https://127.0.0.1:$PEBBLE_MGMT_PORT/roots/0
PEBBLE_CA_BUNDLE=$dir/ca.pem
PEBBLE_TRUST_BUNDLE=$dir/bundle.pem
WEBROOT=$webroot
ARI_DIR=$dir/ari
ARI_BASE=https://localhost:$ARI_PORT
ENV

  eab=""
  if [ -n "${PEBBLE_EAB_KID:-}" ]; then
    eab=", \"externalAccountMACKeys\": {\"$PEBBLE_EAB_KID\": \"$PEBBLE_EAB_KEY\"}"
  fi
  cat >"$dir/pebble.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$PEBBLE_PORT", "managementListenAddress": "127.0.0.1:$PEBBLE_MGMT_PORT",
  "certificate": "$dir/listener.pem", "privateKey": "$dir/listener.key",
  "httpPort": $HTTP_PORT, "tlsPort": $TLS_PORT, "ocspResponderURL": "",
  "externalAccountBindingRequired": $([ -n "$eab" ] && echo true || echo false)$eab}}
JSON

  webroot_server=""
  [ "${PEBBLE_ENV_WEBROOT_SERVER:-1}" = 0 ] \
    || webroot_server="  server { listen 127.0.0.1:$HTTP_PORT; server_name _; root $webroot; }"
  start_nginx "$dir" "$webroot_server
  # Stand-in for what Debian's Pebble lacks (ARI, meta.profiles): static JSON documents over HTTPS.
  server {
    listen 127.0.0.1:$ARI_PORT ssl;
    server_name _;
    ssl_certificate $dir/listener.pem;
    ssl_certificate_key $dir/listener.key;
    root $dir/ari;
    default_type application/json;
    add_header Retry-After 21600 always;
  }" || die "nginx did not start"

  (
    exec pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:$DNS_PORT" \
      -http01 "" -https01 "" -tlsalpn01 "" -management "127.0.0.1:$CHALL_MGMT_PORT" \
      </dev/null >>"$dir/challtestsrv.log" 2>&1
  ) &
  echo $! >"$dir/challtestsrv.pid"
  wait_for challtestsrv curl -sS -o /dev/null "http://127.0.0.1:$CHALL_MGMT_PORT/"
  start_pebble
  cat "$dir/env"
  ;;
stop)
  [ -d "$dir" ] || exit 0
  stop_pid "$dir/pebble.pid"
  stop_pid "$dir/challtestsrv.pid"
  stop_pid "$dir/nginx.pid"
  ;;
stop-pebble)
  stop_pid "$dir/pebble.pid"
  ;;
start-pebble)
  start_pebble
  ;;
*) die "unknown command $cmd" ;;
esac
